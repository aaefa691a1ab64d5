"""SQL for ``scheduler_lock``, the leader's lease (docs/concepts.md "How a tick works", step 1): one
named lock with an owner and an expiry."""

from __future__ import annotations

from autoqueue.owner import Owner
from autoqueue.store.db import Connection, Row, dialect


def acquire(
    conn: Connection,
    name: str,
    owner: Owner,
    *,
    now: str,
    expires_at: str,
    dead_owner: tuple[str, float | None] | None = None,
) -> bool:
    """Take the lock when it is free, expired, already ours, or held by ``dead_owner``.

    ``dead_owner`` is the (label, start time) of a holder found dead; matching both means a
    holder that took the lock since then is never displaced.
    """
    cursor = conn.execute(
        "INSERT INTO scheduler_lock (lock_name, locked_at, locked_by, expires_at, owner_started) "
        "VALUES (:name, :now, :me, :expires, :started) "
        "ON CONFLICT(lock_name) DO UPDATE SET locked_at = :now, locked_by = :me, "
        "expires_at = :expires, owner_started = :started "
        "WHERE scheduler_lock.locked_by IS NULL OR scheduler_lock.expires_at IS NULL "
        "OR scheduler_lock.expires_at <= :now "
        "OR (scheduler_lock.locked_by = :me "
        "AND scheduler_lock.owner_started IS NOT DISTINCT FROM :started) "
        "OR (scheduler_lock.locked_by = :dead "
        "AND scheduler_lock.owner_started IS NOT DISTINCT FROM :dead_started)",
        {
            "name": name,
            "now": now,
            "me": owner.label,
            "expires": expires_at,
            "started": owner.started,
            "dead": None if dead_owner is None else dead_owner[0],
            "dead_started": None if dead_owner is None else dead_owner[1],
        },
    )
    return cursor.rowcount == 1


def holder(conn: Connection, name: str, *, for_update: bool = False) -> Row | None:
    """The lock's holder, if any. ``for_update``: PostgreSQL locks the row until the caller's
    transaction ends, so that what it decides from the holder (taking over a dead one) is not
    raced by another host (SQLite's write transaction already excludes everyone)."""
    lock = dialect(conn).lock_read if for_update else ""
    row: Row | None = conn.execute(
        "SELECT * FROM scheduler_lock WHERE lock_name = ? AND locked_by IS NOT NULL" + lock,
        (name,),
    ).fetchone()
    return row


def renew(conn: Connection, name: str, owner: Owner, expires_at: str) -> bool:
    cursor = conn.execute(
        "UPDATE scheduler_lock SET expires_at = ? WHERE lock_name = ? AND locked_by = ? "
        "AND owner_started IS NOT DISTINCT FROM ?",
        (expires_at, name, owner.label, owner.started),
    )
    return cursor.rowcount == 1


def release(conn: Connection, name: str, owner: Owner) -> None:
    conn.execute(
        "UPDATE scheduler_lock SET locked_by = NULL, locked_at = NULL, expires_at = NULL, "
        "owner_started = NULL WHERE lock_name = ? AND locked_by = ? "
        "AND owner_started IS NOT DISTINCT FROM ?",
        (name, owner.label, owner.started),
    )
