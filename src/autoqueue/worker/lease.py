"""The ``scheduler_lock`` row (docs/concepts.md "How a tick works", step 1): the lease of the
leader, and every worker's heartbeat.

The periodic duties (enqueueing due schedules, recovering what dead workers left on any host)
run on one worker at a time, over every host: the one holding this lock (the items of this
host's dead workers, any worker of the host recovers: autoqueue.worker.recovery). A worker takes it
when it is free, expired, already its own, or held by a process on this host that has died (pid
and start time); the others run stage work all the same and try again now and then, so the lock
fails over when its holder dies (its lease runs out, in the database's clock). Stage work never
waits on it. A heartbeat thread renews the lock while it is held, and always the leases of the
items this worker owns, so that a 10-minute render is not taken for a dead worker. A heartbeat
that meets a busy database tries again at the next beat: a lease is many beats long. While the
server is away it beats every second, and renews the leases the moment it is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from autoqueue.attempt import processes
from autoqueue.owner import Owner
from autoqueue.queue.policy import Policy
from autoqueue.repo import lock as lock_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, short_wait, transaction
from autoqueue.store.link import Link
from autoqueue.timeutil import to_db
from autoqueue.workspace import Workspace

LOCK_NAME = "main_scheduler"


class LeaderLease:
    """The lock of one scheduler (``owner``) over one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        owner: Owner,
        policy: Policy,
        clock: Callable[[], datetime],
        *,
        link: Link | None = None,
    ) -> None:
        self.workspace = workspace
        self.link = link
        self.owner = owner
        self.policy = policy
        self.clock = clock
        self.held = threading.Event()  # this worker leads (set by acquire, kept by the heartbeat)
        self.failed_beats = 0

    def acquire(self, conn: Connection) -> str | None:
        """Take the lock, or return who holds it. A holder on this host whose process is gone
        (pid + start time) is taken over at once rather than after its expiry."""
        now = self.clock()
        with transaction(conn):
            holder = lock_repo.holder(conn, LOCK_NAME, for_update=True)
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
            self.held.set()
            return None
        self.held.clear()
        return str(holder["locked_by"]) if holder is not None else "another tick"

    def release(self, conn: Connection) -> None:
        if not self.held.is_set():
            return
        with transaction(conn):
            lock_repo.release(conn, LOCK_NAME, self.owner)
        self.held.clear()

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lock and this owner's leases every ``lease.heartbeat`` seconds meanwhile."""
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(stop,), name="heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def _beat(self, stop: threading.Event) -> None:
        interval = self.workspace.config.lease.heartbeat
        try:
            conn = self.workspace.connect(link=self.link)
        except Exception:  # the round reports database trouble itself; a beat only renews
            self.failed_beats += 1
            return
        try:
            while not stop.wait(self._next_beat(interval)):
                lease_until = self.policy.lease_until(self.clock())
                try:
                    with short_wait(conn, min(interval, 5.0)), transaction(conn):
                        if self.held.is_set() and not lock_repo.renew(
                            conn, LOCK_NAME, self.owner, lease_until
                        ):
                            self.held.clear()  # another worker leads now; work goes on
                        queue_repo.renew_leases(conn, self.owner, lease_until)
                except db_errors.Error:
                    self.failed_beats += 1  # busy or full: the next beat tries again
        finally:
            conn.close()

    def _next_beat(self, interval: float) -> float:
        """Seconds to the next beat: sooner while the server is away, so that the leases are
        renewed as soon as it is back (before another host takes them for a dead worker's)."""
        if self.link is not None and self.link.down_for(time.monotonic()) > 0:
            return min(interval, 1.0)
        return interval
