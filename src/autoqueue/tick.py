"""One scheduler round (seed section 10), and the drain loop built on it.

A round: take ``scheduler_lock`` (or exit quietly), recover orphaned items, enqueue due
schedules, then run one item per queue. Queues run in their own threads, so a 10-minute video
render does not hold back script writing for the next task; the database still allows only one
processing item per queue type (invariant 1).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autoqueue import engine, failpoints, processes
from autoqueue.db import transaction
from autoqueue.errors import StageError, TransientStageError
from autoqueue.models import QueueItem, QueueType
from autoqueue.pipeline import QUEUE_ORDER, GiveUp, Park, Retry
from autoqueue.processes import ProcessInfo
from autoqueue.repo import lock as lock_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import state as state_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.repo.queue import Owner
from autoqueue.stages.base import StageContext, StageLog
from autoqueue.stages.registry import run_stage
from autoqueue.stages.runner import StageCancelled
from autoqueue.timeutil import to_db, utcnow
from autoqueue.workspace import Workspace

LOCK_NAME = "main_scheduler"
LOCK_RETRY_SECONDS = 5.0
IDLE_POLL_SECONDS = 0.2
SCHEDULE_POLL_SECONDS = 1.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    """One item a round ran, and what became of it."""

    item_id: int
    task_id: str
    queue_type: QueueType
    outcome: str  # completed | retry | failed | parked | stopped | requeued
    detail: str = ""

    @classmethod
    def of(cls, item: QueueItem, outcome: str, detail: str = "") -> Processed:
        return cls(item.id, item.task_id, item.queue_type, outcome, detail)


@dataclass
class TickReport:
    lock_holder: str | None = None  # set when another tick held the lock
    recovered: list[engine.Recovered] = field(default_factory=list)
    enqueued: int = 0
    processed: list[Processed] = field(default_factory=list)


class ItemStore:
    """The database behind ``StageContext.store`` for one queue item; every call commits."""

    def __init__(self, conn: sqlite3.Connection, item_id: int, clock: Callable[[], datetime]):
        self.conn = conn
        self.item_id = item_id
        self.clock = clock

    def load(self) -> dict[str, Any] | None:
        return state_repo.load(self.conn, self.item_id)

    def save(self, data: dict[str, Any]) -> None:
        with transaction(self.conn):
            state_repo.save(self.conn, self.item_id, data, to_db(self.clock()))

    def quota_used(self, project: str, day: str) -> int:
        return state_repo.quota_used(self.conn, project, day)

    def quota_spend(self, project: str, day: str, units: int) -> None:
        with transaction(self.conn):
            state_repo.quota_spend(self.conn, project, day, units)

    def quota_exhausted(self, project: str, day: str, budget: int) -> None:
        with transaction(self.conn):
            state_repo.quota_at_least(self.conn, project, day, budget)


class Scheduler:
    """Runs rounds for one workspace as one owner (this process)."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        owner: Owner | None = None,
        clock: Callable[[], datetime] = utcnow,
        grace: float = 30.0,
        listener: Callable[[Processed], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.owner = owner or processes.current_owner()
        self.clock = clock
        self.grace = grace
        self.listener = listener
        self.policy = engine.Policy.from_config(workspace.config)
        self._report_lock = threading.Lock()
        self._state = threading.Lock()
        self._busy = 0
        self._active: set[QueueType] = set(QUEUE_ORDER)
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock_lost = threading.Event()

    # -- public -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; running stages get ``grace`` seconds to finish, then they are killed
        and their items requeued. A second request kills them at once."""
        if self._stop.is_set():
            self._abort.set()
        self._stop.set()

    def run(
        self,
        *,
        drain: bool = False,
        max_seconds: float | None = None,
        forever: bool = False,
        wait_for_lock: bool = False,
    ) -> TickReport:
        """One round (cron mode), or with ``drain`` until no work is ready or the budget is spent,
        or with ``forever`` until :meth:`request_stop`. With ``wait_for_lock``, a held lock is
        waited for instead of ending the run."""
        report = TickReport()
        conn = self.workspace.connect()
        try:
            holder = self._acquire_lock(conn)
            while holder is not None and wait_for_lock and not self._stop.wait(LOCK_RETRY_SECONDS):
                holder = self._acquire_lock(conn)
            if holder is not None:
                report.lock_holder = holder
                return report
            heartbeat_stop = threading.Event()
            heartbeat = threading.Thread(
                target=self._heartbeat, args=(heartbeat_stop,), name="heartbeat", daemon=True
            )
            heartbeat.start()
            try:
                self._round(
                    conn, report, drain=drain or forever, forever=forever, max_seconds=max_seconds
                )
            finally:
                heartbeat_stop.set()
                heartbeat.join(timeout=10)
                with transaction(conn):
                    lock_repo.release(conn, LOCK_NAME, self.owner)
        finally:
            conn.close()
        return report

    # -- the lock -----------------------------------------------------------------------------

    def _acquire_lock(self, conn: sqlite3.Connection) -> str | None:
        """Take the lock, or return who holds it. A holder on this host whose process is gone
        (pid + start time) is taken over at once rather than after its expiry."""
        now = self.clock()
        with transaction(conn):
            holder = lock_repo.holder(conn, LOCK_NAME)
            dead: tuple[str, float | None] | None = None
            if holder is not None:
                host, _, pid_text = str(holder["locked_by"]).rpartition(":")
                if (
                    host == self.owner.host
                    and pid_text.isdigit()
                    and not processes.is_alive(int(pid_text), holder["owner_started"])
                ):
                    dead = (str(holder["locked_by"]), holder["owner_started"])
            taken = lock_repo.acquire(
                conn,
                LOCK_NAME,
                self.owner,
                now=to_db(now),
                expires_at=self.policy.lease_until(now),
                dead_owner=dead,
            )
        if taken:
            return None
        return str(holder["locked_by"]) if holder is not None else "another tick"

    def _heartbeat(self, stop: threading.Event) -> None:
        """Renew the lock and this tick's leases, so a long stage is not taken for dead."""
        interval = self.workspace.config.lease.heartbeat
        conn = self.workspace.connect()
        try:
            while not stop.wait(interval):
                lease_until = self.policy.lease_until(self.clock())
                try:
                    with transaction(conn):
                        if not lock_repo.renew(conn, LOCK_NAME, self.owner, lease_until):
                            self._lock_lost.set()
                        queue_repo.renew_leases(conn, self.owner, lease_until)
                except sqlite3.Error:
                    logger.exception("heartbeat failed; retrying at the next beat")
        finally:
            conn.close()

    # -- the round ----------------------------------------------------------------------------

    def _round(
        self,
        conn: sqlite3.Connection,
        report: TickReport,
        *,
        drain: bool,
        forever: bool,
        max_seconds: float | None,
    ) -> None:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._active = set(QUEUE_ORDER)
        report.recovered = engine.recover_orphans(conn, self.owner, self.policy, self.clock())
        report.enqueued = engine.enqueue_due(conn, self.policy, self.clock())
        workers = [
            threading.Thread(
                target=self._queue_worker,
                args=(queue_type, report, drain, forever, deadline),
                name=f"queue-{queue_type.value}",
            )
            for queue_type in QUEUE_ORDER
        ]
        for worker in workers:
            worker.start()
        stop_seen: float | None = None
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(timeout=SCHEDULE_POLL_SECONDS)
            if self._stop.is_set():
                stop_seen = stop_seen or time.monotonic()
                if time.monotonic() - stop_seen >= self.grace:
                    self._abort.set()
            if drain and not self._stopping(deadline):
                added = engine.enqueue_due(conn, self.policy, self.clock())
                with self._report_lock:
                    report.enqueued += added
                if forever:
                    report.recovered += engine.recover_orphans(
                        conn, self.owner, self.policy, self.clock()
                    )

    def _stopping(self, deadline: float | None) -> bool:
        if self._stop.is_set() or self._lock_lost.is_set():
            return True
        return deadline is not None and time.monotonic() >= deadline

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
        a fresh task through as many stages as it can, as the seed's sequential loop did.
        """
        conn = self.workspace.connect()
        item: QueueItem | None = None
        try:
            while True:
                if item is None:
                    if self._stopping(deadline):
                        return
                    with self._state:
                        now = self.clock()
                        item = engine.claim_next(conn, queue_type, self.owner, self.policy, now)
                        if item is not None:
                            self._busy += 1
                        elif (
                            not forever
                            and self._busy == 0
                            and not queue_repo.claimable_exists(
                                conn, to_db(now), self._active - {queue_type}
                            )
                        ):
                            return
                    if item is None:
                        time.sleep(IDLE_POLL_SECONDS)
                        continue
                following: QueueItem | None = None
                try:
                    chain = drain and not self._stopping(deadline)
                    processed, following = self._run_item(conn, item, chain=chain)
                finally:
                    if following is None:
                        with self._state:
                            self._busy -= 1
                with self._report_lock:
                    report.processed.append(processed)
                if self.listener is not None:
                    self.listener(processed)
                if not drain:
                    return
                item = following
        finally:
            with self._state:
                self._active.discard(queue_type)
            conn.close()

    # -- one item -----------------------------------------------------------------------------

    def _run_item(
        self, conn: sqlite3.Connection, item: QueueItem, *, chain: bool
    ) -> tuple[Processed, QueueItem | None]:
        """Run one item's stage and record the outcome. With ``chain``, a completion also claims
        the queue's next item in the same transaction, which is returned to run next."""
        task = tasks_repo.get(conn, item.task_id)
        assert task is not None and item.claim_token is not None
        schedule = (
            schedules_repo.get(conn, item.schedule_id) if item.schedule_id is not None else None
        )
        token = item.claim_token

        def log(*entries: StageLog) -> None:
            stamp = to_db(self.clock())
            with transaction(conn):
                for entry in entries:
                    engine.log_item(
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

        def started(info: ProcessInfo) -> bool:
            return engine.record_start(
                conn,
                item,
                info,
                self.clock(),
                f"▶ {item.queue_type.value} stage started: {info.name} (pid {info.pid})",
            )

        def cancelled() -> bool:
            return self._abort.is_set() or not queue_repo.is_still_claimed(conn, item.id, token)

        ctx = StageContext(
            workspace=self.workspace,
            task=task,
            schedule=schedule,
            item=item,
            log=log,
            process_started=started,
            cancelled=cancelled,
            store=ItemStore(conn, item.id, self.clock),
        )
        if item.queue_type is QueueType.SCHEDULE:
            me = ProcessInfo(pid=self.owner.pid, started=self.owner.started, name="autoqueue")
            message = "▶ run started: preparing the task folder"
            engine.record_start(conn, item, me, self.clock(), message, track=False)
        try:
            result = run_stage(ctx)
        except StageCancelled as exc:
            reason = "interrupted: autoqueue was shut down while the stage ran"
            if self._abort.is_set() and engine.requeue_item(conn, item, reason, self.clock()):
                return Processed.of(item, "requeued", reason), None
            return Processed.of(item, "stopped", str(exc)), None
        except StageError as exc:
            return self._failed(conn, item, exc), None
        except Exception as exc:  # a bug in a stage must not kill the tick, nor lose the item
            logger.exception("stage %s crashed", item.queue_type.value)
            return self._failed(conn, item, TransientStageError(f"internal error: {exc!r}")), None
        failpoints.hit("after_stage", item.queue_type.value)
        following = None
        if chain:
            completed, following = engine.complete_and_claim(
                conn, item, result, self.policy, self.clock(), self.owner
            )
        else:
            completed = engine.complete_item(conn, item, result, self.policy, self.clock())
        if completed:
            return Processed.of(item, "completed"), following
        return Processed.of(item, "stopped", "no longer ours when it finished"), following

    def _failed(self, conn: sqlite3.Connection, item: QueueItem, error: StageError) -> Processed:
        decision = engine.fail_item(conn, item, error, self.policy, self.clock())
        if isinstance(decision, Retry):
            return Processed.of(item, "retry", str(error))
        if isinstance(decision, GiveUp):
            return Processed.of(item, "failed", str(error))
        if isinstance(decision, Park):
            return Processed.of(item, "parked", str(error))
        return Processed.of(item, "stopped", "no longer ours when it failed")
