"""Editing a task: its title and its schedule, validated exactly as ``add`` validates them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from autoqueue.errors import UsageError
from autoqueue.i18n import _
from autoqueue.kinds import LogLevel, MediaMode, Privacy, RepeatType
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.tasks.add import AddRequest, prepare_add
from autoqueue.tasks.views import get_task, schedule_view
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
) -> tuple[dict[str, Any], list[str]]:
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
    prepared = prepare_add(
        workspace,
        AddRequest(
            title=edit.title if edit.title is not None else task.title,
            type=task.type.value,
            media_mode=str(task.settings.get("mediaMode", MediaMode.CRAWL.value)),
            at=at,
            repeat=edit.repeat or current.repeat.value,
            tz=tz_name,
            privacy=edit.privacy or schedule.youtube_privacy or Privacy.PUBLIC.value,
            publish_at=publish,
            channel=edit.channel if edit.channel is not None else schedule.channel_setting_id,
        ),
        now,
        check_publish=edit.publish_at is not None,  # a stored one may have passed by now
    )
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
