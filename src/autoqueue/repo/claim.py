"""SQL for the claim of ``task_queue`` (docs/concepts.md "How a tick works", step 4): the oldest
ready item of a queue taken into a free slot, and whether any queue has one to take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.owner import Owner
from autoqueue.repo.queue import read_item
from autoqueue.store.db import POSTGRES, SQLITE, Connection, Dialect, IntegrityError, dialect

# The claim, ordered by (created_at, id) through idx_task_queue_claim. It could be one
# UPDATE ... WHERE id = (SELECT ...); here it is a SELECT and an UPDATE by primary key
# inside the caller's write transaction. On SQLite that transaction holds the write lock
# throughout (BEGIN IMMEDIATE), so it is just as atomic, and three times faster (SQLite plans the
# nested form poorly). On PostgreSQL the SELECT takes the row FOR UPDATE SKIP LOCKED: claimers on
# several hosts each take a different row and never wait on one another.
#
# Invariant 1 (at most ``concurrency`` processing items per queue type, 1 unless autoqueue.toml
# raises it): the candidate is only looked for while fewer are processing, and the UPDATE takes a
# free slot number, which the partial unique index idx_task_queue_slot makes unique per queue
# type whatever process or host claims: two claimers racing for the last slot cannot both win.
#
# The queue type is written into the SQL as a literal (one statement per QueueType member, never
# user text), not bound as a parameter: task_queue has partial indexes on queue_type and status,
# and when a bound parameter decides whether a partial index applies, SQLite re-prepares the
# statement every time the parameter is bound. A bound queue type made each claim compile its
# query anew: four times the cost of the lookup itself.
_CANDIDATE_TEMPLATE = """
SELECT q.id FROM task_queue AS q
WHERE q.queue_type = '{queue_type}' AND q.status = 'waiting'
  AND (q.next_retry_at IS NULL OR q.next_retry_at <= :now) AND q.review_since IS NULL
  AND {room}
  {schedule_rule}
ORDER BY q.created_at, q.id
LIMIT 1{lock}
"""

# Room for one more: the common case (one slot) as NOT EXISTS, the general one as a count.
_ONE_SLOT = """NOT EXISTS (
    SELECT 1 FROM task_queue WHERE queue_type = '{queue_type}' AND status = 'processing')"""
_SLOTS = """(SELECT count(*) FROM task_queue
       WHERE queue_type = '{queue_type}' AND status = 'processing') < :slots"""

# The schedule queue adds one rule: a run waits while its task still has a run in flight (in a
# later stage, or in its schedule stage now: with `[queues.schedule] concurrency` above 1, or
# two runs a database of an older version left waiting), so that two runs of one task never
# share a folder. It needs the task id, which the other queues' claim does without (their
# candidate comes from the covering index alone, twice as fast).
_RUN_IN_FLIGHT = """EXISTS (
    SELECT 1 FROM task_queue AS other
    WHERE other.task_id = q.task_id AND other.id != q.id
      AND other.status IN ('waiting', 'processing')
      AND (other.queue_type != 'schedule' OR other.status = 'processing'))"""
_SCHEDULE_RULE = f"AND NOT {_RUN_IN_FLIGHT}"


def _candidate(queue_type: QueueType, *, one_slot: bool, spoken: Dialect) -> str:
    room = _ONE_SLOT if one_slot else _SLOTS
    return _CANDIDATE_TEMPLATE.format(
        queue_type=queue_type.value,
        room=room.format(queue_type=queue_type.value),
        schedule_rule=_SCHEDULE_RULE if queue_type is QueueType.SCHEDULE else "",
        lock=spoken.claim_lock,
    )


# (queue type, one slot, dialect) -> the statement
CANDIDATE: dict[tuple[QueueType, bool, Dialect], str] = {
    (queue_type, one_slot, spoken): _candidate(queue_type, one_slot=one_slot, spoken=spoken)
    for queue_type in QueueType
    for one_slot in (True, False)
    for spoken in (SQLITE, POSTGRES)
}

_TAKE = """
UPDATE task_queue
SET status = 'processing', updated_at = :now, claim_token = :token,
    owner_host = :host, owner_pid = :pid, owner_started = :started, lease_expires_at = :lease,
    stage_pid = NULL, stage_started = NULL, stage_process_name = NULL,
    attempt_token = NULL, output_offset = 0, slot = :slot
