"""SQL for ``autoqueue_meta``: facts about the database itself (the home it belongs to)."""

from __future__ import annotations

from autoqueue.store.db import Connection


def get(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM autoqueue_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def put_if_absent(conn: Connection, key: str, value: str) -> str:
    """Record ``value`` unless the key has one already; returns the value that holds."""
    conn.execute(
        "INSERT INTO autoqueue_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
        (key, value),
    )
    found = get(conn, key)
    assert found is not None
    return found
