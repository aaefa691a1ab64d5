"""SQL for ``notifications`` (schema 10, docs/notifications.md): an event recorded once (its key
is unique), claimed by one sender with a compare-and-set, and finished under that claim; and
what the daily digest reads from the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autoqueue.kinds import EventKind, NotificationStatus
from autoqueue.store.db import EVERY_QUEUE, Connection, Row


@dataclass(frozen=True)
class Notification:
    """One row of ``notifications``, its payload and delivered URLs decoded."""

    id: int
    key: str
    kind: EventKind
    task_id: str | None
    queue_id: int | None
    payload: dict[str, Any]
    status: NotificationStatus
    attempts: int
    delivered: tuple[str, ...]
    last_error: str | None
    created_at: str
    claimed_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> Notification:
        payload = _json(row["payload"])
        delivered = _json(row["delivered"])
        return cls(
            id=int(row["id"]),
            key=str(row["event_key"]),
            kind=EventKind(row["kind"]),
            task_id=row["task_id"],
            queue_id=None if row["queue_id"] is None else int(row["queue_id"]),
            payload=payload if isinstance(payload, dict) else {},
            status=NotificationStatus(row["status"]),
            attempts=int(row["attempts"]),
            delivered=tuple(str(d) for d in delivered) if isinstance(delivered, list) else (),
            last_error=row["last_error"],
            created_at=str(row["created_at"]),
            claimed_at=None if row["claimed_at"] is None else str(row["claimed_at"]),
        )


def _json(text: object) -> object:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def add(
    conn: Connection,
    *,
    key: str,
    kind: EventKind,
    payload: dict[str, Any],
    now: str,
    task_id: str | None = None,
    queue_id: int | None = None,
) -> bool:
    """Record an event unless its key is recorded already; returns whether this one was."""
    cursor = conn.execute(
        "INSERT INTO notifications (event_key, kind, task_id, queue_id, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(event_key) DO NOTHING",
        (key, kind.value, task_id, queue_id, json.dumps(payload, ensure_ascii=False), now),
    )
    return cursor.rowcount == 1


def exists(conn: Connection, key: str) -> bool:
    row = conn.execute("SELECT 1 FROM notifications WHERE event_key = ?", (key,)).fetchone()
    return row is not None


def get(conn: Connection, notification_id: int) -> Notification | None:
    row = conn.execute("SELECT * FROM notifications WHERE id = ?", (notification_id,)).fetchone()
    return None if row is None else Notification.from_row(row)


def due(conn: Connection, now: str, limit: int) -> list[Notification]:
    """Pending rows whose time has come, oldest first."""
    rows = conn.execute(
        "SELECT * FROM notifications WHERE status = 'pending' "
        "AND (next_try_at IS NULL OR next_try_at <= ?) ORDER BY id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [Notification.from_row(row) for row in rows]


def stale(conn: Connection, before: str) -> list[Notification]:
    """Rows claimed for sending before ``before`` whose sender never said how it went."""
    rows = conn.execute(
        "SELECT * FROM notifications WHERE status = 'sending' AND claimed_at < ? ORDER BY id",
        (before,),
    ).fetchall()
    return [Notification.from_row(row) for row in rows]


def claim(conn: Connection, notification_id: int, token: str, now: str) -> bool:
    """Take a pending row for sending (a compare-and-set: of two senders, one wins). The
    attempt is counted here, before anything is sent."""
    cursor = conn.execute(
        "UPDATE notifications SET status = 'sending', claimed_by = ?, claimed_at = ?, "
        "attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
        (token, now, notification_id),
    )
    return cursor.rowcount == 1


def finish(
    conn: Connection,
    notification_id: int,
    token: str,
    *,
    status: NotificationStatus,
    delivered: list[str],
    error: str | None,
    now: str,
    next_try_at: str | None = None,
) -> bool:
    """How a claimed send went: ``sent``, ``pending`` again (tried again from ``next_try_at``)
    or ``given_up``. Applies only under the claim that sent it."""
    cursor = conn.execute(
        "UPDATE notifications SET status = ?, delivered = ?, last_error = ?, next_try_at = ?, "
        "sent_at = ?, claimed_by = NULL WHERE id = ? AND status = 'sending' AND claimed_by = ?",
        (
            status.value,
            json.dumps(delivered),
            error,
            next_try_at,
            now if status is NotificationStatus.SENT else None,
            notification_id,
            token,
        ),
    )
    return cursor.rowcount == 1


def give_up(conn: Connection, notification_id: int, error: str, *, was: NotificationStatus) -> bool:
    """Never send a row (still ``was``) again, saying why."""
    cursor = conn.execute(
        "UPDATE notifications SET status = 'given_up', last_error = ?, claimed_by = NULL "
        "WHERE id = ? AND status = ?",
        (error, notification_id, was.value),
    )
    return cursor.rowcount == 1


def pending_exists(conn: Connection) -> bool:
    row = conn.execute("SELECT 1 FROM notifications WHERE status = 'pending' LIMIT 1").fetchone()
    return row is not None


def give_up_pending(conn: Connection, error: str) -> int:
    """Give up every pending row (nothing is set up to send them)."""
    return conn.execute(
        "UPDATE notifications SET status = 'given_up', last_error = ? WHERE status = 'pending'",
        (error,),
    ).rowcount


def for_task(conn: Connection, task_id: str) -> list[Notification]:
    rows = conn.execute(
        "SELECT * FROM notifications WHERE task_id = ? ORDER BY id", (task_id,)
    ).fetchall()
    return [Notification.from_row(row) for row in rows]


def delete_for_task(conn: Connection, task_id: str) -> int:
    return conn.execute("DELETE FROM notifications WHERE task_id = ?", (task_id,)).rowcount


def prune_before(conn: Connection, cutoff: str, *, dry_run: bool) -> int:
    """Delete (or count) rows sent or given up that were recorded before ``cutoff``."""
    where = "created_at < ? AND status IN ('sent', 'given_up')"
    if dry_run:
        row = conn.execute(f"SELECT count(*) FROM notifications WHERE {where}", (cutoff,))
        return int(row.fetchone()[0])
    return conn.execute(f"DELETE FROM notifications WHERE {where}", (cutoff,)).rowcount


# -- what the digest reads -------------------------------------------------------------------


def published_between(conn: Connection, since: str, until: str) -> list[Row]:
    """Runs whose youtube stage completed in (since, until]: task, title, URL, when."""
    return conn.execute(
        "SELECT q.task_id, t.title, t.youtube_url, q.completed_at FROM task_queue AS q "
        "JOIN tasks AS t ON t.id = q.task_id WHERE q.queue_type = 'youtube' "
        "AND q.status = 'completed' AND q.completed_at > ? AND q.completed_at <= ? "
        "ORDER BY q.completed_at, q.id",
        (since, until),
    ).fetchall()


def failed_between(conn: Connection, since: str, until: str) -> list[Row]:
    """Items that failed for good in (since, until]: task, title, stage, error."""
    return conn.execute(
        "SELECT q.task_id, t.title, q.queue_type, q.error_message FROM task_queue AS q "
        f"JOIN tasks AS t ON t.id = q.task_id WHERE q.{EVERY_QUEUE} AND q.status = 'failed' "
        "AND q.updated_at > ? AND q.updated_at <= ? ORDER BY q.updated_at, q.id",
        (since, until),
    ).fetchall()


def queue_now(conn: Connection) -> dict[str, int]:
    """How many items wait, are processing, and have failed (of runs not replaced), now."""
    counts = {"waiting": 0, "processing": 0, "failed": 0}
    rows = conn.execute(
        f"SELECT status, count(*) FROM task_queue WHERE {EVERY_QUEUE} AND "
        "status IN ('waiting', 'processing', 'failed') AND superseded_at IS NULL GROUP BY status"
    ).fetchall()
    for row in rows:
        counts[str(row[0])] = int(row[1])
    return counts
