"""User-facing operations behind the commands: init, add, retry, show, cleanup."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from autoqueue.attempt import files as attempt_files
from autoqueue.config import DEFAULT_CONFIG_TEXT
from autoqueue.errors import NoSuchTaskError, SupersededError, UsageError
from autoqueue.i18n import _
from autoqueue.layout import IMAGE_SUFFIXES, RUNS, STORY, THUMBNAIL, VIDEO, scene_images, scene_name
from autoqueue.media.images import image_problem
from autoqueue.models import (
    ActionType,
    LogLevel,
    MediaMode,
    Privacy,
    QueueType,
    RepeatType,
    Schedule,
    Tab,
    Task,
    TaskType,
)
from autoqueue.queue.scheduling import Recurrence
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import state as state_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import (
    display_time,
    local_zone_name,
    parse_duration,
    parse_local,
    to_db,
    zone,
)
from autoqueue.workspace import Workspace, parse_task_ref

E = TypeVar("E", bound=StrEnum)

TAB_ALIASES = {
    "예약큐": Tab.SCHEDULE,
    "예약": Tab.SCHEDULE,
    "대본큐": Tab.SCRIPT,
    "대본": Tab.SCRIPT,
    "이미지큐": Tab.IMAGE,
    "이미지": Tab.IMAGE,
    "영상큐": Tab.VIDEO,
    "영상": Tab.VIDEO,
    "유튜브큐": Tab.YOUTUBE,
    "유튜브": Tab.YOUTUBE,
    "실패": Tab.FAILED,
    "완료": Tab.COMPLETED,
}


def parse_choice(enum: type[E], value: str, what: str) -> E:
    """Read an enum value from the command line, naming the choices when it is unknown."""
    try:
        return enum(value.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise UsageError(
            _("unknown {what} {value!r} (choose from: {choices})").format(
                what=what, value=value, choices=choices
            )
        ) from None


def parse_tab(value: str) -> Tab:
    """A tab name in English or Korean (예약큐, 대본큐, 이미지큐, 영상큐, 유튜브큐, 실패, 완료)."""
    alias = TAB_ALIASES.get(value.strip())
    return alias if alias is not None else parse_choice(Tab, value, "tab")


def init_home(workspace: Workspace) -> list[str]:
    """Create the database, ``tasks/`` and a commented ``autoqueue.toml``; returns what was made.

    The database comes first: one that autoqueue refuses (not SQLite, another program's, a
    newer schema) or a server that cannot be reached leaves the home exactly as it was."""
    from autoqueue.worker.hosts import check_identity

    existed = workspace.database_exists()
    conn = workspace.connect()
    try:
        workspace.home.mkdir(parents=True, exist_ok=True)  # a folder it may not write: refused
        check_identity(workspace, conn)  # the home's autoqueue.id and the database's, alike
    finally:
        conn.close()
    made = _home_folders(workspace)
    if not workspace.config_path.exists():
        workspace.config_path.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
        made.append(str(workspace.config_path))
    if not existed:
        made.append(workspace.database)
    return made


def _home_folders(workspace: Workspace) -> list[str]:
    """``tasks/``, and ``music/`` and ``media/`` for background tracks and the user's own
    photos and clips (README "What the video stage makes", "Your own footage")."""
    made: list[str] = []
    for folder in (workspace.tasks_dir, workspace.home / "music", workspace.home / "media"):
        if not folder.exists():
            folder.mkdir()
            made.append(f"{folder}/")
    return made


# -- add ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddRequest:
    """``autoqueue add``'s arguments as typed, before validation."""

    title: str
    type: str = "shortform"
    media_mode: str = "crawl"
    at: str | None = None
    repeat: str = "once"
    tz: str | None = None
    privacy: str | None = None
    publish_at: str | None = None
    channel: str | None = None
    product_info: str | None = None
    settings: list[str] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    user: str | None = None
    max_retry: int | None = None


@dataclass(frozen=True)
class Added:
    task_id: str
    schedule_id: int
    next_run_at: str | None
    queued: bool
    warnings: list[str]


