"""Real processes: autoqueue started as a command (``start``, ``start_tick``), a process found
dead (``dead``, ``dead_owner``), and waiting for a condition, never for a time (``wait_for``,
``wait_until``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from autoqueue.attempt import processes
from autoqueue.owner import Owner


def start(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``autoqueue --home HOME ARGS...`` started as a process of its own, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_tick(home: Path) -> subprocess.Popen[bytes]:
    """``autoqueue tick --drain`` started as a process of its own, its output dropped."""
    return subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def dead(pid: int) -> bool:
    """Whether the process ``pid`` has exited (gone, or a zombie its parent has not reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def dead_owner() -> Owner:
    """An owner on this host whose process has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    info = processes.current_owner()
    pid, started = proc.pid, processes.psutil.Process(proc.pid).create_time()
    proc.wait()
    return Owner(host=info.host, pid=pid, started=started)


def wait_for(predicate, timeout: float = 60, message: str = "condition"):  # type: ignore[no-untyped-def]
    """The first true value ``predicate`` returns, tried every 50 ms; AssertionError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def wait_until(predicate, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``predicate`` holds, tried every 20 ms; after ``timeout`` seconds, assert it
    once more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    assert predicate(), f"timed out waiting for {what}"
