"""SQL for ``task_logs``: adding a row, and reading them as ``autoqueue logs`` filters them."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.repo.views import LogEntry
from autoqueue.store.db import Connection


class LogFilter(NamedTuple):
    """``autoqueue logs``' filters (task, level, queue type, action, limit); ``after_id`` serves
    ``logs --follow``."""

    task_id: str | None = None
    level: LogLevel | None = None
    queue_type: QueueType | None = None
    action: ActionType | None = None
    limit: int | None = None
    after_id: int | None = None


def add(
    conn: Connection,
    task_id: str,
    level: LogLevel,
    message: str,
    *,
    now: str,
    queue_id: int | None = None,
    queue_type: QueueType | None = None,
    action: ActionType | None = None,
    pid: int | None = None,
    process_name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Add one log row; returns its id."""
    cursor = conn.execute(
        "INSERT INTO task_logs (task_id, queue_id, level, message, action_type, queue_type, pid, "
        "process_name, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            task_id,
            queue_id,
            level.value,
            message,
            None if action is None else action.value,
            None if queue_type is None else queue_type.value,
            pid,
            process_name,
            None if metadata is None else json.dumps(metadata, ensure_ascii=False),
            now,
        ),
    )
    return int(cursor.fetchone()[0])


# What cleanup keeps of old log rows besides warnings and errors: what a person did (retry, stop,
# pause, resume), what the engine decided (fail, skip), and each run's first and last row (its
# schedule stage's start, its youtube stage's completion).
ROUTINE = (
    "level = 'info' AND NOT ("
    "coalesce(action_type, '') IN ('fail', 'retry', 'stop', 'skip', 'pause', 'resume') "
    "OR (action_type = 'start' AND queue_type = 'schedule') "
    "OR (action_type = 'complete' AND queue_type = 'youtube'))"
)


def prune_routine_before(conn: Connection, cutoff: str, *, dry_run: bool) -> int:
    """Delete (or with ``dry_run`` count) routine info rows written before ``cutoff``."""
    where = f"created_at < ? AND {ROUTINE}"
    if dry_run:
        return int(
            conn.execute(f"SELECT count(*) FROM task_logs WHERE {where}", (cutoff,)).fetchone()[0]
        )
    return conn.execute(f"DELETE FROM task_logs WHERE {where}", (cutoff,)).rowcount


def set_metadata(conn: Connection, log_id: int, metadata: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE task_logs SET metadata = ? WHERE id = ?",
        (json.dumps(metadata, ensure_ascii=False), log_id),
    )


def query(conn: Connection, filters: LogFilter) -> list[LogEntry]:
    """Newest first, as ``autoqueue logs`` shows them; with ``after_id``, oldest first (a follow
    tail)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("task_id", filters.task_id),
        ("level", filters.level),
        ("queue_type", filters.queue_type),
        ("action_type", filters.action),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(str(value))
    if filters.after_id is not None:
        clauses.append("id > ?")
        params.append(filters.after_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    # id breaks ties within one second; ids grow with time, so it also keeps rows in write order.
    order = "id" if filters.after_id is not None else "id DESC"
    sql = f"SELECT * FROM task_logs {where} ORDER BY {order}"
    if filters.limit is not None:
        sql += " LIMIT ?"
        params.append(filters.limit)
    return [LogEntry.from_row(row) for row in conn.execute(sql, params)]