def _product_info(text: str | None) -> Any:
    if text is None:
        return None
    source = "--product-info"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                _("cannot read --product-info file {path}: {exc}").format(path=path, exc=exc)
            ) from exc
        source = str(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            _("{source} is not valid JSON: {msg} at line {lineno} column {colno}").format(
                source=source, msg=exc.msg, lineno=exc.lineno, colno=exc.colno
            )
        ) from exc
    if not isinstance(value, dict):  # the script writer and the cards read its fields by name
        raise UsageError(
            _(
                '{source} must be a JSON object such as {{"name": "...", "price": 39000}}; '
                "it is a JSON {kind}"
            ).format(source=source, kind=_json_kind(value))
        )
    return value


def _json_kind(value: Any) -> str:
    """JSON's name for the type of a value that is not an object (untranslated: JSON's word)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("--set wants key=value, got {pair!r}").format(pair=pair))
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        settings[key.strip()] = value
    return settings


def _images(paths: list[Path], media_mode: MediaMode) -> list[Path]:
    if paths and media_mode is not MediaMode.UPLOAD:
        raise UsageError(
            _("--image is for --media-mode upload (other modes make their own images)")
        )
    checked = []
    for path in paths:
        resolved = path.expanduser()
        if not resolved.is_file():
            raise UsageError(_("image file not found: {path}").format(path=path))
        if resolved.suffix.lower() not in IMAGE_SUFFIXES:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise UsageError(
                _("{path} is not an image this pipeline reads ({kinds})").format(
                    path=path, kinds=kinds
                )
            )
        problem = image_problem(resolved)
        if problem is not None:
            raise UsageError(f"{path}: {problem}")
        checked.append(resolved)
    return checked


@dataclass(frozen=True)
class PreparedTask:
    """A validated ``add``: everything checked, nothing written yet."""

    title: str
    task_type: TaskType
    media_mode: MediaMode
    recurrence: Recurrence
    scheduled_time: str | None
    next_run_at: str
    privacy: Privacy
    publish_time: str | None
    channel: str | None
    product_info: Any
    settings: dict[str, Any]
    images: list[Path]
    user: str | None
    max_retry: int | None
    warnings: list[str]


def _publish_time(text: str, tz: ZoneInfo, now: datetime, *, check: bool) -> str:
    """``--publish-at`` as a database time; with ``check``, refused unless it is to come
    (YouTube schedules a video only for a time in the future)."""
    instant = parse_local(text, tz)[1]
    if check and instant <= now:
        raise UsageError(
            _("--publish-at {value} is in the past: give a time to come").format(value=text)
        )
    return to_db(instant)


def prepare_add(
    workspace: Workspace, request: AddRequest, now: datetime, *, check_publish: bool = True
) -> PreparedTask:
    """Validate an ``add`` completely before anything touches the disk or the database.
    ``check_publish`` False keeps a publish time that was accepted before (``edit``)."""
    title = request.title.strip()
    if not title:
        raise UsageError(_("the title must not be empty"))
    task_type = parse_choice(TaskType, request.type, "type")
    media_mode = parse_choice(MediaMode, request.media_mode, "media mode")
    repeat = parse_choice(RepeatType, request.repeat, "repeat")
    tz_name = request.tz or workspace.config.timezone or local_zone_name()
    tz = zone(tz_name)
    warnings: list[str] = []
    privacy = parse_choice(Privacy, request.privacy, "privacy") if request.privacy else None
    publish_time = None
    if request.publish_at is not None:
        publish_time = _publish_time(request.publish_at, tz, now, check=check_publish)
        if privacy is not Privacy.PRIVATE:
            warnings.append(
                _(
                    "--publish-at needs a private video (YouTube publishes it at that time): "
                    "privacy {privacy} changed to private"
                ).format(privacy=(privacy or Privacy.PUBLIC).value)
            )
        privacy = Privacy.PRIVATE
    if request.max_retry is not None and request.max_retry < 0:
        raise UsageError(_("--max-retry must be 0 or more"))
    product_info = _product_info(request.product_info)
    settings = _settings(request.settings)
    settings["mediaMode"] = media_mode.value
    settings.setdefault("format", task_type.value)
    images = _images(request.images, media_mode)
    _check_generator(workspace, media_mode)
    if request.channel is not None:
        _check_channel(workspace, request.channel)
    if media_mode is MediaMode.UPLOAD and not images:
        warnings.append(
            "upload mode without --image: put scene_01.png ... in the task folder "
            "before the video stage runs"
        )
    if request.at is not None:
        wall, instant = parse_local(request.at, tz)
    else:
        wall, instant = now.astimezone(tz).replace(tzinfo=None), now
    recurrence = Recurrence(repeat, wall, tz_name)
    next_run = recurrence.first_run(instant, now)
    if repeat is RepeatType.ONCE and request.at is not None and instant < now:
        warnings.append(f"{request.at} is in the past: the task runs at the next tick")
    return PreparedTask(
        title=title,
        task_type=task_type,
        media_mode=media_mode,
        recurrence=recurrence,
        scheduled_time=to_db(instant) if request.at is not None else None,
        next_run_at=to_db(next_run),
        privacy=privacy or Privacy.PUBLIC,
        publish_time=publish_time,
        channel=request.channel,
        product_info=product_info,
        settings=settings,
        images=images,
        user=request.user,
        max_retry=request.max_retry,
        warnings=warnings,
    )


def _check_generator(workspace: Workspace, media_mode: MediaMode) -> None:
    """A generated mediaMode must have something to make its pictures (README, "Generated
    pictures, clips and stock photos"), and no key the task's stages read may be in a file
    that the stage would refuse."""
    from autoqueue.stages.providers import generator_problem, open_key_problem

    home, config = workspace.home, workspace.config
    problem = generator_problem(home, config, media_mode.value) or open_key_problem(
        home, config, media_mode.value
    )
    if problem is not None:
        raise UsageError(problem)


def _check_channel(workspace: Workspace, channel: str) -> None:
    """With the YouTube uploader on, a task's channel must be one that has been authorised."""
    from autoqueue.youtube import auth

    auth.validate_channel(channel)
    if workspace.config.handler(QueueType.YOUTUBE) != "youtube":
        return
    known = auth.channels(workspace.home)
    if channel not in known:
        raise UsageError(
            _(
                "unknown channel {channel!r} (authorised: {value}; add it with `autoqueue "
                "youtube auth --channel {channel} --client-secrets FILE`)"
            ).format(channel=channel, value=", ".join(known) or "none")
        )


def add_task(
    workspace: Workspace, conn: Connection, prepared: PreparedTask, now: datetime
) -> Added:
    """Create the task, its schedule and (when due) its first run in one transaction. The user's
    images are copied in before the commit and removed if it fails: an error leaves nothing."""
    from autoqueue.queue.occurrences import enqueue_occurrence
    from autoqueue.queue.policy import Policy

    task_id = str(uuid.uuid4())
    task_dir = workspace.task_dir(task_id)
    staging = None
    if prepared.images:
        staging = workspace.tasks_dir / f".adding-{task_id}"
        staging.mkdir(parents=True)
        for index, image in enumerate(prepared.images, start=1):
            shutil.copyfile(image, staging / scene_name(index, image.suffix))
    stamp = to_db(now)
    try:
        with transaction(conn):
            tasks_repo.insert(
                conn,
                Task.model_construct(  # validated already: values go in as they are
                    id=task_id,
                    title=prepared.title,
                    type=prepared.task_type,
                    user_id=prepared.user,
                    product_info=prepared.product_info,
                    settings=prepared.settings,
                    max_retry=prepared.max_retry,
                    created_at=stamp,
                    updated_at=stamp,
                ),
            )
            schedule = schedules_repo.insert(
                conn,
                task_id=task_id,
                scheduled_time=prepared.scheduled_time,
                repeat_type=prepared.recurrence.repeat.value,
                repeat_config=prepared.recurrence.config(),
                next_run_at=prepared.next_run_at,
                channel=prepared.channel,
                privacy=prepared.privacy.value,
                publish_time=prepared.publish_time,
                now=stamp,
            )
            logs_repo.add(
                conn,
                task_id,
                LogLevel.INFO,
                _("task added: {title}").format(title=prepared.title),
                now=stamp,
                metadata={
                    "type": prepared.task_type.value,
                    "mediaMode": prepared.media_mode.value,
                    "repeat": prepared.recurrence.repeat.value,
                },
            )
            queued = False
            next_run_at = schedule.next_run_at
            if prepared.next_run_at <= stamp:
                policy = Policy.from_config(workspace.config)
                queued = enqueue_occurrence(conn, schedule, policy, now) is not None
                if queued:  # the occurrence moved the schedule on
                    moved = schedules_repo.get(conn, schedule.id)
                    next_run_at = moved.next_run_at if moved else None
            if staging is not None:
                staging.rename(task_dir)
                staging = task_dir  # still ours to remove until the commit succeeds
        staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return Added(
        task_id=task_id,
        schedule_id=schedule.id,
        next_run_at=next_run_at,
        queued=queued,
        warnings=prepared.warnings,
    )


# -- reading -----------------------------------------------------------------------------------


def get_task(conn: Connection, text: str) -> Task:
    """The task named by a user-typed id: a whole one, or a unique prefix of one. An ambiguous
    prefix is refused with the candidates listed."""
    ref = parse_task_ref(text)
    if len(ref) == 36:
        task = tasks_repo.get(conn, ref)
        if task is None:
            raise NoSuchTaskError(_("no task {ref}").format(ref=ref))
        return task
    found = tasks_repo.with_prefix(conn, ref, limit=6)
    if not found:
        raise NoSuchTaskError(_("no task id starts with {ref}").format(ref=ref))
    if len(found) > 1:
        listed = ", ".join(f"{t.id} ({t.title})" for t in found[:5])
        more = " and more" if len(found) > 5 else ""
        raise UsageError(
            _("{ref} is the start of several task ids: {listed}{more}; type more of it").format(
                ref=ref, listed=listed, more=more
            )
        )
    return found[0]


class TaskState(StrEnum):
    RUNNING = "running"  # a stage is processing
    WAITING = "waiting"  # an item is waiting, or an active schedule has a next run
    FAILED = "failed"  # its newest item failed and nothing is waiting
    PAUSED = "paused"  # stopped: schedules inactive, with a run still to come or never finished
    DONE = "done"  # nothing left to run, and its last run finished


def schedule_view(schedule: Schedule) -> dict[str, Any]:
    """A schedule as people read it: its repeat, and its next run in its own zone, named."""
    recurrence = Recurrence.of(schedule)
    next_local = None
    if schedule.next_run_at:
        next_local = display_time(schedule.next_run_at, recurrence.tz_name)
    return {
        "id": schedule.id,
        "repeat": recurrence.repeat.value,
        "tz": recurrence.tz_name,
        "active": bool(schedule.is_active),
        "next_run_at": schedule.next_run_at,
        "next_run_local": next_local,
    }


def task_state(
    schedules: list[dict[str, Any]], summary: dict[str, Any] | None, last_run_at: str | None
) -> TaskState:
    """What a task is doing, from its schedules, its queue rows and when its last run finished
    (``tasks.last_run_at``: cleanup deletes the queue rows that said so)."""
    summary = {**(summary or {}), "last_run": _last_run(summary, last_run_at)}
    if summary.get("processing"):
        return TaskState.RUNNING
    if summary.get("waiting") or any(s["active"] and s["next_run_at"] for s in schedules):
        return TaskState.WAITING
    if summary.get("status") == "failed":
        return TaskState.FAILED
    if any(not s["active"] and s["next_run_at"] for s in schedules):
        return TaskState.PAUSED
    if not summary.get("last_run"):
        return TaskState.PAUSED  # stopped before any run finished
    return TaskState.DONE


def _last_run(summary: dict[str, Any] | None, last_run_at: str | None) -> str | None:
    """When the task's last run finished: its queue rows say so until cleanup removes them."""
    return (summary or {}).get("last_run") or last_run_at


def list_tasks(conn: Connection) -> list[dict[str, Any]]:
    """Every task with its type, media mode, schedules, state, last run and YouTube URL."""
    schedules: dict[str, list[dict[str, Any]]] = {}
    for schedule in schedules_repo.all_schedules(conn):
        schedules.setdefault(schedule.task_id, []).append(schedule_view(schedule))
    summaries = queue_repo.task_summaries(conn)
    listed = []
    for task in tasks_repo.all_tasks(conn):
        own = schedules.get(task.id, [])
        summary = summaries.get(task.id)
        listed.append(
            {
                "id": task.id,
                "title": task.title,
                "type": task.type.value,
                "media_mode": str(task.settings.get("mediaMode", MediaMode.CRAWL.value)),
                "schedules": own,
                "state": task_state(own, summary, task.last_run_at).value,
                "last_run": _last_run(summary, task.last_run_at),
                "youtube_url": task.youtube_url,
                "last_error": task.last_error,
            }
        )
    return listed


def task_status(conn: Connection, text: str) -> tuple[TaskState, bool]:
    """One task's state, and whether any of its schedules is on (``ui`` pauses such a task
    and resumes any other)."""
    task = get_task(conn, text)
    views = [schedule_view(s) for s in schedules_repo.for_task(conn, task.id)]
    summary = queue_repo.task_summaries(conn, task.id).get(task.id)
    return task_state(views, summary, task.last_run_at), any(view["active"] for view in views)


def outputs_present(workspace: Workspace, task_id: str) -> dict[str, Any]:
    """Which rule-based outputs exist in the task folder."""
    folder = workspace.task_dir(task_id)
    runs = folder / RUNS
    return {
        "task_dir": str(folder),
        "story": (folder / STORY).is_file(),
        "scene_images": [p.name for p in scene_images(folder)],
        "video": (folder / VIDEO).is_file(),
        "thumbnail": (folder / THUMBNAIL).is_file(),
        "archived_runs": sorted(p.name for p in runs.iterdir()) if runs.is_dir() else [],
    }


def show_task(
    workspace: Workspace, conn: Connection, text: str, log_limit: int = 20
) -> dict[str, Any]:
    """Everything about one task: row, schedules, queue history, outputs, recent logs."""
    task = get_task(conn, text)
    return {
        "task": task.model_dump(mode="json"),
        "schedules": [
            {**s.model_dump(mode="json"), **schedule_view(s)}
            for s in schedules_repo.for_task(conn, task.id)
        ],
        "queue": [q.model_dump(mode="json") for q in queue_repo.for_task(conn, task.id)],
        "outputs": outputs_present(workspace, task.id),
        "logs": [
            entry.model_dump(mode="json")
            for entry in logs_repo.query(
                conn, logs_repo.LogFilter(task_id=task.id, limit=log_limit)
            )
        ],
    }


# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopResult:
    task_id: str
    stopped_processing: int
    deleted_waiting: int
    deactivated_schedules: int
    killed_processes: list[dict[str, Any]]
    not_killed: list[str]


def stop_task(workspace: Workspace, conn: Connection, text: str, now: datetime) -> StopResult:
    """Stop a task (README "What happens on stop"): the database changes in one transaction,
    then everything the task's running attempt started is killed: its supervisor's tree
    (recorded pid + start time) and every process carrying the attempt's secret token, daemons
    that detached themselves included. Nothing is matched by name: the user's own browser or
    other renders are never touched."""
    from autoqueue.attempt import processes
    from autoqueue.queue import stop

    task = get_task(conn, text)
    stopped = stop.stop_task(
        conn,
        task.id,
        error=_("stopped by the user"),
        log_message=_("🛑 task stopped by the user"),
        now=now,
    )
    killed: list[dict[str, Any]] = []
    not_killed: list[str] = []
    host = processes.this_host()
    for target in stopped.stopped:
        if target.token is None and not target.pid:
            continue
        if target.host != host:
            not_killed.append(
                f"{target.name or 'the stage'} of item {target.queue_id} runs on {target.host}; "
                "autoqueue there stops it when it sees the item stopped"
            )
            continue
        root = (target.pid, target.started) if target.pid and target.started else None
        for info in processes.kill_attempt(target.token, root):
            killed.append({"name": info.name, "pid": info.pid, "queue_id": target.queue_id})
    with transaction(conn):
        logs_repo.set_metadata(
            conn,
            stopped.log_id,
            {
                "stopped_processing": len(stopped.stopped),
                "deleted_waiting": stopped.deleted_waiting,
                "deactivated_schedules": stopped.deactivated_schedules,
                "killedProcesses": killed,
                "reason": "user_request",
            },
        )
    return StopResult(
        task_id=task.id,
        stopped_processing=len(stopped.stopped),
        deleted_waiting=stopped.deleted_waiting,
        deactivated_schedules=stopped.deactivated_schedules,
        killed_processes=killed,
        not_killed=not_killed,
    )


# -- edit --------------------------------------------------------------------------------------


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
    return schedule_view(fresh), warnings


# -- pause and resume --------------------------------------------------------------------------


def pause_task(conn: Connection, text: str, now: datetime) -> int:
    """Turn the task's schedules off, keeping when each would run next; a run in flight goes
    on (``stop`` ends it). Returns how many schedules were paused."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        paused = schedules_repo.deactivate_for_task(conn, task.id)
        if not paused:
            raise UsageError(_("task {id} has no active schedule to pause").format(id=task.id))
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("⏸ paused: {paused} schedule(s) off until `autoqueue resume`").format(paused=paused),
            now=stamp,
            action=ActionType.PAUSE,
            metadata={"paused": paused},
        )
    return paused


def resume_task(conn: Connection, text: str, now: datetime) -> list[dict[str, Any]]:
    """Turn a paused (or stopped) task's schedules back on. A recurring schedule runs next at
    its first occurrence from now (the ones missed while paused are not made up); a ``once``
    schedule keeps its time, or runs at the next tick when it had none left (a stopped run).
    A task that finished its only run has nothing to resume. Returns the schedules as
    ``tasks`` shows them."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        schedules = schedules_repo.for_task(conn, task.id)
        inactive = [s for s in schedules if not s.is_active]
        views = [schedule_view(s) for s in schedules]
        summary = queue_repo.task_summaries(conn, task.id).get(task.id)
        state = task_state(views, summary, task.last_run_at)
        if not inactive:
            raise UsageError(
                _(
                    "task {id} has nothing to resume: its schedules are on (`autoqueue retry` "
                    "runs a failed item again)"
                ).format(id=task.id)
            )
        if state is TaskState.DONE:
            raise UsageError(
                _(
                    "task {id} has nothing to resume: it finished its run (add it again to run "
                    "it once more)"
                ).format(id=task.id)
            )
        for schedule in inactive:
            recurrence = Recurrence.of(schedule)
            if recurrence.repeat is RepeatType.ONCE and schedule.next_run_at is not None:
                next_run = max(schedule.next_run_at, stamp)
            else:
                next_run = to_db(recurrence.next_from(now))
            schedules_repo.set_state(conn, schedule.id, active=True, next_run_at=next_run)
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("▶ resumed: {count} schedule(s) on again").format(count=len(inactive)),
            now=stamp,
            action=ActionType.RESUME,
        )
        tasks_repo.set_last_error(conn, task.id, None, stamp)
        return [schedule_view(s) for s in schedules_repo.for_task(conn, task.id)]


