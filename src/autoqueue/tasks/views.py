"""Reading tasks: the task a user-typed id names, what a task is doing, every task as ``tasks``
lists them, and one task in full as ``show`` prints it. Part of the read layer: built on rows
(autoqueue.repo.reads), so that a read command loads no validation library (ARCHITECTURE.md
"Fast reads")."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from autoqueue.errors import NoSuchTaskError, UsageError
from autoqueue.i18n import _
from autoqueue.kinds import MediaMode
from autoqueue.layout import RUNS, STORY, THUMBNAIL, VIDEO, scene_images
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import reads
from autoqueue.repo.views import (
    QUEUE_FIELDS,
    SCHEDULE_FIELDS,
    LogEntry,
    TaskRow,
    row_json,
    stored_time,
)
from autoqueue.store.db import Connection, Row
from autoqueue.timeutil import display_time
from autoqueue.workspace import parse_task_ref

if TYPE_CHECKING:
    from autoqueue.models import Task
    from autoqueue.workspace import Workspace


def find_task(conn: Connection, text: str) -> Row:
    """The task row named by a user-typed id: a whole one, or a unique prefix of one. An
    ambiguous prefix is refused with the candidates listed."""
    ref = parse_task_ref(text)
    if len(ref) == 36:
        task = reads.task(conn, ref)
        if task is None:
            raise NoSuchTaskError(_("no task {ref}").format(ref=ref))
        return task
    found = reads.tasks_with_prefix(conn, ref, limit=6)
    if not found:
        raise NoSuchTaskError(_("no task id starts with {ref}").format(ref=ref))
    if len(found) > 1:
        listed = ", ".join(f"{t['id']} ({t['title']})" for t in found[:5])
        more = " and more" if len(found) > 5 else ""
        raise UsageError(
            _("{ref} is the start of several task ids: {listed}{more}; type more of it").format(
                ref=ref, listed=listed, more=more
            )
        )
    return found[0]


def get_task(conn: Connection, text: str) -> Task:
    """:func:`find_task`, as the engine's model (for the commands that change it)."""
    from autoqueue.models import Task

    return Task.model_validate(dict(find_task(conn, text)))


class TaskState(StrEnum):
    RUNNING = "running"  # a stage is processing
    REVIEW = "review"  # an item waits for a person's review (approve or reject)
    WAITING = "waiting"  # an item is waiting, or an active schedule has a next run
    FAILED = "failed"  # its newest item failed and nothing is waiting
    PAUSED = "paused"  # stopped: schedules inactive, with a run still to come or never finished
    DONE = "done"  # nothing left to run, and its last run finished


class ScheduleView(NamedTuple):
    """A schedule as people read it: its repeat, and its next run in its own zone, named.
    ``row`` is the whole row as ``--json`` prints it, where a command shows it (``show``)."""

    id: int
    repeat: str
    tz: str
    active: bool
    next_run_at: str | None
    next_run_local: str | None
    privacy: str | None = None
    row: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        view = {
            "id": self.id,
            "repeat": self.repeat,
            "tz": self.tz,
            "active": self.active,
            "next_run_at": self.next_run_at,
            "next_run_local": self.next_run_local,
        }
        return view if self.row is None else {**self.row, **view}


def schedule_view(schedule: Mapping[str, Any], *, whole: bool = False) -> ScheduleView:
    """A schedule (its row as ``--json`` prints it) as people read it; ``whole``: keeping the
    row for ``--json``."""
    next_run_at = schedule["next_run_at"]
    first = schedule["scheduled_time"] or next_run_at or schedule["created_at"]
    recurrence = Recurrence.stored(schedule["repeat_type"], schedule["repeat_config"], first)
    return ScheduleView(
        id=int(schedule["id"]),
        repeat=recurrence.repeat.value,
        tz=recurrence.tz_name,
        active=bool(schedule["is_active"]),
        next_run_at=next_run_at,
        next_run_local=display_time(next_run_at, recurrence.tz_name) if next_run_at else None,
        privacy=schedule.get("youtube_privacy"),
        row=dict(schedule) if whole else None,
    )


