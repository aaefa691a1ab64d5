"""Process control: the only module that uses psutil.

autoqueue only ever signals processes it started itself. Every process of a stage attempt
carries the attempt's secret token in its environment (``AUTOQUEUE_ATTEMPT_TOKEN``), which
survives double forks and ``setsid``; the attempt's supervisor is also known by pid *and* start
time, so that a recycled pid is never mistaken for it. Nothing here matches processes by name:
the seed's ``pkill -f chrome`` would close the user's own browser.

:func:`kill_attempt` is the one place that decides what to kill, for stop, timeout and recovery.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import psutil

from autoqueue import spawn
from autoqueue.owner import Owner

ATTEMPT_ENV = "AUTOQUEUE_ATTEMPT_TOKEN"

# Start times are floats from the OS; allow for rounding when they round-trip through SQLite.
_START_TOLERANCE = 0.01


class ProcessInfo(NamedTuple):
    """A process as autoqueue knows it: pid, start time (guards pid reuse), name."""

    pid: int
    started: float
    name: str


def current_owner() -> Owner:
    """This process as an owner of locks and claims."""
    me = psutil.Process()
    return Owner(host=this_host(), pid=me.pid, started=me.create_time())


def this_host() -> str:
    """This host's name in owner columns: ``AUTOQUEUE_HOST`` when set (two workers that share a
    machine but stand for different hosts, or a host whose name changes), else the hostname.
    Processes are only ever looked for on the host that recorded them."""
    import os
    import socket

    return os.environ.get("AUTOQUEUE_HOST") or socket.gethostname()


def _matches(proc: psutil.Process, started: float | None) -> bool:
    if started is None:
        return True
    return abs(proc.create_time() - started) <= _START_TOLERANCE


def is_alive(pid: int, started: float | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs (and is not a zombie)."""
    try:
        proc = psutil.Process(pid)
        return _matches(proc, started) and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def identity(pid: int, name: str) -> ProcessInfo:
    """The identity (pid, start time, name) of a process just started."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        started = 0.0  # already gone: nothing left to kill, the identity only serves the log
    return ProcessInfo(pid=pid, started=started, name=name)


def start_detached(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], ProcessInfo]:
    """Start ``argv`` (no shell) in a session of its own, so that it outlives this process and
    never receives the terminal's or the service manager's signals meant for it; its output
    goes to ``log``."""
    with open(log, "ab") as sink:
        popen = spawn.popen(argv, cwd=str(cwd), env=env, stdout=sink, stderr=subprocess.STDOUT)
    return popen, identity(popen.pid, Path(argv[0]).name)


def start_program(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], ProcessInfo]:
    """Start a stage program (no shell) in its own process group, its output piped. Raises
    OSError when it cannot be started (not found, not executable)."""
    popen = spawn.popen(argv, cwd=str(cwd), env=env)
    return popen, identity(popen.pid, Path(argv[0]).name)


def _carries(proc: psutil.Process, token: str) -> bool:
    try:
        return proc.environ().get(ATTEMPT_ENV) == token
    except (psutil.Error, OSError):
        return False  # gone, a zombie, or another user's: not ours to read, not ours to kill


def carriers(
    token: str, *, since: float | None = None, exclude: Iterable[int] = ()
) -> list[psutil.Process]:
    """The live processes whose environment carries the attempt ``token``: the attempt's
    supervisor, its program and every descendant, including daemons that double-forked and
    called setsid. ``since`` (the attempt's start) skips older processes without reading them."""
    return _scan(token, None, since, {os.getpid(), *exclude})


def _scan(
    token: str | None, leader: tuple[int, float] | None, since: float | None, skip: set[int]
) -> list[psutil.Process]:
    """One pass over the process table: the processes carrying ``token`` (created since
    ``since``), and the members of the session ``leader`` (pid, start time) created, which its
    tree no longer shows once their parent has died (POSIX)."""
    found = []
    for proc in psutil.process_iter(["pid", "create_time"]):
        if proc.pid in skip or proc.pid <= 1:
            continue
        created = proc.info.get("create_time") or 0.0
        try:
            if (
                leader is not None
                and sys.platform != "win32"
                and created >= leader[1] - _START_TOLERANCE
                and os.getsid(proc.pid) == leader[0]
            ):
                found.append(proc)
                continue
        except (ProcessLookupError, PermissionError):
            continue
        if token and (since is None or created >= since - 1.0) and _carries(proc, token):
            found.append(proc)
    return found


def _tree(pid: int, started: float) -> list[psutil.Process]:
    """The process (pid, started) and its descendants; nothing when the pid was reused."""
    try:
        root = psutil.Process(pid)
        if not _matches(root, started):
            return []
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def kill_attempt(
    token: str | None,
    root: tuple[int, float] | None = None,
    *,
    exclude: Iterable[int] = (),
    grace: float = 5.0,
) -> list[ProcessInfo]:
    """Terminate, then kill, everything a stage attempt started: the tree of ``root`` (the
    recorded pid and start time of its supervisor or program), the members of its session, and
    every process carrying ``token``. ``exclude`` spares pids (a supervisor ending its own
    program). Returns the processes that were signalled."""
    skip = {os.getpid(), *exclude}
    targets: dict[int, psutil.Process] = {}
    leader = None
    if root is not None and root[0]:
        try:
            reused = not _matches(psutil.Process(root[0]), root[1])
        except psutil.Error:
            reused = False  # gone: its re-parented children still carry its session
        for proc in [] if reused else _tree(*root):
            targets.setdefault(proc.pid, proc)
        # A reused pid must not lead to the session of whoever has the number now.
        leader = None if reused or not root[1] else root
    since = root[1] if root is not None and root[1] else None
    for proc in _scan(token, leader, since, skip):
        targets.setdefault(proc.pid, proc)
    for pid in skip:
        targets.pop(pid, None)
    return _terminate_then_kill(list(targets.values()), grace)


def end_trees(roots: Iterable[ProcessInfo], grace: float) -> None:
    """Terminate, then kill after ``grace`` seconds, each process (pid, start time) and its
    descendants: the sessions of ``ui --web`` (the shell textual-serve starts, the app under it)."""
    _terminate_then_kill([proc for root in roots for proc in _tree(root.pid, root.started)], grace)


def _terminate_then_kill(procs: list[psutil.Process], grace: float) -> list[ProcessInfo]:
    """Terminate every process, then kill those alive ``grace`` seconds later; returns the
    processes that were signalled."""
    signalled: list[ProcessInfo] = []
    for proc in procs:
        try:
            info = ProcessInfo(pid=proc.pid, started=proc.create_time(), name=proc.name())
            proc.terminate()
            signalled.append(info)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    alive = _wait_gone(procs, grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            continue
    _wait_gone(alive, grace)
    return signalled


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE  # dead; its parent has yet to reap it
    except psutil.Error:
        return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has died (a zombie counts: reaping it is its parent's business,
    and a daemon's parent is init, which may take its time); returns those still alive."""
    deadline = time.monotonic() + timeout
    alive = [proc for proc in procs if not _gone(proc)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [proc for proc in alive if not _gone(proc)]
    return alive
