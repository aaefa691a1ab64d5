"""PostgreSQL's wake-ups: a thread that LISTENs and wakes a worker's idle queue threads on each
NOTIFY (sent by every transaction that adds waiting work or frees a slot, on any host). SQLite
has none: its workers poll."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LISTEN_RETRY_SECONDS = 2.0  # PostgreSQL: between tries to LISTEN again after the server went


@contextmanager
def listening(url: str | None, wake: Callable[[], None]) -> Iterator[None]:
    """While the block runs, call ``wake`` on each NOTIFY from the server at ``url`` (and once
    whenever a LISTEN starts: work may have come while nobody listened). No ``url``: nothing."""
    if url is None:
        yield
        return
    from autoqueue.store import postgres

    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                listener = postgres.listen(url)
            except Exception:  # the server is away: the workers poll meanwhile
                stop.wait(LISTEN_RETRY_SECONDS)
                continue
            try:
                wake()  # work may have come while nobody listened
                while not stop.is_set():
                    for _notify in listener.notifies(timeout=0.5, stop_after=1):
                        wake()
            except Exception:  # the connection went with the server: listen again
                stop.wait(LISTEN_RETRY_SECONDS)
            finally:
                listener.close()

    thread = threading.Thread(target=listen, name="listen", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
