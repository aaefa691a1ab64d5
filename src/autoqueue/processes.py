"""Process control: the only module that uses psutil.

autoqueue only ever signals processes it started itself, identified by pid *and* start time, so
that a recycled pid is never mistaken for a stage program. The seed's ``pkill -f chrome`` would
close the user's own browser; nothing here matches processes by name.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from autoqueue.repo.queue import Owner

# Start times are floats from the OS; allow for rounding when they round-trip through SQLite.
_START_TOLERANCE = 0.01


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    started: float
    name: str


def current_owner() -> Owner:
    """This process as an owner of locks and claims."""
    me = psutil.Process()
    return Owner(host=socket.gethostname(), pid=me.pid, started=me.create_time())


def this_host() -> str:
    return socket.gethostname()


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


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = subprocess.PIPE,
) -> tuple[subprocess.Popen[bytes], ProcessInfo]:
    """Start ``argv`` (no shell) held by the launcher, in its own session / process group.

    The program does not run until :func:`release` is called, so the caller can record the
    returned identity (pid, start time, name) first. :func:`abandon` ends it unrun.
    """
    kwargs: dict[str, object] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    popen = subprocess.Popen(  # an argv list, never a shell
        [sys.executable, "-m", "autoqueue.launcher", *argv],
        cwd=str(cwd),
        env=dict(env),
        stdin=subprocess.PIPE,
        stdout=stdout,
        stderr=stderr,
        **kwargs,  # type: ignore[call-overload]
    )
    name = Path(argv[0]).name
    try:
        started = psutil.Process(popen.pid).create_time()
    except psutil.Error:
        started = 0.0  # already gone: nothing left to kill, the identity only serves the log
    return popen, ProcessInfo(pid=popen.pid, started=started, name=name)


def release(popen: subprocess.Popen[bytes]) -> None:
    """Let a spawned program run (its identity has been recorded)."""
    assert popen.stdin is not None
    try:
        popen.stdin.write(b"go\n")
        popen.stdin.close()
    except BrokenPipeError:
        pass  # the launcher died before running anything; its exit code tells


def abandon(popen: subprocess.Popen[bytes]) -> None:
    """End a spawned program that was never released (it has run nothing)."""
    assert popen.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        popen.stdin.close()
    popen.wait()


def _session_members(leader: int, started: float) -> list[psutil.Process]:
    """Processes of the session that ``leader`` created, even if the leader itself has exited."""
    if sys.platform == "win32":
        return []
    members = []
    for proc in psutil.process_iter(["pid", "create_time"]):
        try:
            if (
                os.getsid(proc.pid) == leader
                and proc.info["create_time"] >= started - _START_TOLERANCE
            ):
                members.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def kill_tree(pid: int, started: float, *, grace: float = 5.0) -> list[ProcessInfo]:
    """Terminate the process tree that autoqueue started as (``pid``, ``started``), then kill.

    A pid whose start time differs is another program that reused the number and is left alone.
    Returns the processes that were signalled.
    """
    targets: dict[int, psutil.Process] = {}
    reused = False
    try:
        root = psutil.Process(pid)
        if _matches(root, started):
            targets[root.pid] = root
            for child in root.children(recursive=True):
                targets[child.pid] = child
        else:
            reused = True
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        pass
    # Children whose parent already died were re-parented; their session still names the leader.
    if started and not reused:
        for member in _session_members(pid, started):
            targets.setdefault(member.pid, member)
    signalled: list[ProcessInfo] = []
    for proc in targets.values():
        try:
            info = ProcessInfo(pid=proc.pid, started=proc.create_time(), name=proc.name())
            proc.terminate()
            signalled.append(info)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied:
            continue
    _, alive = psutil.wait_procs(list(targets.values()), timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=grace)
    return signalled
