"""Run one external program for a stage: hold it until recorded, supervise, kill on timeout or
stop. Shared by the command handler and the built-in stages that call ffmpeg."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Protocol

from autoqueue import processes
from autoqueue.errors import StageError, TransientStageError
from autoqueue.stages.base import StageContext

POLL_SECONDS = 0.2
CANCEL_CHECK_SECONDS = 1.0


class StageCancelled(StageError):
    """The item stopped being ours while its program ran (a stop or a recovery); it was killed."""


class LineSink(Protocol):
    """Receives the program's identity once it is recorded, then its output lines as
    (stream, line) pairs, in batches."""

    def attach(self, info: processes.ProcessInfo) -> None: ...

    def handle(self, lines: list[tuple[str, str]]) -> None: ...


def _reader(stream: IO[bytes], name: str, sink: queue.Queue[tuple[str, str]]) -> None:
    for raw in iter(stream.readline, b""):
        sink.put((name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
    stream.close()


def _drain(lines: queue.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    drained = []
    while True:
        try:
            drained.append(lines.get_nowait())
        except queue.Empty:
            return drained


def run_program(
    ctx: StageContext,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    sink: LineSink,
) -> tuple[int, processes.ProcessInfo]:
    """Run ``argv`` to its end and return (exit code, identity).

    Its pid and start time are recorded (``ctx.process_started``) before it runs. Past
    ``timeout`` its whole tree is killed (a transient failure); when the item stops being ours
    (``ctx.cancelled``) the tree is killed and :class:`StageCancelled` raised.
    """
    popen, info = processes.spawn(argv, cwd=cwd, env=env)
    if not ctx.process_started(info):
        processes.abandon(popen)
        raise StageCancelled("the item was stopped before its program started")
    sink.attach(info)
    processes.release(popen)
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    readers = [
        threading.Thread(target=_reader, args=(popen.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_reader, args=(popen.stderr, "stderr", lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    next_cancel_check = started + CANCEL_CHECK_SECONDS
    outcome: StageError | None = None
    while popen.poll() is None:
        with suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=POLL_SECONDS)
        sink.handle(_drain(lines))
        now = time.monotonic()
        if now - started > timeout:
            processes.kill_tree(info.pid, info.started)
            outcome = TransientStageError(f"timed out after {timeout:g} s")
            break
        if now >= next_cancel_check:
            next_cancel_check = now + CANCEL_CHECK_SECONDS
            if ctx.cancelled():
                processes.kill_tree(info.pid, info.started)
                outcome = StageCancelled("the item was stopped while its program ran")
                break
    popen.wait()
    for reader in readers:
        reader.join(timeout=5)
    sink.handle(_drain(lines))
    if outcome is not None:
        raise outcome
    return popen.returncode, info


def describe_exit(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
