"""SQL for ``task_queue``: the guarded state changes of an item, and the reads of the queue (the
claim is in autoqueue.repo.claim)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.owner import Owner
from autoqueue.repo import reads
from autoqueue.store.db import (
    EVERY_QUEUE,
    LATER_RUN,
    Connection,
    Row,
    canonical_time,
    dialect,
    notify,
)

ACTIVE = ("waiting", "processing")
WAKE = "any"  # the NOTIFY payload when any queue may have work


@dataclass
class UnreadableRow(Exception):
    """A task_queue row another program wrote in a form autoqueue cannot read."""

    item_id: int
    task_id: str
    queue_type: str
    reason: str
    columns: tuple[str, ...] = ()  # the columns holding values autoqueue cannot read


def read_item(row: Row) -> QueueItem:
    """A row as a QueueItem, or UnreadableRow naming what is wrong with it."""
    try:
        return QueueItem.model_validate(dict(row))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        columns = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        raise UnreadableRow(
            int(row["id"]),
            str(row["task_id"]),
            str(row["queue_type"]),
            f"{where} = {first.get('input')!r}: {first['msg']}",
            tuple(sorted(columns & set(QueueItem.model_fields))),
        ) from None


def insert(
    conn: Connection,
    *,
    task_id: str,
    schedule_id: int | None,
    queue_type: QueueType,
    max_retry: int,
    now: str,
    occurrence_at: str | None = None,
    review: bool = False,
) -> int:
    """A waiting item; with ``review``, one that waits for a person (no worker claims it)."""
    cursor = conn.execute(
        "INSERT INTO task_queue (task_id, schedule_id, queue_type, status, retry_count, max_retry, "
        "occurrence_at, created_at, updated_at, review_since) "
        "VALUES (?, ?, ?, 'waiting', 0, ?, ?, ?, ?, ?) RETURNING id",
        (
            task_id,
            schedule_id,
            queue_type.value,
            max_retry,
            occurrence_at,
            now,
            now,
            now if review else None,
        ),
    )
    item_id = int(cursor.fetchone()[0])
    if not review:
        notify(conn, queue_type.value)
    return item_id


def held_for_review(conn: Connection, task_id: str) -> QueueItem | None:
    """The task's item waiting for a person's review, if one is."""
    row = conn.execute(
        "SELECT * FROM task_queue WHERE task_id = ? AND status = 'waiting' "
        "AND review_since IS NOT NULL ORDER BY id LIMIT 1",
        (task_id,),
    ).fetchone()
    return None if row is None else read_item(row)


def approve(conn: Connection, item_id: int, now: str) -> bool:
    """A held item becomes claimable (idle workers are woken)."""
    row = conn.execute(
        "UPDATE task_queue SET review_since = NULL, updated_at = ? "
        "WHERE id = ? AND status = 'waiting' AND review_since IS NOT NULL RETURNING queue_type",
        (now, item_id),
    ).fetchone()
    if row is not None:
        notify(conn, str(row[0]))
    return row is not None


def reject(conn: Connection, item_id: int, reason: str, now: str) -> bool:
    """A held item fails with ``reason``; it keeps ``review_since``, which marks it as
    rejected: it never runs again (``retry`` refuses it)."""
    return (
        conn.execute(
            "UPDATE task_queue SET status = 'failed', error_message = ?, updated_at = ? "
            "WHERE id = ? AND status = 'waiting' AND review_since IS NOT NULL",
            (reason, now, item_id),
        ).rowcount
        == 1
    )


def get(conn: Connection, item_id: int) -> QueueItem | None:
    row = conn.execute("SELECT * FROM task_queue WHERE id = ?", (item_id,)).fetchone()
    return None if row is None else read_item(row)


def complete(conn: Connection, item_id: int, token: str, now: str) -> bool:
    """Mark done, only while still processing under this claim (a stop is never overwritten)."""
    cursor = conn.execute(
        "UPDATE task_queue SET status = 'completed', completed_at = ?, updated_at = ?, "
        "lease_expires_at = NULL, error_message = NULL, crash_count = 0, attempt_token = NULL "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (now, now, item_id, token),
    )
    if cursor.rowcount == 1:
        notify(conn, WAKE)  # a slot or an item: idle workers look again
    return cursor.rowcount == 1


def retry_later(
    conn: Connection,
    item_id: int,
    token: str,
    *,
    retry_count: int,
    next_retry_at: str,
    error: str,
    now: str,
    crash_count: int = 0,
) -> bool:
    """Back to waiting under this claim; ``crash_count`` is the run of attempts lost in a row
    (0 whenever an attempt recorded how it ended)."""
    cursor = conn.execute(
        "UPDATE task_queue SET status = 'waiting', retry_count = ?, next_retry_at = ?, "
        "error_message = ?, updated_at = ?, lease_expires_at = NULL, claim_token = NULL, "
        "crash_count = ?, attempt_token = NULL "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (retry_count, next_retry_at, error, now, crash_count, item_id, token),
    )
    if cursor.rowcount == 1:
        notify(conn, WAKE)  # a slot or an item: idle workers look again
    return cursor.rowcount == 1


def fail(conn: Connection, item_id: int, token: str, error: str, now: str) -> bool:
    cursor = conn.execute(
        "UPDATE task_queue SET status = 'failed', error_message = ?, updated_at = ?, "
        "lease_expires_at = NULL, attempt_token = NULL "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (error, now, item_id, token),
    )
    if cursor.rowcount == 1:
        notify(conn, WAKE)  # a slot or an item: idle workers look again
    return cursor.rowcount == 1


def set_crash_count(conn: Connection, item_id: int, count: int) -> None:
    conn.execute("UPDATE task_queue SET crash_count = ? WHERE id = ?", (count, item_id))


# What an unreadable value is replaced with once its row is set aside (the error message keeps
# the value); NULL for the other columns, which all allow it.
_RESET = {"retry_count": 0, "max_retry": 3, "attempt_no": 0, "crash_count": 0, "output_offset": 0}


def set_aside(
    conn: Connection, item_id: int, error: str, now: str, columns: Iterable[str] = ()
) -> None:
    """Fail a row that cannot be read (another program wrote it), whatever its state, and make
    it readable: each column in ``columns`` (QueueItem field names only) goes back to its
    default, so that ``show`` and the listings can display the failure."""
    resets = "".join(
        f", {column} = {_RESET.get(column, 'NULL')}"
        for column in columns
        if column in QueueItem.model_fields and column not in ("id", "task_id", "queue_type")
    )
    conn.execute(
        "UPDATE task_queue SET status = 'failed', error_message = ?, updated_at = ?, "
        f"lease_expires_at = NULL{resets} WHERE id = ?",
        (error, now, item_id),
    )


def begin_attempt(
    conn: Connection,
    item_id: int,
    token: str,
    *,
    attempt_token: str,
    attempt_no: int,
    program: str,
) -> bool:
    """Record the attempt about to start (before its first process exists)."""
    cursor = conn.execute(
        "UPDATE task_queue SET attempt_token = ?, attempt_no = ?, output_offset = 0, "
        "stage_pid = NULL, stage_started = NULL, stage_process_name = ? "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (attempt_token, attempt_no, program, item_id, token),
    )
    return cursor.rowcount == 1


def set_output_offset(conn: Connection, item_id: int, token: str, offset: int) -> bool:
    cursor = conn.execute(
        "UPDATE task_queue SET output_offset = ? "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (offset, item_id, token),
    )
    return cursor.rowcount == 1


def adopt(
    conn: Connection,
    item_id: int,
    token: str,
    *,
    new_token: str,
    owner: Owner,
    lease_until: str,
) -> QueueItem | None:
    """Make ``owner`` the owner of a processing item whose tick died (or hung past its lease),
    under a new claim token, so that the old tick, should it wake up, can record nothing."""
    row = conn.execute(
        "UPDATE task_queue SET owner_host = ?, owner_pid = ?, owner_started = ?, "
        "lease_expires_at = ?, claim_token = ? "
        "WHERE id = ? AND status = 'processing' AND claim_token = ? RETURNING *",
        (owner.host, owner.pid, owner.started, lease_until, new_token, item_id, token),
    ).fetchone()
    return None if row is None else read_item(row)


def claim_state(conn: Connection, item_id: int) -> tuple[str, str | None] | None:
    """(status, claim token) of an item, or None when it is gone."""
    row = conn.execute(
        "SELECT status, claim_token FROM task_queue WHERE id = ?", (item_id,)
    ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def stop_processing(conn: Connection, task_id: str, error: str, now: str) -> int:
    """``stop``, step 1: the task's processing items become failed; returns how many."""
    return conn.execute(
        "UPDATE task_queue SET status = 'failed', error_message = ?, updated_at = ?, "
        "lease_expires_at = NULL WHERE task_id = ? AND status = 'processing'",
        (error, now, task_id),
    ).rowcount


