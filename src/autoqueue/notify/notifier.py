"""A worker's notifications, sent in a thread of its own beside the round (``Worker.run``): a
pass (autoqueue.notify.dispatch) every few seconds and whenever an item ends, and a last one,
bounded by ``[notify] timeout``, when the round ends. No stage ever waits for a notification,
and a notification that fails never fails anything else: its warning is a log row and a line
on the worker's output.

Any worker sends, leader or not: each row is claimed before it is sent, so two workers never
send one twice, and the worker whose item made an event sends it right after that item's
commit, instead of waiting for whichever worker leads. Only the leader records the daily digest
(a periodic duty, as enqueuing schedules is); its unique key would refuse a second anyway.

A home with no ``[notify] urls`` starts no thread: events left from before the URLs were
removed are given up at the end of the round, so that the idle tick does not keep seeing them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from autoqueue.errors import AutoqueueError, DatabaseBusyError, DatabaseUnreachableError
from autoqueue.i18n import _
from autoqueue.notify import dispatch
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection

if TYPE_CHECKING:
    from autoqueue.store.link import Link
    from autoqueue.workspace import Workspace

POLL_SECONDS = 2.0  # between passes while the round runs (an item's end wakes it sooner)
_SLACK = 5.0  # seconds past the last pass's bound before the worker stops waiting for it


class Notifier:
    """The notification thread of one worker."""

    def __init__(
        self,
        workspace: Workspace,
        clock: Callable[[], datetime],
        *,
        leader: threading.Event,
        link: Link | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = workspace.config.notify
        self.clock = clock
        self.leader = leader
        self.link = link
        self.notice = notice
        self.last: dispatch.Passed | None = None  # what the latest pass did
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._said: set[str] = set()  # errors of the pass itself, said once each
        self._zone: str | None = None

    @property
    def zone(self) -> str:
        """The home's zone, looked up once (the digest's day, the times a message shows)."""
        if self._zone is None:
            self._zone = self.workspace.zone_name
        return self._zone

    def wake(self) -> None:
        """Look for events now (an item just ended: its event may be waiting)."""
        self._wake.set()

    @contextmanager
    def running(self, conn: Connection, aborted: Callable[[], bool]) -> Iterator[None]:
        """Send notifications while the block runs, and the last ones when it ends (unless
        ``aborted``: a second Ctrl-C); ``conn`` is the round's, used only when nothing is sent."""
        if not self.config.enabled:
            try:
                yield
            finally:
                self._guarded(lambda: dispatch.drop_unsendable(conn, self.clock()))
            return
        thread = threading.Thread(
            target=self._loop, args=(aborted,), name="notifications", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._wake.set()
            # The send in flight, and the last pass's (which claims for ``timeout`` at most,
            # and stops at a send that took it all): each within ``timeout`` and a second.
            thread.join(3 * self.config.timeout + _SLACK)

    def _loop(self, aborted: Callable[[], bool]) -> None:
        conn: Connection | None = None
        try:
            while not self._stop.is_set():
                conn = conn or self._connect()
                if conn is not None:
                    deadline = time.monotonic() + POLL_SECONDS
                    self._pass(
                        conn,
                        lambda: not self._stop.is_set() and time.monotonic() < deadline,  # noqa: B023
                    )
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
            conn = conn or self._connect()
            if conn is not None and not aborted():
                last = time.monotonic() + self.config.timeout
                self._pass(conn, lambda: time.monotonic() < last)
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> Connection | None:
        """The thread's own connection, or None for now (tried again at the next pass)."""
        try:
            return self.workspace.connect(link=self.link)
        except (*db_errors.Error, AutoqueueError) as exc:
            self._trouble(exc)
            return None

    def _pass(self, conn: Connection, claiming: Callable[[], bool]) -> None:
        def one_pass() -> None:
            passed = dispatch.send_pending(
                conn,
                self.config,
                self.zone,
                self.clock,
                leader=self.leader.is_set(),
                claiming=claiming,
            )
            self.last = passed
            for line in passed.notices:
                self._tell(line)

        self._guarded(one_pass)

    def _guarded(self, operation: Callable[[], object]) -> None:
        """Run a pass; whatever goes wrong is said (once) and tried again later, never raised."""
        try:
            operation()
        except Exception as exc:  # a notification never fails the round
            self._trouble(exc)

    def _trouble(self, exc: BaseException) -> None:
        """Say what went wrong, once; but a database that is busy or away is the round's to
        report (its link says so once), and the next pass simply tries again."""
        if isinstance(exc, (DatabaseBusyError, DatabaseUnreachableError)) or (
            db_errors.is_busy(exc) or db_errors.is_unreachable(exc)
        ):
            return
        self._say(" ".join(str(exc).split()) or type(exc).__name__)

    def _say(self, reason: str) -> None:
        if reason not in self._said:
            self._said.add(reason)
            self._tell(_("notifications: {reason}; trying again later").format(reason=reason))

    def _tell(self, line: str) -> None:
        if self.notice is not None:
            self.notice(line)
