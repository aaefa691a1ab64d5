"""SQL for ``task_logs`` (seed 14.1, 14.2 and 14.4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autoqueue.db import Connection
from autoqueue.models import ActionType, LogEntry, LogLevel, QueueType


@dataclass(frozen=True)
class LogFilter:
    """Seed 14.4's filters; ``after_id`` serves ``logs --follow``."""

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
    """The seed's ``addLog`` helper."""
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


def set_metadata(conn: Connection, log_id: int, metadata: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE task_logs SET metadata = ? WHERE id = ?",
        (json.dumps(metadata, ensure_ascii=False), log_id),
    )


def query(conn: Connection, filters: LogFilter) -> list[LogEntry]:
    """Newest first, as the seed's log viewer; with ``after_id``, oldest first (a follow tail)."""
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
    return [LogEntry.model_validate(dict(row)) for row in conn.execute(sql, params)]
