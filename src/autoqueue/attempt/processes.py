"""Process control: the only module that uses psutil.

autoqueue only ever signals processes it started itself. Every process of a stage attempt
carries the attempt's secret token in its environment (``AUTOQUEUE_ATTEMPT_TOKEN``), which
survives double forks and ``setsid``; the attempt's supervisor is also known by pid *and* start
time, so that a recycled pid is never mistaken for it. Nothing here matches processes by name:
a ``pkill -f chrome`` would close the user's own browser.

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

from autoqueue.attempt import spawn
from autoqueue.owner import Owner

ATTEMPT_ENV = "AUTOQUEUE_ATTEMPT_TOKEN"

# Start times are floats from the OS; allow for rounding when they round-trip through SQLite.
_START_TOLERANCE = 0.01
ROUND_SECONDS = 0.05  # between two looks at the process table while an attempt is killed


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


class _Look(NamedTuple):
    """One look at the process table for an attempt's processes."""

    found: list[psutil.Process]
    # A process created since the attempt began whose environment reads empty: a program in
    # the middle of its exec (the kernel shows its environment only once the exec is done).
    unsure: bool


def _environment(proc: psutil.Process) -> dict[str, str] | None:
    try:
        return proc.environ()
    except (psutil.Error, OSError):
        return None  # gone, a zombie, or another user's: not ours to read, not ours to kill


def carriers(
    token: str, *, since: float | None = None, exclude: Iterable[int] = ()
) -> list[psutil.Process]:
    """The live processes whose environment carries the attempt ``token``: the attempt's
    supervisor, its program and every descendant, including daemons that double-forked and
    called setsid. ``since`` (the attempt's start) skips older processes without reading them."""
    return _scan(token, None, since, {os.getpid(), *exclude}).found


def _scan(
    token: str | None, leader: tuple[int, float] | None, since: float | None, skip: set[int]
) -> _Look:
    """One pass over the process table: the processes carrying ``token`` (created since
    ``since``), and the members of the session ``leader`` (pid, start time) created, which its
    tree no longer shows once their parent has died (POSIX)."""
    found = []
    unsure = False
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
        if not token or (since is not None and created < since - 1.0):
            continue
        environment = _environment(proc)
        if environment is not None and environment.get(ATTEMPT_ENV) == token:
            found.append(proc)
        unsure = unsure or environment == {}
    return _Look(found, unsure)


def _tree(pid: int, started: float) -> list[psutil.Process]:
    """The process (pid, started) and its descendants; nothing when the pid was reused."""
    try:
        root = psutil.Process(pid)
        if not _matches(root, started):
            return []
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


class _Target(NamedTuple):
    """Where an attempt's processes are looked for, besides every process carrying its token."""

    root: tuple[int, float] | None  # its tree (pid and start time: a reused pid is not it)
    leader: tuple[int, float] | None  # the members of its session
    since: float | None  # only processes created since then are read


def _target(root: tuple[int, float] | None) -> _Target:
    since = root[1] if root is not None and root[1] else None
    if root is None or not root[0]:
        return _Target(None, None, since)
    try:
        reused = not _matches(psutil.Process(root[0]), root[1])
    except psutil.Error:
        reused = False  # gone: its re-parented children still carry its session
    if reused:  # the pid must not lead to the tree or the session of whoever has it now
        return _Target(None, None, since)
    return _Target(root, root if root[1] else None, since)


def _look(token: str | None, target: _Target, skip: set[int]) -> _Look:
    """The live processes of the attempt: its root's tree, its session, its token's carriers."""
    found = {proc.pid: proc for proc in ([] if target.root is None else _tree(*target.root))}
    scanned = _scan(token, target.leader, target.since, skip)
    for proc in scanned.found:
        found.setdefault(proc.pid, proc)
    live = [proc for pid, proc in found.items() if pid not in skip and not _gone(proc)]
    return _Look(live, scanned.unsure)


class _Rounds:
    """What one kill has signalled so far, and when it moves from SIGTERM to SIGKILL."""

    def __init__(self, grace: float) -> None:
        begun = time.monotonic()
        self.kill_at = begun + grace
        self.give_up_at = begun + 2 * grace
        self.procs: dict[int, psutil.Process] = {}
        self.signalled: list[ProcessInfo] = []

    def settled(self) -> bool:
        """Whether everything signalled so far has died."""
        return all(_gone(proc) for proc in self.procs.values())

    def over(self) -> bool:
        return time.monotonic() >= self.give_up_at

    def signal(self, found: list[psutil.Process]) -> bool:
        """Terminate the processes found that were not signalled yet (past the grace period,
        kill them, and every one still alive); True when there were any."""
        hard = time.monotonic() >= self.kill_at
        fresh = False
        for proc in found:
            if self.procs.get(proc.pid) == proc:  # the same pid and start time
                continue
            info = _signal(proc, hard=hard)
            if info is not None:
                self.procs[proc.pid] = proc
                self.signalled.append(info)
                fresh = True
        if hard:
            for proc in self.procs.values():
                if not _gone(proc):
                    _signal(proc, hard=True)
        return fresh


def _signal(proc: psutil.Process, *, hard: bool) -> ProcessInfo | None:
    try:
        info = ProcessInfo(pid=proc.pid, started=proc.create_time(), name=proc.name())
        if hard:
            proc.kill()
        else:
            proc.terminate()
        return info
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None


def kill_attempt(
    token: str | None,
    root: tuple[int, float] | None = None,
    *,
    exclude: Iterable[int] = (),
    grace: float = 5.0,
) -> list[ProcessInfo]:
    """Terminate, then kill after ``grace``, everything a stage attempt started: the tree of
    ``root`` (the recorded pid and start time of its supervisor or program), the members of its
    session, and every process carrying ``token``. ``exclude`` spares pids (a supervisor ending
    its own program). Returns the processes that were signalled.

    One look at the process table is not enough: a process may start another between the look
    and the signals (a stage starting children, a child still being forked), and a program in
    the middle of its exec shows no environment yet. So it looks again, signalling what is new,
    until a look taken after everything signalled has died finds nothing of the attempt alive
    (twice in a row if a fresh process could not be read), or ``2 * grace`` has passed."""
    skip = {os.getpid(), *exclude}
    target = _target(root)
    rounds = _Rounds(grace)
    clean = 0
    while not rounds.over():
        settled = rounds.settled()
        look = _look(token, target, skip)
        fresh = rounds.signal(look.found)
        clean = clean + 1 if settled and not fresh else 0
        if clean >= (2 if look.unsure else 1):
            break
        time.sleep(ROUND_SECONDS)
    return rounds.signalled


def end_trees(roots: Iterable[ProcessInfo], grace: float) -> None:
    """Terminate, then kill after ``grace`` seconds, each process (pid, start time) and its
    descendants: the sessions of ``ui --web`` (the shell textual-serve starts, the app under it)."""
    rounds = _Rounds(grace)
    rounds.signal([proc for root in roots for proc in _tree(root.pid, root.started)])
    while not rounds.settled() and not rounds.over():
        time.sleep(ROUND_SECONDS)
        rounds.signal([])  # past the grace period: kills what is still alive


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE  # dead; its parent has yet to reap it
    except psutil.Error:
        return True