def task_state(
    schedules: list[ScheduleView], summary: dict[str, Any] | None, last_run_at: str | None
) -> TaskState:
    """What a task is doing, from its schedules, its queue rows and when its last run finished
    (``tasks.last_run_at``: cleanup deletes the queue rows that said so)."""
    summary = {**(summary or {}), "last_run": _last_run(summary, last_run_at)}
    if summary.get("processing"):
        return TaskState.RUNNING
    if summary.get("held"):
        return TaskState.REVIEW
    if summary.get("waiting") or any(s.active and s.next_run_at for s in schedules):
        return TaskState.WAITING
    if summary.get("status") == "failed":
        return TaskState.FAILED
    if any(not s.active and s.next_run_at for s in schedules):
        return TaskState.PAUSED
    if not summary.get("last_run"):
        return TaskState.PAUSED  # stopped before any run finished
    return TaskState.DONE


def _last_run(summary: dict[str, Any] | None, last_run_at: str | None) -> str | None:
    """When the task's last run finished: its queue rows say so until cleanup removes them."""
    return (summary or {}).get("last_run") or last_run_at


class TaskSummary(NamedTuple):
    """A task as ``tasks`` lists it."""

    id: str
    title: str
    type: str
    media_mode: str
    schedules: tuple[ScheduleView, ...]
    state: TaskState
    last_run: str | None
    youtube_url: str | None
    last_error: str | None

    @property
    def pending(self) -> bool:
        """Whether a run waits or runs (its schedules may all be off)."""
        return self.state in (TaskState.WAITING, TaskState.RUNNING, TaskState.REVIEW)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "type": self.type,
            "media_mode": self.media_mode,
            "schedules": [schedule.as_json() for schedule in self.schedules],
            "state": self.state.value,
            "last_run": self.last_run,
            "youtube_url": self.youtube_url,
            "last_error": self.last_error,
        }


def list_tasks(conn: Connection) -> list[TaskSummary]:
    """Every task with its type, media mode, schedules, state, last run and YouTube URL."""
    schedules: dict[str, list[ScheduleView]] = {}
    for row in reads.schedules(conn):
        view = schedule_view(row_json(row, SCHEDULE_FIELDS))
        schedules.setdefault(str(row["task_id"]), []).append(view)
    summaries = reads.task_summaries(conn)
    listed = []
    for row in reads.tasks(conn):
        task = TaskRow.from_row(row)
        own = schedules.get(task.id, [])
        summary = summaries.get(task.id)
        listed.append(
            TaskSummary(
                id=task.id,
                title=task.title,
                type=task.type,
                media_mode=str(task.settings.get("mediaMode", MediaMode.CRAWL.value)),
                schedules=tuple(own),
                state=task_state(own, summary, task.last_run_at),
                last_run=_last_run(summary, task.last_run_at),
                youtube_url=task.youtube_url,
                last_error=task.last_error,
            )
        )
    return listed


def task_status(conn: Connection, text: str) -> tuple[TaskState, bool]:
    """One task's state, and whether any of its schedules is on (``ui`` pauses such a task
    and resumes any other)."""
    task = TaskRow.from_row(find_task(conn, text))
    views = [schedule_view(row_json(s, SCHEDULE_FIELDS)) for s in reads.schedules(conn, task.id)]
    summary = reads.task_summaries(conn, task.id).get(task.id)
    return task_state(views, summary, task.last_run_at), any(view.active for view in views)


class Outputs(NamedTuple):
    """Which rule-based outputs a task's folder holds."""

    task_dir: str
    story: bool
    scene_images: tuple[str, ...]
    video: bool
    thumbnail: bool
    archived_runs: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "task_dir": self.task_dir,
            "story": self.story,
            "scene_images": list(self.scene_images),
            "video": self.video,
            "thumbnail": self.thumbnail,
            "archived_runs": list(self.archived_runs),
        }


