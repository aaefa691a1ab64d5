"""SQL for ``stage_state`` and ``youtube_quota``."""

from __future__ import annotations

import json
from typing import Any

from autoqueue.store.db import Connection


def load(conn: Connection, queue_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT data FROM stage_state WHERE queue_id = ?", (queue_id,)).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, dict) else None


def save(conn: Connection, queue_id: int, data: dict[str, Any], now: str) -> None:
    conn.execute(
        "INSERT INTO stage_state (queue_id, data, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(queue_id) DO UPDATE SET data = excluded.data, "
        "updated_at = excluded.updated_at",
        (queue_id, json.dumps(data), now),
    )


def clear(conn: Connection, queue_id: int) -> None:
    conn.execute("DELETE FROM stage_state WHERE queue_id = ?", (queue_id,))


def quota_used(conn: Connection, project: str, day: str) -> int:
    row = conn.execute(
        "SELECT units FROM youtube_quota WHERE day = ? AND project = ?", (day, project)
    ).fetchone()
    return 0 if row is None else int(row[0])


def quota_spend(conn: Connection, project: str, day: str, units: int) -> None:
    conn.execute(
        "INSERT INTO youtube_quota (day, project, units) VALUES (?, ?, ?) "
        "ON CONFLICT(day, project) DO UPDATE SET units = youtube_quota.units + excluded.units",
        (day, project, units),
    )


def quota_at_least(conn: Connection, project: str, day: str, units: int) -> None:
    """Record that the day's quota is spent up to ``units`` (YouTube said quotaExceeded)."""
    conn.execute(
        "INSERT INTO youtube_quota (day, project, units) VALUES (?, ?, ?) "
        "ON CONFLICT(day, project) DO UPDATE SET units = CASE WHEN youtube_quota.units > "
        "excluded.units THEN youtube_quota.units ELSE excluded.units END",
        (day, project, units),
    )
