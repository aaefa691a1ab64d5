"""What every transition of the queue writes beside its own change: log rows about an item or a
task, a failed task's ``last_error`` and content, and the notification an event asks for
(docs/notifications.md). Call inside a write transaction."""

from __future__ import annotations

from typing import Any

from autoqueue.i18n import _
from autoqueue.kinds import ActionType, EventKind, LogLevel, QueueType
from autoqueue.models import QueueItem, Task
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import notifications as notifications_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection


def task_of(conn: Connection, task_id: str) -> Task:
    task = tasks_repo.get(conn, task_id)
    if task is None:  # foreign keys make this unreachable short of manual edits
        raise LookupError(_("task {task_id} vanished").format(task_id=task_id))
    return task


def log_item(
    conn: Connection,
    item: QueueItem,
    level: LogLevel,
    message: str,
    *,
    stamp: str,
    action: ActionType | None = None,
    metadata: dict[str, Any] | None = None,
    pid: int | None = None,
    process_name: str | None = None,
) -> int:
    """A log row about one queue item (its task, id and queue type filled in)."""
    return logs_repo.add(
        conn,
        item.task_id,
        level,
        message,
        now=stamp,
        queue_id=item.id,
        queue_type=item.queue_type,
        action=action,
        pid=pid,
        process_name=process_name,
        metadata=metadata,
    )


def guarded_log(
    conn: Connection,
    task_id: str,
    level: LogLevel,
    message: str,
    stamp: str,
    *,
    action: ActionType | None = None,
    queue_id: int | None = None,
    queue_type: QueueType | None = None,
) -> None:
    """A log row about a row another program may have broken: skipped if its task is gone."""
    with db_errors.savepoint(conn, "guarded_log", undo_on=db_errors.IntegrityError):
        logs_repo.add(
            conn,
            task_id,
            level,
            message,
            now=stamp,
            action=action,
            queue_id=queue_id,
            queue_type=queue_type,
        )


def mark_task_failed(conn: Connection, task_id: str, message: str, stamp: str) -> None:
    """``tasks.last_error`` and the current run's content marked failed (docs/concepts.md "Failures
    and retries")."""
    tasks_repo.set_last_error(conn, task_id, message, stamp)
    task = task_of(conn, task_id)
    if task.content_id:
        contents_repo.set_failed(conn, task.content_id, message, stamp)


def note_event(
    conn: Connection,
    events: frozenset[EventKind],
    kind: EventKind,
    item: QueueItem,
    *,
    log_id: int,
    stamp: str,
    **details: Any,
) -> bool:
    """Record a notification of ``kind`` about ``item`` in the caller's transaction, when
    ``[notify] events`` asks for it: the event exists exactly when the transition committed,
    and it is sent after the commit (autoqueue.notify). Its key is the log row that recorded
    the transition, so the same event is never recorded twice. ``details`` go into the
    message (``error``, ``url``, ``until``, ``reason``; a review's ``command``)."""
    if kind not in events:
        return False
    task = task_of(conn, item.task_id)
    payload = {
        "task_id": task.id,
        "title": task.title,
        "stage": item.queue_type.value,
        **{name: value for name, value in details.items() if value is not None},
    }
    return notifications_repo.add(
        conn,
        key=f"{kind.value}:{log_id}",
        kind=kind,
        payload=payload,
        now=stamp,
        task_id=task.id,
        queue_id=item.id,
    )