def outputs_present(workspace: Workspace, task_id: str) -> Outputs:
    """Which rule-based outputs exist in the task folder."""
    folder = workspace.task_dir(task_id)
    runs = folder / RUNS
    return Outputs(
        task_dir=str(folder),
        story=(folder / STORY).is_file(),
        scene_images=tuple(p.name for p in scene_images(folder)),
        video=(folder / VIDEO).is_file(),
        thumbnail=(folder / THUMBNAIL).is_file(),
        archived_runs=tuple(sorted(p.name for p in runs.iterdir())) if runs.is_dir() else (),
    )


class NotificationView(NamedTuple):
    """One of a task's notifications as ``show`` lists it: what it told, whether it went."""

    id: int
    kind: str  # failed, published, parked, review (autoqueue.kinds.EventKind)
    status: str  # pending, sending, sent, given_up (autoqueue.kinds.NotificationStatus)
    attempts: int
    last_error: str | None
    created_at: str | None
    sent_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> NotificationView:
        return cls(
            id=int(row["id"]),
            kind=str(row["kind"]),
            status=str(row["status"]),
            attempts=int(row["attempts"]),
            last_error=row["last_error"],
            created_at=stored_time(row["created_at"]),
            sent_at=stored_time(row["sent_at"]),
        )

    def as_json(self) -> dict[str, Any]:
        return self._asdict()


class TaskDetail(NamedTuple):
    """One task in full, as ``show`` prints it. Its queue rows are as ``--json`` prints them,
    the mappings ``list TAB`` shows too; ``effective`` holds, per setting, its ``value`` and
    ``source`` (autoqueue.tasks.provenance)."""

    task: TaskRow
    schedules: tuple[ScheduleView, ...]
    effective: Mapping[str, Mapping[str, Any]]
    queue: tuple[Mapping[str, Any], ...]
    outputs: Outputs
    logs: tuple[LogEntry, ...]
    notifications: tuple[NotificationView, ...] = ()

    @property
    def pending(self) -> bool:
        """Whether an item of it waits or runs."""
        return any(item["status"] in ("waiting", "processing") for item in self.queue)

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task.as_json(),
            "schedules": [schedule.as_json() for schedule in self.schedules],
            "effective": {key: dict(entry) for key, entry in self.effective.items()},
            "queue": [dict(item) for item in self.queue],
            "outputs": self.outputs.as_json(),
            "logs": [entry.as_json() for entry in self.logs],
            "notifications": [sent.as_json() for sent in self.notifications],
        }


def show_task(workspace: Workspace, conn: Connection, text: str, log_limit: int = 20) -> TaskDetail:
    """Everything about one task: row, schedules, where its values came from, queue history,
    outputs, recent logs, its latest notifications."""
    from autoqueue.tasks.provenance import effective

    task = TaskRow.from_row(find_task(conn, text))
    schedules = [row_json(s, SCHEDULE_FIELDS) for s in reads.schedules(conn, task.id)]
    return TaskDetail(
        task=task,
        schedules=tuple(schedule_view(s, whole=True) for s in schedules),
        # each effective value and where it came from (option, channel profile, config, default)
        effective=effective(
            task.as_json(), schedules[0] if schedules else None, workspace.raw_config()
        ),
        queue=tuple(row_json(q, QUEUE_FIELDS) for q in reads.queue_items(conn, task.id)),
        outputs=outputs_present(workspace, task.id),
        logs=tuple(logs_repo.query(conn, logs_repo.LogFilter(task_id=task.id, limit=log_limit))),
        notifications=tuple(
            NotificationView.from_row(row)
            for row in reads.task_notifications(conn, task.id, log_limit)
        ),
    )