def stop_processes(conn: Connection, task_id: str) -> list[Row]:
    """What a stop must kill: the attempt token and recorded process of every processing item
    of the task (read raw, so that even a row autoqueue cannot otherwise read is stopped)."""
    return conn.execute(
        "SELECT id, owner_host, stage_pid, stage_started, stage_process_name, attempt_token "
        "FROM task_queue WHERE task_id = ? AND status = 'processing' ORDER BY id",
        (task_id,),
    ).fetchall()


def odd_retry_times(conn: Connection) -> list[Row]:
    """Waiting items whose retry time is not SQLite's own UTC text (another program's)."""
    if dialect(conn).typed_times:
        return []
    return conn.execute(
        f"SELECT id, task_id, next_retry_at FROM task_queue WHERE {EVERY_QUEUE} "
        "AND status = 'waiting' AND next_retry_at IS NOT NULL "
        f"AND NOT {canonical_time('next_retry_at')}"
    ).fetchall()


def set_retry_time(
    conn: Connection, item_id: int, *, expected: object, next_retry_at: str | None
) -> bool:
    cursor = conn.execute(
        "UPDATE task_queue SET next_retry_at = ? WHERE id = ? "
        "AND next_retry_at IS NOT DISTINCT FROM ?",
        (next_retry_at, item_id, expected),
    )
    return cursor.rowcount == 1


