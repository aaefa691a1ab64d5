"""SQL for ``task_schedules``."""

from __future__ import annotations

import json
from typing import Any

from autoqueue.models import Schedule
from autoqueue.repo import reads
from autoqueue.store.db import Connection, Row, canonical_time, dialect


def insert(
    conn: Connection,
    *,
    task_id: str,
    scheduled_time: str | None,
    repeat_type: str,
    repeat_config: dict[str, Any],
    next_run_at: str | None,
    channel: str | None,
    privacy: str,
    publish_time: str | None,
    now: str,
) -> Schedule:
    """Insert a schedule; returns the row as stored (its id included)."""
    cursor = conn.execute(
        "INSERT INTO task_schedules (task_id, scheduled_time, repeat_type, repeat_config, "
        "next_run_at, is_active, channel_setting_id, youtube_privacy, youtube_publish_time, "
        "created_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING *",
        (
            task_id,
            scheduled_time,
            repeat_type,
            json.dumps(repeat_config, ensure_ascii=False),
            next_run_at,
            channel,
            privacy,
            publish_time,
            now,
        ),
    )
    return Schedule.model_validate(dict(cursor.fetchone()))


def get(conn: Connection, schedule_id: int) -> Schedule | None:
    row = conn.execute("SELECT * FROM task_schedules WHERE id = ?", (schedule_id,)).fetchone()
    return None if row is None else Schedule.model_validate(dict(row))


def for_task(conn: Connection, task_id: str) -> list[Schedule]:
    return [Schedule.model_validate(dict(row)) for row in reads.schedules(conn, task_id)]


def due_rows(conn: Connection, now: str, limit: int) -> list[tuple[int, str, str]]:
    """(id, task_id, next_run_at) of active schedules due at ``now``, soonest first."""
    rows = conn.execute(
        "SELECT id, task_id, next_run_at FROM task_schedules WHERE is_active = 1 "
        "AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?",
        (now, limit),
    )
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]


def odd_next_runs(conn: Connection) -> list[Row]:
    """Active schedules whose next run is missing or not SQLite's own UTC text."""
    if dialect(conn).typed_times:
        return []
    return conn.execute(
        "SELECT id, task_id, next_run_at FROM task_schedules WHERE is_active = 1 "
        f"AND NOT {canonical_time('next_run_at')}"
    ).fetchall()


def set_next_run(conn: Connection, schedule_id: int, *, expected: object, next_run_at: str) -> bool:
    cursor = conn.execute(
        "UPDATE task_schedules SET next_run_at = ? WHERE id = ? "
        "AND next_run_at IS NOT DISTINCT FROM ?",
        (next_run_at, schedule_id, expected),
    )
    return cursor.rowcount == 1


def deactivate(conn: Connection, schedule_id: int) -> bool:
    cursor = conn.execute(
        "UPDATE task_schedules SET is_active = 0 WHERE id = ? AND is_active = 1", (schedule_id,)
    )
    return cursor.rowcount == 1


def advance(conn: Connection, schedule_id: int, *, expected: str, next_run_at: str | None) -> bool:
    """Compare-and-set: move ``next_run_at`` on only if it still holds the occurrence we saw."""
    cursor = conn.execute(
        "UPDATE task_schedules SET next_run_at = ?, is_active = ? "
        "WHERE id = ? AND is_active = 1 AND next_run_at = ?",
        (next_run_at, 0 if next_run_at is None else 1, schedule_id, expected),
    )
    return cursor.rowcount == 1


def set_state(conn: Connection, schedule_id: int, *, active: bool, next_run_at: str | None) -> None:
    conn.execute(
        "UPDATE task_schedules SET is_active = ?, next_run_at = ? WHERE id = ?",
        (1 if active else 0, next_run_at, schedule_id),
    )


def deactivate_for_task(conn: Connection, task_id: str) -> int:
    cursor = conn.execute(
        "UPDATE task_schedules SET is_active = 0 WHERE task_id = ? AND is_active = 1", (task_id,)
    )
    return cursor.rowcount


def update(
    conn: Connection,
    schedule_id: int,
    *,
    scheduled_time: str | None,
    repeat_type: str,
    repeat_config: dict[str, Any],
    next_run_at: str | None,
    channel: str | None,
    privacy: str,
    publish_time: str | None,
) -> None:
    conn.execute(
        "UPDATE task_schedules SET scheduled_time = ?, repeat_type = ?, repeat_config = ?, "
        "next_run_at = ?, channel_setting_id = ?, youtube_privacy = ?, youtube_publish_time = ? "
        "WHERE id = ?",
        (
            scheduled_time,
            repeat_type,
            json.dumps(repeat_config, ensure_ascii=False),
            next_run_at,
            channel,
            privacy,
            publish_time,
            schedule_id,
        ),
    )
