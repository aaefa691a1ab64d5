"""One pass over the notifications still to send (docs/notifications.md "Sent once"): the
leader records the day's digest when it is due; rows claimed by a sender that died are given up;
then each pending row whose time has come is claimed, sent outside any transaction, and
finished under its claim.

**At most once.** The claim (``pending`` → ``sending``, a compare-and-set, in a transaction
of its own) is the commit point: of two senders only one claims a row, and a claimed row is
never claimed again. A sender that dies between its claim and its record of how the send went
leaves the row ``sending``; after :data:`STALE` it is given up with a warning, not sent again,
because the message may well have gone out. A send that *failed* (the service said no, or did
not answer within the timeout) is another matter: it is recorded, with a warn log row, and tried
again from the next tick on, at most :data:`MAX_ATTEMPTS` times in all, only to the URLs that did
not take it yet. A service that took the message but answered too late is the one way a message
arrives twice.

Nothing here raises into a stage: the worker runs this in a thread of its own
(autoqueue.notify.notifier), and Apprise is imported only when a row is actually sent."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from autoqueue import failpoints
from autoqueue.config import NotifyConfig
from autoqueue.i18n import _
from autoqueue.kinds import EventKind, LogLevel, NotificationStatus, QueueType
from autoqueue.notify.digest import record_digest
from autoqueue.notify.messages import render
from autoqueue.notify.send import Delivery, deliver
from autoqueue.notify.targets import Target, targets
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import notifications as notifications_repo
from autoqueue.repo.notifications import Notification
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, retry_busy, short_wait, transaction
from autoqueue.timeutil import to_db

MAX_ATTEMPTS = 5
# Seconds before try 2, 3, 4, 5 (cron's next tick at the least).
RETRY_SECONDS = (30, 60, 120, 300)
# A row claimed this long ago without a record of how its send went: its sender died.
STALE = timedelta(minutes=10)
BATCH = 20
RECORD_PATIENCE = 30.0  # seconds a sent message's record waits out a busy database


@dataclass
class Passed:
    """What one pass did; ``notices`` are lines for the worker's output (secrets masked)."""

    sent: int = 0
    failed: int = 0
    given_up: int = 0
    digest: bool = False
    notices: list[str] = field(default_factory=list)


def wanted(config: NotifyConfig) -> set[EventKind]:
    """The kinds this home sends: ``events``, and the digest when it has a time."""
    kinds = {EventKind(name) for name in config.events}
    if config.digest is not None:
        kinds.add(EventKind.DIGEST)
    return kinds if config.enabled else set()


def send_pending(
    conn: Connection,
    config: NotifyConfig,
    zone: str,
    clock: Callable[[], datetime],
    *,
    leader: bool = False,
    claiming: Callable[[], bool] = lambda: True,
) -> Passed:
    """Record the digest (``leader``), give up dead claims, and send what is due, claiming a
    row only while ``claiming()`` says so. A send that took the whole timeout (a service that
    does not answer) ends the pass: the next one tries again, so that a round never waits on
    such a service more than once."""
    passed = Passed()
    at = config.digest_time()
    if leader and at is not None:
        passed.digest = record_digest(conn, at, ZoneInfo(zone), clock())
    for row in notifications_repo.stale(conn, to_db(clock() - STALE)):
        reason = _(
            "its sender stopped after claiming it at {at} UTC, before it said how the send "
            "went: not sent again (at most once)"
        ).format(at=row.claimed_at)
        with transaction(conn):
            if notifications_repo.give_up(conn, row.id, reason, was=NotificationStatus.SENDING):
                _warn(conn, row, _given_up_text(row, reason), clock(), passed, row.attempts)
                passed.given_up += 1
    kinds = wanted(config)
    where: list[Target] | None = None  # built on the first send: that loads Apprise
    seen: set[int] = set()
    while claiming():
        rows = [r for r in notifications_repo.due(conn, to_db(clock()), BATCH) if r.id not in seen]
        if not rows:
            break
        for row in rows:
            if not claiming():
                break
            seen.add(row.id)
            if row.kind not in kinds:
                reason = (
                    _("no [notify] urls are set")
                    if not config.enabled
                    else _("[notify] does not send {kind} events").format(kind=row.kind.value)
                )
                with transaction(conn):
                    notifications_repo.give_up(conn, row.id, reason, was=NotificationStatus.PENDING)
                continue
            if where is None:
                where = targets(config.urls)
            began = time.monotonic()
            _send(conn, row, where, config, zone, clock, passed)
            if time.monotonic() - began >= config.timeout:
                return passed
    return passed


def drop_unsendable(conn: Connection, now: datetime) -> int:
    """With no URL to send to, every pending row is given up (one read when there is none)."""
    if not notifications_repo.pending_exists(conn):
        return 0
    with transaction(conn):
        return notifications_repo.give_up_pending(conn, _("no [notify] urls are set"))