def delete_waiting(conn: Connection, task_id: str) -> int:
    """``stop``, step 2: the task's waiting items are deleted; returns how many."""
    return conn.execute(
        "DELETE FROM task_queue WHERE task_id = ? AND status = 'waiting'", (task_id,)
    ).rowcount


def set_stage_process(
    conn: Connection, item_id: int, token: str, *, pid: int, started: float, name: str
) -> bool:
    cursor = conn.execute(
        "UPDATE task_queue SET stage_pid = ?, stage_started = ?, stage_process_name = ? "
        "WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (pid, started, name, item_id, token),
    )
    return cursor.rowcount == 1


def renew_leases(conn: Connection, owner: Owner, lease_until: str) -> int:
    cursor = conn.execute(
        f"UPDATE task_queue SET lease_expires_at = ? WHERE {EVERY_QUEUE} "
        "AND status = 'processing' AND owner_host = ? AND owner_pid = ? AND owner_started = ?",
        (lease_until, owner.host, owner.pid, owner.started),
    )
    return cursor.rowcount


def processing(conn: Connection) -> list[QueueItem | UnreadableRow]:
    """Every processing item; a row that cannot be read comes back as UnreadableRow."""
    rows = conn.execute(
        f"SELECT * FROM task_queue WHERE {EVERY_QUEUE} AND status = 'processing' ORDER BY id"
    ).fetchall()
    found: list[QueueItem | UnreadableRow] = []
    for row in rows:
        try:
            found.append(read_item(row))
        except UnreadableRow as bad:
            found.append(bad)
    return found


