"""A person's review of an item held before its stage ([review] before, docs/review.md): approve
makes it claimable, reject fails it for good. Each one transaction, with a log row naming who
decided and when."""

from __future__ import annotations

from datetime import datetime

from autoqueue.i18n import _, queue_label
from autoqueue.kinds import ActionType, LogLevel
from autoqueue.models import QueueItem
from autoqueue.queue.records import log_item, mark_task_failed
from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import to_db


def approve_item(conn: Connection, item: QueueItem, *, user: str, now: datetime) -> bool:
    """The held item goes to the workers. False when it is no longer held (decided already,
    or stopped)."""
    stamp = to_db(now)
    with transaction(conn):
        if not queue_repo.approve(conn, item.id, stamp):
            return False
        log_item(
            conn,
            item,
            LogLevel.INFO,
            _("✔ approved by {user}: «{stage}» goes on").format(
                user=user, stage=queue_label(item.queue_type.value)
            ),
            stamp=stamp,
            action=ActionType.RESUME,
            metadata={"review": "approved", "by": user},
        )
    return True


def reject_item(
    conn: Connection, item: QueueItem, *, reason: str, user: str, now: datetime
) -> bool:
    """The held item fails with the reviewer's reason and never runs (``retry`` refuses a
    rejected item); the run ends there. False when it is no longer held."""
    stamp = to_db(now)
    message = _("rejected by {user}: {reason}").format(user=user, reason=reason)
    with transaction(conn):
        if not queue_repo.reject(conn, item.id, message, stamp):
            return False
        mark_task_failed(conn, item.task_id, message, stamp)
        log_item(
            conn,
            item,
            LogLevel.WARN,
            _("✖ «{stage}» rejected by {user}: {reason}").format(
                stage=queue_label(item.queue_type.value), user=user, reason=reason
            ),
            stamp=stamp,
            action=ActionType.STOP,
            metadata={"review": "rejected", "by": user, "reason": reason},
        )
    return True