def _send(
    conn: Connection,
    row: Notification,
    where: list[Target],
    config: NotifyConfig,
    zone: str,
    clock: Callable[[], datetime],
    passed: Passed,
) -> None:
    """Claim one row, send it to the targets that did not take it yet, record how it went."""
    try:
        message = render(row.kind, row.payload, zone)
    except (KeyError, TypeError, ValueError) as exc:  # a payload another program wrote
        with transaction(conn):
            notifications_repo.give_up(
                conn, row.id, f"{type(exc).__name__}: {exc}", was=NotificationStatus.PENDING
            )
        passed.given_up += 1
        return
    token = secrets.token_hex(16)

    def claim() -> bool:
        with transaction(conn):
            return notifications_repo.claim(conn, row.id, token, to_db(clock()))

    try:
        with short_wait(conn, 1.0):  # a busy database: this row waits for the next pass
            if not claim():
                return  # another sender took it
    except db_errors.OperationalError as exc:
        if db_errors.is_busy(exc):
            return
        raise
    failpoints.hit("notify_claimed", row.kind.value)
    left = [t for t in where if t.fingerprint not in row.delivered]
    deliveries = (
        deliver(left, message.title, message.body, timeout=config.timeout, level=message.level)
        if left
        else []
    )
    delivered = [*row.delivered, *(d.target.fingerprint for d in deliveries if d.ok)]
    failures = [d for d in deliveries if not d.ok]
    # The send happened: its record waits out a busy database (a row left ``sending`` would be
    # given up, never sent again).
    retry_busy(
        lambda: _record(conn, row, token, delivered, failures, clock(), passed),
        patience=RECORD_PATIENCE,
        what="recording a notification",
    )


def _record(
    conn: Connection,
    row: Notification,
    token: str,
    delivered: list[str],
    failures: list[Delivery],
    now: datetime,
    passed: Passed,
) -> None:
    """How a claimed send went, under its claim, in one transaction."""
    attempt = row.attempts + 1
    with transaction(conn):
        if not failures:
            notifications_repo.finish(
                conn,
                row.id,
                token,
                status=NotificationStatus.SENT,
                delivered=delivered,
                error=None,
                now=to_db(now),
            )
            passed.sent += 1
            return
        error = _failures(failures)
        if attempt >= MAX_ATTEMPTS:
            notifications_repo.finish(
                conn,
                row.id,
                token,
                status=NotificationStatus.GIVEN_UP,
                delivered=delivered,
                error=error,
                now=to_db(now),
            )
            _warn(conn, row, _given_up_text(row, error, attempt), now, passed, attempt)
            passed.given_up += 1
            return
        later = now + timedelta(seconds=RETRY_SECONDS[min(attempt, len(RETRY_SECONDS)) - 1])
        notifications_repo.finish(
            conn,
            row.id,
            token,
            status=NotificationStatus.PENDING,
            delivered=delivered,
            error=error,
            now=to_db(now),
            next_try_at=to_db(later),
        )
        text = _(
            "🔔 the {kind} notification was not sent (try {attempt} of {tries}): {error}; it "
            "is tried again from {when} UTC"
        ).format(
            kind=row.kind.value,
            attempt=attempt,
            tries=MAX_ATTEMPTS,
            error=error,
            when=to_db(later),
        )
        _warn(conn, row, text, now, passed, attempt)
        passed.failed += 1


def _failures(failures: list[Delivery]) -> str:
    """Which URLs (masked) refused the message, and why, on one line."""
    return "; ".join(f"{d.target.shown}: {d.error}" for d in failures)


def _given_up_text(row: Notification, reason: str, attempt: int | None = None) -> str:
    if attempt is None:
        return _("🔔 the {kind} notification is given up: {reason}").format(
            kind=row.kind.value, reason=reason
        )
    return _("🔔 the {kind} notification is given up after {attempt} tries: {reason}").format(
        kind=row.kind.value, attempt=attempt, reason=reason
    )


def _warn(
    conn: Connection, row: Notification, text: str, now: datetime, passed: Passed, attempts: int
) -> None:
    """A warn log row on the event's task (the digest has none: its line is only a notice),
    in the caller's transaction; skipped if the task (or its item) is gone meanwhile."""
    passed.notices.append(text)
    if row.task_id is None:
        return
    stage = row.payload.get("stage")
    with db_errors.savepoint(conn, "notify_log", undo_on=db_errors.IntegrityError):
        logs_repo.add(
            conn,
            row.task_id,
            LogLevel.WARN,
            text,
            now=to_db(now),
            queue_id=row.queue_id,
            queue_type=QueueType(stage) if stage in set(QueueType) else None,
            metadata={"notification": row.key, "attempts": attempts},
        )
