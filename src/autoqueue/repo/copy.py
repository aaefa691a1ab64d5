"""SQL for ``autoqueue db copy``: every row of one database into another, empty one (the
SQLite → PostgreSQL move of docs/hosts.md), and the row counts and checksums that
prove nothing was lost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from autoqueue.store.db import Connection, dialect

# Every table, parents first; its primary key orders the checksum. scheduler_lock is not
# copied: it names a process on the old database, and every worker takes it afresh.
TABLES: tuple[tuple[str, str], ...] = (
    ("contents", "id"),
    ("tasks", "id"),
    ("task_schedules", "id"),
    ("task_queue", "id"),
    ("task_logs", "id"),
    ("stage_state", "queue_id"),
    ("youtube_quota", "day, project"),
    ("autoqueue_meta", "key"),
    ("notifications", "id"),
)
IDENTITY_TABLES = ("task_schedules", "task_queue", "task_logs", "notifications")


def columns(conn: Connection, table: str) -> list[str]:
    """The table's columns, in the order of the target's schema."""
    return [str(row[0]) for row in conn.execute(dialect(conn).columns_sql, (table,)).fetchall()]


def counts(conn: Connection) -> dict[str, int]:
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table, _ in TABLES
    }


def rows(conn: Connection, table: str, names: list[str], key: str) -> Iterator[tuple[object, ...]]:
    listed = ", ".join(names)
    cursor = conn.execute(f"SELECT {listed} FROM {table} ORDER BY {key}")
    for row in cursor.fetchall():
        yield tuple(row)


def checksum(conn: Connection, table: str, names: list[str], key: str) -> str:
    """SHA-256 over the rows in key order, each value in one canonical JSON form."""
    digest = hashlib.sha256()
    for row in rows(conn, table, names, key):
        digest.update(json.dumps([_canonical(v) for v in row], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    if isinstance(value, (int, str)) or value is None:
        return value
    return repr(value)


def insert_rows(
    conn: Connection, table: str, names: list[str], rows: Iterable[tuple[object, ...]]
) -> None:
    placeholders = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"
    for row in rows:
        conn.execute(statement, row)


def link_contents(conn: Connection, pairs: list[tuple[str, str]]) -> None:
    """contents.task_id, set once the tasks exist (the two tables refer to each other)."""
    for content_id, task_id in pairs:
        conn.execute("UPDATE contents SET task_id = ? WHERE id = ?", (task_id, content_id))


def reset_identities(conn: Connection) -> None:
    """The next generated id of each identity column follows the copied rows."""
    reset = dialect(conn).identity_reset_sql
    if reset is None:
        return
    for table in IDENTITY_TABLES:
        conn.execute(reset.format(table=table))


def processing_count(conn: Connection) -> int:
    return int(
        conn.execute("SELECT count(*) FROM task_queue WHERE status = 'processing'").fetchone()[0]
    )


def meta(conn: Connection) -> dict[str, str]:
    return {
        str(row[0]): str(row[1])
        for row in conn.execute("SELECT key, value FROM autoqueue_meta").fetchall()
    }


def merge_meta(conn: Connection, facts: dict[str, str]) -> None:
    for key, value in facts.items():
        conn.execute(
            "INSERT INTO autoqueue_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
            (key, value),
        )