WHERE id = :id AND status = 'waiting'
RETURNING *
"""


def _free_slots(conn: Connection, queue_type: QueueType, slots: int) -> list[int]:
    if slots == 1:
        return [0]
    taken = {
        row[0]
        for row in conn.execute(
            f"SELECT slot FROM task_queue WHERE queue_type = '{queue_type.value}' "
            "AND status = 'processing'"
        ).fetchall()
    }
    return [slot for slot in range(slots) if slot not in taken]


def claim(
    conn: Connection,
    queue_type: QueueType,
    *,
    owner: Owner,
    token: str,
    lease_until: str,
    now: str,
    slots: int = 1,
) -> QueueItem | None:
    """Take the oldest ready item of ``queue_type`` while fewer than ``slots`` of its type are
    processing. Call inside a write transaction.

    Raises UnreadableRow (with the row taken) when the row cannot be read; the caller sets it
    aside in the same transaction. On PostgreSQL, a slot another host took first is given up
    inside a savepoint: a unique violation would otherwise abort the caller's whole transaction
    (a completion recorded in it included)."""
    spoken = dialect(conn)
    statement = CANDIDATE[(queue_type, slots == 1, spoken)]
    candidate = conn.execute(statement, {"now": now, "slots": slots}).fetchone()
    if candidate is None:
        return None
    params: dict[str, object] = {
        "id": candidate[0],
        "now": now,
        "token": token,
        "host": owner.host,
        "pid": owner.pid,
        "started": owner.started,
        "lease": lease_until,
    }
    for slot in _free_slots(conn, queue_type, slots):
        params["slot"] = slot
        if not spoken.shared:  # one writer at a time: no other claim can take this slot
            row = conn.execute(_TAKE, params).fetchone()
            return None if row is None else read_item(row)
        conn.execute("SAVEPOINT claim_slot")
        try:
            row = conn.execute(_TAKE, params).fetchone()
        except IntegrityError:
            conn.execute("ROLLBACK TO SAVEPOINT claim_slot")
            continue  # another host took this slot a moment ago: try the next free one
        conn.execute("RELEASE SAVEPOINT claim_slot")
        return None if row is None else read_item(row)
    return None


def claimed(conn: Connection, queue_type: QueueType, token: str) -> QueueItem | None:
    """The item processing under claim ``token``, if a claim with it committed. The queue type
    is written into the SQL, as in CANDIDATE (a bound one would re-prepare the statement)."""
    row = conn.execute(
        f"SELECT * FROM task_queue WHERE queue_type = '{queue_type.value}' "
        "AND status = 'processing' AND claim_token = ?",
        (token,),
    ).fetchone()
    return None if row is None else read_item(row)


def claimable_exists(
    conn: Connection,
    now: str,
    queue_types: Iterable[QueueType],
    slots: Mapping[QueueType, int] | None = None,
) -> bool:
    """Whether one of ``queue_types`` has a ready waiting item and a free slot: an item that
    :func:`claim` would take (a tick waits while one exists, so the two must agree)."""
    # Literals from the enum, not bound parameters: see CANDIDATE on partial indexes.
    names = sorted(f"'{QueueType(queue_type).value}'" for queue_type in queue_types)
    if not names:
        return False
    limits = " ".join(
        f"WHEN '{queue_type.value}' THEN {int(count)}"
        for queue_type, count in (slots or {}).items()
    )
    limit = f"CASE q.queue_type {limits} ELSE 1 END" if limits else "1"
    row = conn.execute(
        f"SELECT 1 FROM task_queue AS q WHERE q.queue_type IN ({', '.join(names)}) "
        "AND q.status = 'waiting' AND (q.next_retry_at IS NULL OR q.next_retry_at <= ?) "
        "AND q.review_since IS NULL "
        f"AND (q.queue_type != 'schedule' OR NOT {_RUN_IN_FLIGHT}) "
        "AND (SELECT count(*) FROM task_queue AS p "
        f"  WHERE p.queue_type = q.queue_type AND p.status = 'processing') < {limit} LIMIT 1",
        (now,),
    ).fetchone()
    return row is not None
