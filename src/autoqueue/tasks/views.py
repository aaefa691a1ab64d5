"""Reading tasks: the task a user-typed id names, what a task is doing, every task as ``tasks``
lists them, and one task in full as ``show`` prints it. Part of the read layer: built on rows
(autoqueue.repo.reads), so that a read command loads no validation library (ARCHITECTURE.md
"Fast reads")."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from autoqueue.errors import NoSuchTaskError, UsageError
from autoqueue.i18n import _
from autoqueue.kinds import MediaMode
from autoqueue.layout import RUNS, STORY, THUMBNAIL, VIDEO, scene_images
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import reads
from autoqueue.repo.views import QUEUE_FIELDS, SCHEDULE_FIELDS, TASK_FIELDS, row_json
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


def schedule_view(schedule: Mapping[str, Any]) -> dict[str, Any]:
    """A schedule (as ``--json`` prints its row) as people read it: its repeat, and its next
    run in its own zone, named."""
    next_run_at = schedule["next_run_at"]
    first = schedule["scheduled_time"] or next_run_at or schedule["created_at"]
    recurrence = Recurrence.stored(schedule["repeat_type"], schedule["repeat_config"], first)
    return {
        "id": schedule["id"],
        "repeat": recurrence.repeat.value,
        "tz": recurrence.tz_name,
        "active": bool(schedule["is_active"]),
        "next_run_at": next_run_at,
        "next_run_local": display_time(next_run_at, recurrence.tz_name) if next_run_at else None,
    }


def task_state(
    schedules: list[dict[str, Any]], summary: dict[str, Any] | None, last_run_at: str | None
) -> TaskState:
    """What a task is doing, from its schedules, its queue rows and when its last run finished
    (``tasks.last_run_at``: cleanup deletes the queue rows that said so)."""
    summary = {**(summary or {}), "last_run": _last_run(summary, last_run_at)}
    if summary.get("processing"):
        return TaskState.RUNNING
    if summary.get("held"):
        return TaskState.REVIEW
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
    for row in reads.schedules(conn):
        view = schedule_view(row_json(row, SCHEDULE_FIELDS))
        schedules.setdefault(str(row["task_id"]), []).append(view)
    summaries = reads.task_summaries(conn)
    listed = []
    for row in reads.tasks(conn):
        task = row_json(row, TASK_FIELDS)
        own = schedules.get(task["id"], [])
        summary = summaries.get(task["id"])
        listed.append(
            {
                "id": task["id"],
                "title": task["title"],
                "type": task["type"],
                "media_mode": str(task["settings"].get("mediaMode", MediaMode.CRAWL.value)),
                "schedules": own,
                "state": task_state(own, summary, task["last_run_at"]).value,
                "last_run": _last_run(summary, task["last_run_at"]),
                "youtube_url": task["youtube_url"],
                "last_error": task["last_error"],
            }
        )
    return listed


def task_status(conn: Connection, text: str) -> tuple[TaskState, bool]:
    """One task's state, and whether any of its schedules is on (``ui`` pauses such a task
    and resumes any other)."""
    task = row_json(find_task(conn, text), TASK_FIELDS)
    views = [schedule_view(row_json(s, SCHEDULE_FIELDS)) for s in reads.schedules(conn, task["id"])]
    summary = reads.task_summaries(conn, task["id"]).get(task["id"])
    return task_state(views, summary, task["last_run_at"]), any(view["active"] for view in views)


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
    """Everything about one task: row, schedules, where its values came from, queue history,
    outputs, recent logs."""
    from autoqueue.tasks.provenance import effective

    task = row_json(find_task(conn, text), TASK_FIELDS)
    schedules = [row_json(s, SCHEDULE_FIELDS) for s in reads.schedules(conn, task["id"])]
    return {
        "task": task,
        "schedules": [{**s, **schedule_view(s)} for s in schedules],
        # each effective value and where it came from (option, channel profile, config, default)
        "effective": effective(task, schedules[0] if schedules else None, workspace.raw_config()),
        "queue": [row_json(q, QUEUE_FIELDS) for q in reads.queue_items(conn, task["id"])],
        "outputs": outputs_present(workspace, task["id"]),
        "logs": [
            entry.as_json()
            for entry in logs_repo.query(
                conn, logs_repo.LogFilter(task_id=task["id"], limit=log_limit)
            )
        ],
    }