# -- delete ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    task_id: str
    rows: dict[str, int]
    files_removed: bool
    killed_processes: list[dict[str, Any]] = field(default_factory=list)


def delete_task(
    workspace: Workspace,
    conn: Connection,
    text: str,
    now: datetime,
    *,
    stop_first: bool = False,
    keep_files: bool = False,
) -> Deleted:
    """Delete a task: its schedules, queue items and log rows, and its folder unless
    ``keep_files``. Its contents stay as orphans (ARCHITECTURE.md "Deleting a task"). Refused
    while a stage of it runs, unless ``stop_first``: then it is stopped as `stop` does (its
    processes killed) before anything is deleted."""
    task = get_task(conn, text)
    killed: list[dict[str, Any]] = []
    if queue_repo.stop_processes(conn, task.id):
        if not stop_first:
            raise UsageError(
                _(
                    "task {id} has a stage running; `autoqueue delete {value} --stop` stops it "
                    "first"
                ).format(id=task.id, value=task.id[:8])
            )
        killed = stop_task(workspace, conn, task.id, now).killed_processes
    stamp = to_db(now)
    with transaction(conn):
        if queue_repo.stop_processes(conn, task.id):  # claimed again meanwhile
            raise UsageError(_("task {id} started a stage again; try again").format(id=task.id))
        rows = tasks_repo.delete(conn, task.id, files_removed=not keep_files, now=stamp)
    if not keep_files:
        shutil.rmtree(workspace.task_dir(task.id), ignore_errors=True)
    return Deleted(task.id, rows, not keep_files, killed)


