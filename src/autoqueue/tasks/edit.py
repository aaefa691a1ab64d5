"""Editing a task: its title and its schedule, validated exactly as ``add`` validates them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from autoqueue.errors import UsageError
from autoqueue.i18n import _
from autoqueue.kinds import SOURCES_RECORD, LogLevel, MediaMode, Privacy, RepeatType, Source
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.tasks import channels
from autoqueue.tasks.add import AddRequest, PreparedTask, prepare_add
from autoqueue.tasks.views import ScheduleView, get_task, schedule_view
from autoqueue.timeutil import display_time, to_db
from autoqueue.workspace import Workspace


@dataclass(frozen=True)
class EditRequest:
    """``autoqueue edit``'s options: None leaves a field as it is."""

    title: str | None = None
    at: str | None = None
    repeat: str | None = None
    tz: str | None = None
    privacy: str | None = None
    channel: str | None = None
    publish_at: str | None = None


def edit_task(
    workspace: Workspace, conn: Connection, text: str, edit: EditRequest, now: datetime
) -> tuple[ScheduleView, list[str]]:
    """Change a task's title and its schedule (time, repeat, zone, privacy, channel, publish
    time), validated exactly as ``add`` validates them: the task as it is, with the changes laid
    over it, goes through :func:`prepare_add`. The next run is computed again only when the
    time, repeat or zone changed; an inactive (paused) schedule stays inactive. Returns the
    schedule as ``tasks`` shows it, and add's warnings."""
    task = get_task(conn, text)
    schedules = schedules_repo.for_task(conn, task.id)
    if len(schedules) != 1:
        raise UsageError(
            _("task {id} has {count} schedules; edit handles one").format(
                id=task.id, count=len(schedules)
            )
        )
    [schedule] = schedules
    current = Recurrence.of(schedule)
    tz_name = edit.tz or current.tz_name
    publish = edit.publish_at
    if publish is None and schedule.youtube_publish_time:
        publish = display_time(schedule.youtube_publish_time, tz_name)
    retimed = edit.at is not None or edit.repeat is not None or edit.tz is not None
    if edit.at is not None:
        at = edit.at
    elif schedule.scheduled_time is not None or current.repeat is not RepeatType.ONCE:
        at = current.anchor.strftime("%Y-%m-%d %H:%M")  # the wall clock, kept in a new zone
    else:
        at = None
    sources = task.settings.get(SOURCES_RECORD)
    sources = dict(sources) if isinstance(sources, dict) else {}
    # `--channel` naming a channel profile takes it again (what the task took from its old
    # profile goes, its own settings stay); otherwise the task's settings stay as they are.
    retake = channels.profile_for(workspace.config, edit.channel) is not None
    privacy = edit.privacy
    if privacy is None and not (retake and sources.get("privacy") != Source.OPTION):
        privacy = schedule.youtube_privacy or Privacy.PUBLIC.value
    own = channels.own_settings(task.settings) if retake else {}
    prepared = prepare_add(
        workspace,
        AddRequest(
            title=edit.title if edit.title is not None else task.title,
            type=task.type.value,
            media_mode=str(task.settings.get("mediaMode", MediaMode.CRAWL.value)),
            at=at,
            repeat=edit.repeat or current.repeat.value,
            tz=tz_name,
            privacy=privacy,
            publish_at=publish,
            channel=edit.channel if edit.channel is not None else schedule.channel_setting_id,
            settings=[
                f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in own.items()
            ],
        ),
        now,
        check_publish=edit.publish_at is not None,  # a stored one may have passed by now
        use_profiles=retake,
    )
    if retake:
        settings = prepared.settings
        if edit.tz is None:  # the schedule keeps its zone, and where that came from
            settings[SOURCES_RECORD]["tz"] = sources.get("tz", Source.OPTION.value)
    else:
        edited = _edited_sources(sources, edit, prepared)
        settings = task.settings if edited == sources else {**task.settings, SOURCES_RECORD: edited}
    warnings = [
        w
        for w in prepared.warnings
        if not w.startswith("upload mode without --image")
        and (retimed or "is in the past" not in w)
    ]
    stamp = to_db(now)
    next_run = prepared.next_run_at if retimed else schedule.next_run_at
    with transaction(conn):
        tasks_repo.set_title(conn, task.id, prepared.title, stamp)
        if settings != task.settings:
            tasks_repo.set_settings(conn, task.id, settings, stamp)
        schedules_repo.update(
            conn,
            schedule.id,
            scheduled_time=prepared.scheduled_time if retimed else schedule.scheduled_time,
            repeat_type=prepared.recurrence.repeat.value,
            repeat_config=prepared.recurrence.config() if retimed else schedule.repeat_config,
            next_run_at=next_run,
            channel=prepared.channel,
            privacy=prepared.privacy.value,
            publish_time=prepared.publish_time,
        )
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            "✎ edited: "
            + ", ".join(name for name, value in asdict(edit).items() if value is not None),
            now=stamp,
            metadata={k: v for k, v in asdict(edit).items() if v is not None},
        )
        fresh = schedules_repo.get(conn, schedule.id)
    assert fresh is not None
    return schedule_view(fresh.model_dump(mode="json")), warnings


def _edited_sources(
    sources: dict[str, str], edit: EditRequest, prepared: PreparedTask
) -> dict[str, str]:
    """Where the task's values came from after an edit that takes no profile: what the edit
    gave is an option now."""
    edited = dict(sources)
    given = {"tz": edit.tz, "privacy": edit.privacy, "channel": edit.channel}
    given["publish_at"] = edit.publish_at
    for key, value in given.items():
        if value is not None:
            edited[key] = Source.OPTION.value
    if edit.publish_at is not None and prepared.privacy is Privacy.PRIVATE:
        edited["privacy"] = Source.OPTION.value
    return dict(sorted(edited.items()))
