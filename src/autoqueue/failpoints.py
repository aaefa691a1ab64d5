"""Crash points for the reliability tests: ``AUTOQUEUE_FAILPOINT=NAME[:QUEUE]`` makes the process
kill itself (SIGKILL, no clean-up) when it reaches that point, to prove that a tick dying anywhere
loses nothing. Unset in normal use; it is read once, when the module is imported.

Points: ``claim`` (inside the claim transaction, before commit), ``after_stage`` (the stage
program has exited, nothing recorded yet), ``complete`` (inside the completing transaction,
before commit), ``notify_claimed`` (a notification claimed for sending, nothing sent yet; its
"queue" is the event's kind).
"""

from __future__ import annotations

import os
import signal

ENV = "AUTOQUEUE_FAILPOINT"
_WANTED = os.environ.get(ENV)  # read once: the tests set it in a child process's environment


def hit(name: str, queue_type: str) -> None:
    """Die here if the environment asks for this point (optionally only for one queue)."""
    wanted = _WANTED
    if wanted is None or wanted not in (name, f"{name}:{queue_type}"):
        return
    kill = getattr(signal, "SIGKILL", None)
    if kill is not None:
        os.kill(os.getpid(), kill)
    os._exit(137)
