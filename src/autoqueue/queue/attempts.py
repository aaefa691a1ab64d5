"""A claimed item's attempt as it runs, each step one transaction: its start, its supervisor, its
output copied into the log, and its adoption by another tick when the one that started it died.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from autoqueue.kinds import ActionType, LogLevel
from autoqueue.models import QueueItem
from autoqueue.owner import Owner
from autoqueue.queue.policy import Policy
from autoqueue.queue.records import log_item
from autoqueue.repo import queue as queue_repo
from autoqueue.stages.base import StageLog
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import to_db


def record_start(
    conn: Connection, item: QueueItem, *, pid: int, name: str, message: str, now: datetime
) -> None:
    """Log a ``start`` row for a stage the tick runs itself (the internal schedule stage)."""
    with transaction(conn):
        log_item(
            conn,
            item,
            LogLevel.INFO,
            message,
            stamp=to_db(now),
            action=ActionType.START,
            pid=pid,
            process_name=name,
            metadata={"attempt": item.retry_count + 1},
        )


def begin_attempt(
    conn: Connection, item: QueueItem, *, token: str, attempt_no: int, program: str
) -> bool:
    """Record the attempt about to start, before any of its processes exists, so that a tick
    dying at any later point leaves a token to find them by. False: the item is no longer ours."""
    assert item.claim_token is not None
    with transaction(conn):
        return queue_repo.begin_attempt(
            conn,
            item.id,
            item.claim_token,
            attempt_token=token,
            attempt_no=attempt_no,
            program=program,
        )


def record_supervisor(
    conn: Connection, item: QueueItem, *, pid: int, started: float, name: str
) -> bool:
    """Record the attempt's supervisor (pid and start time), which stop and recovery look for."""
    assert item.claim_token is not None
    with transaction(conn):
        return queue_repo.set_stage_process(
            conn, item.id, item.claim_token, pid=pid, started=started, name=name
        )


def copy_output(
    conn: Connection,
    item: QueueItem,
    entries: list[tuple[str, StageLog]],
    offset: int,
) -> bool:
    """Log an attempt's entries (each with the time it was written) and record how far its
    output file has been copied, in one transaction, so that no entry is logged twice or lost
    whichever tick copies it. False: the item is no longer ours (nothing written)."""
    assert item.claim_token is not None
    with transaction(conn):
        if not queue_repo.set_output_offset(conn, item.id, item.claim_token, offset):
            return False
        for stamp, entry in entries:
            log_item(
                conn,
                item,
                entry.level,
                entry.message,
                stamp=stamp,
                action=entry.action,
                pid=entry.pid,
                process_name=entry.process_name,
                metadata=entry.metadata,
            )
    return True


def adopt_item(
    conn: Connection,
    item: QueueItem,
    owner: Owner,
    policy: Policy,
    now: datetime,
    message: str,
) -> QueueItem | None:
    """Take over a processing item whose tick died while its attempt runs on: ``owner`` now
    renews its lease and records its result. None: the item is no longer processing."""
    assert item.claim_token is not None
    with transaction(conn):
        adopted = queue_repo.adopt(
            conn,
            item.id,
            item.claim_token,
            new_token=secrets.token_hex(16),
            owner=owner,
            lease_until=policy.lease_until(now),
        )
        if adopted is not None:
            log_item(
                conn, adopted, LogLevel.WARN, message, stamp=to_db(now), action=ActionType.START
            )
    return adopted
