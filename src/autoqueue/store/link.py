"""Whether the database server can be reached, as one worker sees it (PostgreSQL: a server
restarts, a network drops; a SQLite file has no such outage).

Every connection of a worker shares one :class:`Link`. A connection that lost its server makes
a new one the next time it is used, when the link allows: after a failed try the next waits a
little longer (a backoff shared by every connection, so that a worker's threads do not hammer a
server that is down). The first try that fails says, once, that the database went away; the
first that succeeds says that it is back. Meanwhile the worker keeps following its running
attempts, and gives up only once the outage has lasted ``budget`` seconds ([worker] outage):
:meth:`Link.check`. Times are ``time.monotonic()`` seconds, passed in by the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from autoqueue.errors import DatabaseUnreachableError
from autoqueue.i18n import _

FIRST_DELAY = 0.25  # seconds before the second try; doubled after each failure
MAX_DELAY = 5.0


class Link:
    """One worker's view of the database server: up, or down since when and why."""

    def __init__(self, budget: float = 0.0, notice: Callable[[str], None] | None = None) -> None:
        self.budget = budget
        self.notice = notice
        self.down_since: float | None = None
        self.reason = ""
        self._next_try = 0.0
        self._delay = FIRST_DELAY
        self._lock = threading.Lock()

    def may_try(self, now: float) -> bool:
        """Whether a new connection may be tried now (not while the backoff runs)."""
        with self._lock:
            return self.down_since is None or now >= self._next_try

    def failed(self, reason: str, now: float) -> None:
        """A new connection could not be made: the database is down (said once)."""
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = now
                self._delay = FIRST_DELAY
            self.reason = reason
            self._next_try = now + self._delay
            self._delay = min(self._delay * 2, MAX_DELAY)
        if first and self.notice is not None:
            self.notice(
                _(
                    "the database cannot be reached ({reason}); the running stages go on, and "
                    "autoqueue tries to reconnect for up to {budget:g} s"
                ).format(reason=reason, budget=self.budget)
            )

    def restored(self, now: float) -> None:
        """A new connection was made: the database is back (said when it had been down)."""
        with self._lock:
            since = self.down_since
            self.down_since = None
            self._delay = FIRST_DELAY
        if since is not None and self.notice is not None:
            self.notice(
                _("the database is back, after {seconds:.0f} s").format(seconds=now - since)
            )

    def down_for(self, now: float) -> float:
        since = self.down_since
        return 0.0 if since is None else now - since

    def check(self, now: float) -> None:
        """Give up (DatabaseUnreachableError) once the outage has lasted the budget."""
        if self.down_since is not None and self.down_for(now) > self.budget:
            raise DatabaseUnreachableError(
                _(
                    "the database could not be reached for {budget:g} s ([worker] outage): {reason}"
                ).format(budget=self.budget, reason=self.reason)
            )
