"""Sending one message to each target through Apprise, with a timeout: the only module that uses
Apprise to send, and it imports Apprise when it sends, never before (an idle tick and every read
command load none of it: tests/test_imports.py).

Each target's send runs in a thread of its own, bounded twice: Apprise's own socket timeouts
(connect and read, set to ``timeout``) and a deadline on the thread (``timeout`` and a second),
past which the target counts as failed even if a stuck service still holds the thread. What a
service answers reaches the caller with every secret of its URL masked; Apprise's own log lines
go nowhere else (they might carry a token)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from autoqueue.i18n import _
from autoqueue.notify.targets import Target

_LOGGER = "apprise"  # apprise.logger.LOGGER_NAME
_GRACE = 1.0  # seconds past the timeout before a target's thread is given up


@dataclass(frozen=True)
class Delivery:
    """How sending to one target went; ``error`` is masked and one line."""

    target: Target
    ok: bool
    error: str | None = None


class _Capture(logging.Handler):
    """Apprise's warnings, kept per sending thread (to say why a send failed), and nowhere
    else: Python's last-resort handler would print them on stderr, URL and all."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: dict[int, list[str]] = {}
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.guard:
            lines = self.lines.get(record.thread or 0)
            if lines is not None:
                lines.append(" ".join(record.getMessage().split()))

    def watch(self) -> None:
        with self.guard:
            self.lines[threading.get_ident()] = []

    def said(self) -> list[str]:
        with self.guard:
            return self.lines.pop(threading.get_ident(), [])


_capture = _Capture()


def quiet_apprise() -> None:
    """Route Apprise's log to :data:`_capture` only (idempotent)."""
    logger = logging.getLogger(_LOGGER)
    if _capture not in logger.handlers:
        logger.addHandler(_capture)
        logger.propagate = False


def deliver(
    targets: list[Target], title: str, body: str, *, timeout: float, level: str = "info"
) -> list[Delivery]:
    """Send ``title`` and ``body`` to every target at once; one :class:`Delivery` each, in
    order, within ``timeout`` seconds (and a second). ``level``: Apprise's notify type."""
    quiet_apprise()
    results: dict[int, Delivery] = {}
    threads = []
    for index, each in enumerate(targets):
        thread = threading.Thread(
            target=_send_one,
            args=(each, title, body, timeout, level, results, index),
            name=f"notify-{index}",
            daemon=True,  # a service that never answers must not keep the process alive
        )
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout + _GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = _("no answer within {timeout:g} s").format(timeout=timeout)
    return [results.get(index, Delivery(each, False, late)) for index, each in enumerate(targets)]


def _send_one(
    each: Target,
    title: str,
    body: str,
    timeout: float,
    level: str,
    results: dict[int, Delivery],
    index: int,
) -> None:
    results[index] = send_one(each, title, body, timeout=timeout, level=level)


def send_one(
    each: Target, title: str, body: str, *, timeout: float, level: str = "info"
) -> Delivery:
    """Send to one target in this thread (Apprise's socket timeouts bound it)."""
    import apprise  # here: loaded only when a message goes out

    _capture.watch()
    try:
        plugin = apprise.Apprise.instantiate(each.url)
        if plugin is None:
            return Delivery(each, False, _unreadable(each))
        plugin.socket_connect_timeout = min(timeout, float(plugin.socket_connect_timeout))
        plugin.socket_read_timeout = timeout
        kind = apprise.NotifyType(level) if level in set(apprise.NotifyType) else None
        ok = bool(
            plugin.notify(body=body, title=title, notify_type=kind or apprise.NotifyType.INFO)
        )
    except Exception as exc:  # a plugin's own failure is this target's, never the caller's
        return Delivery(each, False, each.scrub(" ".join(f"{type(exc).__name__}: {exc}".split())))
    finally:
        said = _capture.said()
    if ok:
        return Delivery(each, True)
    reason = said[-1] if said else _("the service did not accept the message")
    return Delivery(each, False, each.scrub(reason))


def _unreadable(each: Target) -> str:
    return _(
        "Apprise cannot read this URL (an unknown service, or a part missing): see "
        "https://github.com/caronc/apprise/wiki for {scheme}://"
    ).format(scheme=each.url.partition("://")[0] or "?")