# -- retry and cleanup -------------------------------------------------------------------------


def retry_task(conn: Connection, text: str, now: datetime, *, reupload: bool = False) -> int:
    """The retry button (``autoqueue retry``): the task's most recent failed item goes back to
    waiting with a fresh retry budget. Older failed items belong to runs whose files were
    archived; they stay as history. Refused while the task has a run in flight, and when the
    newest failed item belongs to a run that a later run replaced. Returns the item id.

    ``reupload`` (youtube items only) forgets what the uploader knew of earlier attempts, so a
    new upload starts even when an earlier one may have reached YouTube."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        if queue_repo.active_count(conn, task.id):
            raise UsageError(
                _("task {id} has a run waiting or processing; nothing to retry").format(id=task.id)
            )
        item = queue_repo.latest_failed(conn, task.id)
        if item is None:
            raise UsageError(_("task {id} has no failed item to retry").format(id=task.id))
        if queue_repo.is_superseded(conn, item):
            raise SupersededError(
                _(
                    "task {id} has nothing to retry: its failed {value} item belongs to an "
                    "earlier run that a later run replaced, and running it could publish a "
                    "video twice"
                ).format(id=task.id, value=item.queue_type.value)
            )
        if reupload:
            if item.queue_type is not QueueType.YOUTUBE:
                raise UsageError(
                    _(
                        "--reupload is for a failed youtube item; task {id}'s failed item is in "
                        "the {value} queue"
                    ).format(id=task.id, value=item.queue_type.value)
                )
            state_repo.clear(conn, item.id)
            # What the uploader reads: a file this task already published may go up again.
            state_repo.save(conn, item.id, {"reupload": True}, stamp)
        queue_repo.reset_for_retry(conn, item.id, stamp)
        tasks_repo.set_last_error(conn, task.id, None, stamp)
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("↻ retry requested: {value} back to waiting").format(value=item.queue_type.value),
            now=stamp,
            queue_id=item.id,
            queue_type=item.queue_type,
            action=ActionType.RETRY,
            metadata={
                "previousError": item.error_message,
                "previousRetryCount": item.retry_count,
                "reupload": reupload,
            },
        )
    return item.id


@dataclass(frozen=True)
class Cleaned:
    """The rows cleanup removed (or, with --dry-run, would remove)."""

    queue_rows: int
    log_rows: int
    cutoff: str


def cleanup(conn: Connection, older_than: str, now: datetime, *, dry_run: bool) -> Cleaned:
    """Delete completed queue rows and routine log rows older than ``older_than`` (warnings,
    errors, people's actions and each run's start and end rows stay)."""
    cutoff = to_db(now - parse_duration(older_than))
    with transaction(conn):
        count = queue_repo.delete_completed_before(conn, cutoff, dry_run=dry_run)
        logs = logs_repo.prune_routine_before(conn, cutoff, dry_run=dry_run)
    return Cleaned(count, logs, cutoff)


@dataclass
class Swept:
    """What file retention removed (or, with --dry-run, would remove), by kind."""

    folders: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0


def _tree_size(folder: Path) -> tuple[int, int, float]:
    """(files, bytes, newest modification time) of a folder, itself included."""
    files = size = 0
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        info = path.lstat()
        newest = max(newest, info.st_mtime)
        if path.is_file() and not path.is_symlink():
            files += 1
            size += info.st_size
    return files, size, newest


def sweep_files(
    workspace: Workspace, conn: Connection, older_than: str, now: datetime, *, dry_run: bool
) -> Swept:
    """Retention for what only grows on disk: archived runs (``tasks/ID/runs/*``), outbox copies
    (``outbox/ID``) and attempt records (``tasks/ID/attempts/*``) untouched for longer than
    ``older_than``. Never the current run's files, and never the record of an attempt whose item
    is still processing (its result is how a crash is recovered without running it again).
    Contents rows that pointed into a removed run lose those paths."""
    from autoqueue.stages.outbox import OUTBOX

    cutoff = (now - parse_duration(older_than)).timestamp()
    swept = Swept()
    busy = {str(row[0]) for row in queue_repo.processing_ids(conn)}
    candidates: list[tuple[str, Path]] = []
    if workspace.tasks_dir.is_dir():
        for task_dir in sorted(workspace.tasks_dir.iterdir()):
            for kind in (RUNS, attempt_files.ATTEMPTS):
                parent = task_dir / kind
                if not parent.is_dir():
                    continue
                for folder in sorted(parent.iterdir()):
                    if kind == attempt_files.ATTEMPTS and folder.name.split("-", 1)[0] in busy:
                        continue
                    candidates.append((kind, folder))
    outbox = workspace.home / OUTBOX
    if outbox.is_dir():
        candidates += [("outbox", folder) for folder in sorted(outbox.iterdir())]
    stamp = to_db(now)
    for kind, folder in candidates:
        if not folder.is_dir() or folder.is_symlink():
            continue
        files, size, newest = _tree_size(folder)
        if newest >= cutoff:
            continue
        swept.folders[kind] = swept.folders.get(kind, 0) + 1
        swept.files += files
        swept.bytes += size
        if dry_run:
            continue
        if kind == RUNS:
            with transaction(conn):
                contents_repo.forget_paths_under(conn, workspace.relative(folder) + "/", stamp)
        shutil.rmtree(folder, ignore_errors=True)
    return swept