def is_still_claimed(conn: Connection, item_id: int, token: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM task_queue WHERE id = ? AND status = 'processing' AND claim_token = ?",
        (item_id, token),
    ).fetchone()
    return row is not None


def for_task(conn: Connection, task_id: str) -> list[QueueItem]:
    return [QueueItem.model_validate(dict(row)) for row in reads.queue_items(conn, task_id)]


def active_count(conn: Connection, task_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM task_queue WHERE task_id = ? AND status IN ('waiting', 'processing')",
        (task_id,),
    ).fetchone()
    return int(row[0])


def unstarted_run(conn: Connection, task_id: str) -> QueueItem | None:
    """The task's run that has not left its schedule stage (waiting, or in it now), if any."""
    row = conn.execute(
        "SELECT * FROM task_queue WHERE task_id = ? AND queue_type = 'schedule' "
        "AND status IN ('waiting', 'processing') ORDER BY id LIMIT 1",
        (task_id,),
    ).fetchone()
    return None if row is None else QueueItem.model_validate(dict(row))


def latest_failed(conn: Connection, task_id: str) -> QueueItem | None:
    row = conn.execute(
        "SELECT * FROM task_queue WHERE task_id = ? AND status = 'failed' ORDER BY id DESC LIMIT 1",
        (task_id,),
    ).fetchone()
    return None if row is None else QueueItem.model_validate(dict(row))


def supersede_failed(conn: Connection, task_id: str, now: str) -> int:
    """A new run of the task started: its failed items belong to runs it replaced, and are
    marked so that they never run again. Returns how many."""
    return conn.execute(
        "UPDATE task_queue SET superseded_at = ? "
        "WHERE task_id = ? AND status = 'failed' AND superseded_at IS NULL",
        (now, task_id),
    ).rowcount


def is_superseded(conn: Connection, item: QueueItem) -> bool:
    """Whether a later run of the item's task started: it is marked so, or (a row another
    program wrote) the rows after it say so."""
    if item.superseded_at is not None:
        return True
    row = conn.execute(
        f"SELECT 1 FROM task_queue AS item WHERE item.id = ? AND {LATER_RUN.format(item='item')}",
        (item.id,),
    ).fetchone()
    return row is not None


def reset_for_retry(conn: Connection, item_id: int, now: str) -> bool:
    """The retry button (``autoqueue retry``): back to waiting with a fresh retry budget (and
    crash budget)."""
    cursor = conn.execute(
        "UPDATE task_queue SET status = 'waiting', retry_count = 0, crash_count = 0, "
        "next_retry_at = NULL, error_message = NULL, claim_token = NULL, updated_at = ? "
        "WHERE id = ? AND status = 'failed'",
        (now, item_id),
    )
    if cursor.rowcount == 1:
        notify(conn, WAKE)  # a slot or an item: idle workers look again
    return cursor.rowcount == 1


def delete_completed_before(conn: Connection, cutoff: str, *, dry_run: bool) -> int:
    """``cleanup``'s retention: remove completed rows older than ``cutoff``; no other queue row
    is deleted for its age."""
    where = "status = 'completed' AND completed_at < ?"
    if dry_run:
        return int(
            conn.execute(f"SELECT count(*) FROM task_queue WHERE {where}", (cutoff,)).fetchone()[0]
        )
    return conn.execute(f"DELETE FROM task_queue WHERE {where}", (cutoff,)).rowcount


def processing_ids(conn: Connection) -> list[Row]:
    return conn.execute(
        f"SELECT id FROM task_queue WHERE {EVERY_QUEUE} AND status = 'processing'"
    ).fetchall()
