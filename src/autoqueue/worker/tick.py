"""One worker round (docs/concepts.md "How a tick works"), and the drain loop built on it.

A round: try to take ``scheduler_lock`` (the leader's lease); the leader recovers what dead
workers left and enqueues due schedules (a follower recovers only the items of this host's dead
workers, which need no lease to run out); every worker, leader or not, then runs one item per
queue (or keeps going, with ``drain`` / ``forever``). Queues run in their own threads (one per
slot: ``[queues.X] concurrency``), so a 10-minute video render does not hold back script
writing for the next task; the database still allows only ``concurrency`` processing items per
queue type over every host (invariant 1). On PostgreSQL idle workers wake on NOTIFY. Each
item's stage runs as an attempt with a supervisor of its own (``attempt/runner.py``), but the
schedule stage, quick and idempotent, runs in this process. Notifications are sent beside the
round, in a thread of their own (``notify/notifier.py``): no stage waits for one.

Nothing here lets an exception escape a thread: a database locked past a lease, or a full disk,
stops the round, the tick says so in one line and exits non-zero; the next tick applies the rest.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Literal, TypeVar

from autoqueue.attempt import processes
from autoqueue.attempt.outcome import Ended
from autoqueue.attempt.runner import Runner
from autoqueue.attempt.running import Attempt
from autoqueue.errors import (
    AutoqueueError,
    DatabaseBusyError,
    PermanentStageError,
)
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.notify.notifier import Notifier
from autoqueue.owner import Owner
from autoqueue.queue.claims import claim_next
from autoqueue.queue.occurrences import enqueue_due
from autoqueue.queue.pipeline import QUEUE_ORDER
from autoqueue.queue.policy import Policy
from autoqueue.repo import claim as claim_repo
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, is_busy, is_unreachable, retry_busy, short_wait
from autoqueue.store.link import Link
from autoqueue.timeutil import to_db, utcnow
from autoqueue.worker import recovery
from autoqueue.worker.lease import LeaderLease
from autoqueue.worker.report import Processed, Running, TickReport, one_line
from autoqueue.worker.wakeups import listening
from autoqueue.workspace import Workspace

T = TypeVar("T")

LOCK_RETRY_SECONDS = 5.0
IDLE_POLL_SECONDS = 0.2
# PostgreSQL: idle workers wake on NOTIFY; the poll is only a backstop (retry times coming due).
IDLE_POLL_SECONDS_NOTIFIED = 1.0
SCHEDULE_POLL_SECONDS = 1.0


class Worker:
    """Runs rounds for one workspace as one owner (this process)."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        owner: Owner | None = None,
        clock: Callable[[], datetime] = utcnow,
        grace: float = 30.0,
        listener: Callable[[Processed], None] | None = None,
        queues: Collection[QueueType] | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.owner = owner or processes.current_owner()
        self.clock = clock
        # The queue types this worker runs (``--queues``); all of them by default.
        self.queues = tuple(q for q in QUEUE_ORDER if queues is None or q in queues)
        self.grace = grace
        self.listener = listener
        self.policy = Policy.from_config(workspace.config)
        # Every connection of this worker shares it: a PostgreSQL server that goes away is
        # said once, waited for ([worker] outage), and said again when it is back.
        self.link = Link(budget=workspace.config.worker.outage, notice=notice)
        self.lock = LeaderLease(workspace, self.owner, self.policy, clock, link=self.link)
        self.notifier = Notifier(
            workspace, clock, leader=self.lock.held, link=self.link, notice=notice
        )
        self._report_lock = threading.Lock()
        self._state = threading.Lock()
        self._busy = 0
        # Set once no queue of the round has anything to take and nothing of it runs: from then
        # on no thread of the round claims, so none can feed a queue whose thread has gone.
        self._done = False
        self._active: set[QueueType] = set(self.queues)
        self._threads: dict[QueueType, int] = {}
        self._adopted: dict[QueueType, list[Attempt]] = {}
        self._running: dict[int, Running] = {}  # by item id
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._unanswered = threading.local()  # a queue thread's claim token, until answered
        self._error: str | None = None
        # Idle workers wait on this; a finished item (which may have queued the next stage) or
        # newly enqueued runs wake them at once instead of at their next poll, and so does a
        # NOTIFY from another host (PostgreSQL).
        self._work = threading.Condition()
        self._wakes = 0  # counts wake-ups, so that one between a look and a wait is not lost
        self._idle_poll = (
            IDLE_POLL_SECONDS if workspace.db_url is None else IDLE_POLL_SECONDS_NOTIFIED
        )

    # -- public -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; running stages get ``grace`` seconds to finish, then they are killed
        and their items requeued. A second request kills them at once."""
        if self._stop.is_set():
            self._abort.set()
        self._stop.set()

    def running(self) -> list[Running]:
        """The items whose stages run now. Safe in a signal handler: no lock is taken (the
        main thread may hold one when the signal comes), and copying a dict is atomic."""
        return list(dict(self._running).values())

    def run(
        self,
        *,
        drain: bool = False,
        max_seconds: float | None = None,
        forever: bool = False,
    ) -> TickReport:
        """One round (cron mode), or with ``drain`` until no work is ready or the budget is spent,
        or with ``forever`` until :meth:`request_stop`. Whoever leads, this worker runs stages;
        it takes the periodic duties when it holds (or later takes) the leader's lock."""
        report = TickReport()
        conn = self.workspace.connect(link=self.link)
        try:
            report.lock_holder = self._duty(
                "taking the scheduler lock", lambda: self.lock.acquire(conn)
            )
            try:
                with (
                    self.lock.heartbeat(),
                    listening(self.workspace.db_url, self._wake),
                    self.notifier.running(conn, self._abort.is_set),
                ):
                    self._round(
                        conn,
                        report,
                        drain=drain or forever,
                        forever=forever,
                        max_seconds=max_seconds,
                    )
            finally:
                try:
                    if self._error is None:
                        self._duty("releasing the scheduler lock", lambda: self.lock.release(conn))
                    else:  # the round failed (a locked database?): one short try
                        with short_wait(conn, 1.0):
                            self.lock.release(conn)
                except (*db_errors.Error, AutoqueueError) as exc:
                    self._fail(exc)  # it expires with its lease; another worker takes it then
        finally:
            conn.close()
        report.error = self._error
        return report

    def _wake(self) -> None:
        self.notifier.wake()  # an item that ended may have recorded an event
        with self._work:
            self._wakes += 1
            self._work.notify_all()

    # -- the round ----------------------------------------------------------------------------

    def _duty(self, what: str, operation: Callable[[], T]) -> T:
        """One of the round's own steps, waiting out a busy database for up to a lease (and a
        server that went away, for the outage budget)."""
        return retry_busy(operation, patience=self.policy.lease_seconds, what=what, link=self.link)

    def _later(self, exc: BaseException) -> bool:
        """Whether a step that is tried again in a moment may simply wait: the database is
        busy, or its server is away within the outage budget (past it, this raises)."""
        if is_unreachable(exc):
            self.link.check(time.monotonic())
            return True
        return is_busy(exc)

    def _fail(self, exc: BaseException) -> None:
        """Stop the round because of ``exc`` (kept, as one line, for the report)."""
        with self._state:
            if self._error is None:
                self._error = one_line(exc)
        self._stop.set()

    def _round(
        self,
        conn: Connection,
        report: TickReport,
        *,
        drain: bool,
        forever: bool,
        max_seconds: float | None,
    ) -> None:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._active, self._done = set(self.queues), False
        runner = Runner(self.workspace, conn, self.owner, self.policy, self.clock, link=self.link)
        try:
            if self.lock.held.is_set():
                self._recover(runner, report)
                report.enqueued = self._duty(
                    "enqueueing due schedules",
                    lambda: enqueue_due(conn, self.policy, self.clock()),
                )
            else:  # this host's dead workers' items, at once: no lease to wait for
                self._recover(runner, report, leases=False)
        except Exception as exc:  # the tick reports it in one line, never a traceback
            self._fail(exc)
            return
        self._threads = {q: self.policy.concurrency(q) for q in self.queues}
        workers = [
            threading.Thread(
                target=self._queue_worker,
                args=(queue_type, report, drain, forever, deadline),
                name=f"queue-{queue_type.value}-{slot}",
            )
            for queue_type in self.queues
            for slot in range(self.policy.concurrency(queue_type))
        ]
        for worker in workers:
            worker.start()
        stop_seen: float | None = None
        next_lock_try = time.monotonic() + LOCK_RETRY_SECONDS
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(timeout=SCHEDULE_POLL_SECONDS)
            if self._stop.is_set():
                stop_seen = stop_seen or time.monotonic()
                if time.monotonic() - stop_seen >= self.grace:
                    self._abort.set()
            if drain and not self._stopping(deadline):
                try:
                    if not self.lock.held.is_set():
                        if time.monotonic() < next_lock_try:
                            continue
                        next_lock_try = time.monotonic() + LOCK_RETRY_SECONDS
                        with short_wait(conn, 1.0):
                            holder = self.lock.acquire(conn)  # the leader may have died
                        if holder is not None:
                            if forever:
                                self._recover(runner, report, leases=False)
                            continue
                        with self._report_lock:
                            report.lock_holder = None
                    added = enqueue_due(conn, self.policy, self.clock())
                    if added:
                        self._wake()
                    with self._report_lock:
                        report.enqueued += added
                    if forever:
                        self._recover(runner, report)
                except db_errors.OperationalError as exc:
                    try:
                        if not self._later(exc):
                            self._fail(exc)
                    except AutoqueueError as gave_up:  # away for longer than the outage budget
                        self._fail(gave_up)
                except Exception as exc:
                    self._fail(exc)

    def _recover(self, runner: Runner, report: TickReport, *, leases: bool = True) -> None:
        """Recover what dead workers left: the leader every item whose owner died or whose
        lease ran out; any other worker the items of this host's dead workers."""
        found = self._duty(
            "recovering what dead ticks left",
            lambda: recovery.recover_orphans(
                runner, self.clock(), served=set(self.queues), leases=leases
            ),
        )
        with self._state:
            for attempt in found.adopted:
                self._adopted.setdefault(attempt.item.queue_type, []).append(attempt)
                self._busy += 1
        with self._report_lock:
            report.recovered += found.recovered

    def _stopping(self, deadline: float | None) -> bool:
        if self._stop.is_set():
            return True
        return deadline is not None and time.monotonic() >= deadline

    def _next_item(
        self, conn: Connection, queue_type: QueueType, forever: bool
    ) -> QueueItem | Attempt | Literal[False] | None:
        """An adopted attempt to follow, a claimed item, None (nothing yet), or False (this
        worker is done: its queue is empty and nothing running could feed it). The claim runs
        outside the lock (a busy database may hold it up for seconds), counted as busy
        meanwhile, so that no other worker takes this moment for an idle round."""
        with self._state:
            adopted = self._adopted.get(queue_type)
            if adopted:
                return adopted.pop(0)  # counted in _busy when it was adopted
        item = self._claim(conn, queue_type, self.clock())
        if item is not None:
            return item
        with self._state:
            if self._done:
                return False
            if (
                forever
                or self._busy
                or claim_repo.claimable_exists(
                    conn, to_db(self.clock()), self._active, dict(self.policy.slots)
                )
            ):
                return None
            # Idle, and nothing to take: the whole round ends here, every queue thread with it.
            # A thread that left alone could miss work that a sibling still claims and feeds it
            # (another tick held the items a moment ago): a video left waiting after a drain.
            self._done = True
        return False

    def _claim(self, conn: Connection, queue_type: QueueType, now: datetime) -> QueueItem | None:
        """One claim, counted as busy while it runs; one whose answer was lost with its COMMIT
        is sent again under the same token, and finds the item it took if it committed. Until
        it is answered the worker stays busy: the item may be ours, so the round must not end
        (and refuse the claim sent again) meanwhile."""
        resent = getattr(self._unanswered, "token", None)
        with self._state:
            if resent is None:
                if self._done:  # the round has ended: what it took now nothing would feed on
                    return None
                self._busy += 1
        item: QueueItem | None = None
        token = resent or secrets.token_hex(16)
        self._unanswered.token = token
        try:
            with short_wait(conn):  # polled: a busy database is asked again in a moment
                item = claim_next(
                    conn, queue_type, self.owner, self.policy, now, token=token, resent=bool(resent)
                )
            self._unanswered.token = None
        finally:
            if item is None and self._unanswered.token is None:  # answered: nothing taken
                with self._state:
                    self._busy -= 1
        return item

    def _claim_failed(self, exc: BaseException, busy_since: float | None) -> float | None:
        """A claim that met a busy database (waited out for up to a lease) or a server that went
        away (for the outage budget); any other error is raised. Returns since when the
        database has been busy."""
        if is_unreachable(exc):
            self.link.check(time.monotonic())
            return busy_since
        if not is_busy(exc):
            raise exc
        busy_since = busy_since or time.monotonic()
        if time.monotonic() - busy_since > self.policy.lease_seconds:
            raise DatabaseBusyError(
                _(
                    "the database stayed locked by another process for over "
                    "{lease_seconds:g} s while claiming work"
                ).format(lease_seconds=self.policy.lease_seconds)
            ) from exc
        return busy_since

    def _queue_worker(
        self,
        queue_type: QueueType,
        report: TickReport,
        drain: bool,
        forever: bool,
        deadline: float | None,
    ) -> None:
        """Run items of one queue: one item per round, or until idle with ``drain``.

        A worker that finds its queue empty waits while any stage of this tick still runs or
        another worker's queue has claimable work: either may feed it. So one cron round moves
        a fresh task through as many stages as it can, as a loop over the queues one after
        another would, while the queues still run side by side.
        """
        try:
            conn = self.workspace.connect(link=self.link)
        except Exception as exc:
            self._fail(exc)
            with self._state:
                self._active.discard(queue_type)
            return
        runner = Runner(
            self.workspace,
            conn,
            self.owner,
            self.policy,
            self.clock,
            aborted=self._abort.is_set,
            stopping=lambda: self._stopping(deadline),
            link=self.link,
        )
        current: QueueItem | Attempt | None = None
        busy_since: float | None = None
        try:
            while True:
                if current is None:
                    if self._stopping(deadline) and not self._adopted.get(queue_type):
                        self._wake()  # others may be waiting on this one
                        return
                    seen = self._wakes
                    try:
                        found = self._next_item(conn, queue_type, forever)
                        busy_since = None
                    except db_errors.OperationalError as exc:
                        busy_since = self._claim_failed(exc, busy_since)
                        found = None
                    if found is False:
                        self._wake()  # a worker that waited on this queue looks again
                        return
                    if found is None:
                        with self._work:
                            if self._wakes == seen:  # nothing happened since the look
                                self._work.wait(self._idle_poll)
                        continue
                    current = found
                following: QueueItem | None = None
                item = current.item if isinstance(current, Attempt) else current
                self._running[item.id] = Running(item.queue_type, item.task_id)
                try:
                    chain = drain and not self._stopping(deadline)
                    if isinstance(current, Attempt):
                        ended = runner.follow(current, chain=chain)
                    else:
                        ended = self._run_item(runner, current, chain=chain)
                    following = ended.following
                finally:
                    self._running.pop(item.id, None)
                    if following is None:
                        with self._state:
                            self._busy -= 1
                processed = Processed.of(item, ended)
                self._wake()
                with self._report_lock:
                    report.processed.append(processed)
                if self.listener is not None:
                    self.listener(processed)
                if not drain:
                    return
                current = following
        except BaseException as exc:  # never a thread traceback: the round stops, the tick says why
            self._fail(exc)
        finally:
            with self._state:
                if getattr(self._unanswered, "token", None) is not None:
                    self._busy -= 1  # a claim never answered, counted as busy until now
                    self._unanswered.token = None
                self._threads[queue_type] = self._threads.get(queue_type, 1) - 1
                if self._threads[queue_type] <= 0:
                    self._active.discard(queue_type)
            conn.close()

    # -- one item -----------------------------------------------------------------------------

    def _run_item(self, runner: Runner, item: QueueItem, *, chain: bool) -> Ended:
        """Run one item's stage and record the outcome. With ``chain``, a completion also claims
        the queue's next item in the same transaction (``Ended.following``)."""
        try:
            task, schedule = runner.write("reading its task", lambda: runner.context(item))
        except ValueError as exc:
            reason = str(exc).splitlines()[0]
            return runner.fail(item, PermanentStageError(f"its task cannot be read: {reason}"))
        self._running[item.id] = Running(item.queue_type, item.task_id, task.title)
        if item.queue_type is QueueType.SCHEDULE:
            return runner.schedule_stage(item, task, schedule, chain=chain)
        started = runner.start(item, task, schedule)
        if isinstance(started, Ended):
            return started
        return runner.follow(started, chain=chain)
