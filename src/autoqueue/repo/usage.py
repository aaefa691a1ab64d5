"""SQL for ``autoqueue usage`` and doctor's look at tomorrow: the quota and spend ledgers' rows of
recent days (``youtube_quota``), the uploads the youtube stage's completions recorded
(``task_logs``), and the active schedules with their tasks. Read only."""

from __future__ import annotations

from autoqueue.store.db import Connection, Row


def ledger_rows(conn: Connection, since_day: str) -> list[tuple[str, str, int]]:
    """(day, row name, units) of every ledger row of ``since_day`` (YYYY-MM-DD) or later: the
    YouTube projects' units per Pacific day, the AI providers' requests and dollars per UTC
    day, and each channel's part of both (autoqueue.kinds.per_channel)."""
    rows = conn.execute(
        "SELECT day, project, units FROM youtube_quota WHERE day >= ? ORDER BY day, project",
        (since_day,),
    ).fetchall()
    return [(str(row[0]), str(row[1]), int(row[2])) for row in rows]


def upload_rows(conn: Connection, since: str) -> list[tuple[str, object]]:
    """(time, metadata) of the youtube stage's completions since ``since`` (UTC text): the log
    rows cleanup keeps (a run's last row), whose metadata names the video and its channel."""
    rows = conn.execute(
        "SELECT created_at, metadata FROM task_logs WHERE action_type = 'complete' "
        "AND queue_type = 'youtube' AND created_at >= ? ORDER BY id",
        (since,),
    ).fetchall()
    return [(str(row[0]), row[1]) for row in rows]


def active_schedules(conn: Connection) -> list[Row]:
    """Every active schedule with a run to come, with its task's id, type and settings."""
    return conn.execute(
        "SELECT s.*, t.type AS task_type, t.settings AS task_settings FROM task_schedules AS s "
        "JOIN tasks AS t ON t.id = s.task_id "
        "WHERE s.is_active = 1 AND s.next_run_at IS NOT NULL ORDER BY s.id"
    ).fetchall()
