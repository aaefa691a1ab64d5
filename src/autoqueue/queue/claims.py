"""The claim (docs/concepts.md "How a tick works", step 4): the oldest ready item of a queue
taken, in one transaction, if the queue has a free slot; a row that cannot be read is set aside
on the way."""

from __future__ import annotations

import secrets
from datetime import datetime

from autoqueue import failpoints
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.models import QueueItem
from autoqueue.owner import Owner
from autoqueue.queue.policy import Policy
from autoqueue.queue.records import guarded_log
from autoqueue.repo import claim as claim_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo.queue import UnreadableRow
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import to_db


def claim_next(
    conn: Connection,
    queue_type: QueueType,
    owner: Owner,
    policy: Policy,
    now: datetime,
    *,
    token: str | None = None,
    resent: bool = False,
) -> QueueItem | None:
    """The claim: atomically take the oldest ready item of ``queue_type``, if the queue has a
    free slot (docs/concepts.md "How a tick works", step 4).

    ``token``: the claim token to take it with (a new one by default). ``resent``: a claim under
    that token was sent before and its answer lost (the connection went with its COMMIT); the
    item it took, if it committed, is this claim's, rather than one more left processing."""
    with transaction(conn):
        if resent and token is not None:
            taken = claim_repo.claimed(conn, queue_type, token)
            if taken is not None:
                return taken
        return claim_in_transaction(conn, queue_type, owner, policy, now, token=token)


def claim_in_transaction(
    conn: Connection,
    queue_type: QueueType,
    owner: Owner,
    policy: Policy,
    now: datetime,
    *,
    token: str | None = None,
) -> QueueItem | None:
    """The claim, inside the caller's write transaction. A row that cannot be read is set aside
    (failed, with a log row saying why) and the next one is tried: one bad row written by
    another program never blocks the queue."""
    while True:
        try:
            item = claim_repo.claim(
                conn,
                queue_type,
                owner=owner,
                token=token or secrets.token_hex(16),
                lease_until=policy.lease_until(now),
                now=to_db(now),
                slots=policy.concurrency(queue_type),
            )
        except db_errors.IntegrityError:
            # The partial unique index caught a second item in one slot: another claim won.
            # SQLite undid just that statement; the caller's transaction goes on. (PostgreSQL
            # never gets here: claim_repo.claim gives the slot up inside a savepoint.)
            return None
        except UnreadableRow as bad:
            set_aside_item(conn, bad, to_db(now))
            continue
        if item is not None:
            failpoints.hit("claim", queue_type.value)
        return item


def set_aside_item(conn: Connection, bad: UnreadableRow, stamp: str) -> None:
    """Fail a queue row that cannot be read, with a log row naming the bad value, in one
    transaction (a savepoint inside the claim's)."""
    with transaction(conn):
        _set_aside(conn, bad, stamp)


def _set_aside(conn: Connection, bad: UnreadableRow, stamp: str) -> None:
    message = _("queue item {id} set aside: it cannot be read ({reason})").format(
        id=bad.item_id, reason=bad.reason
    )
    queue_repo.set_aside(conn, bad.item_id, message, stamp, bad.columns)
    guarded_log(
        conn,
        bad.task_id,
        LogLevel.ERROR,
        f"❌ {message}",
        stamp,
        action=ActionType.FAIL,
        queue_id=bad.item_id,
        queue_type=QueueType(bad.queue_type) if bad.queue_type in set(QueueType) else None,
    )
