"""Run one program of a stage attempt and read its output, within limits.

Standard library and psutil only (see attempt_files). Used by the attempt supervisor for a
command stage, and by built-in stages for ffmpeg and generator programs.

Limits: a line longer than ``MAX_LINE_BYTES`` keeps its start and says how much was cut (a
20 MB line never becomes a 20 MB log row nor 20 MB of memory); a timeout kills everything the
attempt started; the stage contract's output interpretation (:class:`CommandOutput`) logs at
most ``max_log_lines`` lines and as many progress events per attempt, and counts the rest.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from autoqueue.attempt import processes
from autoqueue.attempt.files import Entry
from autoqueue.attempt.processes import ProcessInfo
from autoqueue.i18n import _

MAX_LINE_BYTES = 8192
POLL_SECONDS = 0.1
CANCEL_CHECK_SECONDS = 1.0
READ_ON_SECONDS = 5.0  # how long the output is read after the program's end, at most
PERMANENT_EXIT_CODE = 65  # EX_DATAERR from sysexits.h: the stage contract's permanent failure
STDERR_TAIL_LINES = 20
PROGRESS_STEP = 0.1  # a progress event is logged when it reaches the next tenth of its total
PROGRESS_SECONDS = 30.0  # or, for events without a usable total, at most this often
ERROR_MAX_CHARS = 2000


class CannotStart(Exception):
    """The program could not be started (not found, not executable): a permanent failure."""


class ProgramCancelled(Exception):
    """``cancelled()`` said to stop; everything the program started was killed."""


class LineSink(Protocol):
    """Receives the program's identity once it runs, then its output lines as (stream, line)
    pairs, in batches."""

    def attach(self, info: ProcessInfo) -> None: ...

    def handle(self, lines: list[tuple[str, str]]) -> None: ...


class Finished(NamedTuple):
    code: int
    info: ProcessInfo
    timed_out: bool


def _read_lines(stream: IO[bytes], name: str, sink: queue.Queue[tuple[str, str]]) -> None:
    """Queue each line of ``stream``, cut to MAX_LINE_BYTES (the rest is read and dropped in
    pieces of that size, so memory stays bounded whatever the program prints)."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            break
        cut = 0
        if not raw.endswith(b"\n") and len(raw) >= MAX_LINE_BYTES:
            while True:
                more = stream.readline(MAX_LINE_BYTES)
                cut += len(more.rstrip(b"\r\n"))
                if not more or more.endswith(b"\n"):
                    break
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if cut:
            text += " " + _("… [{cut} more bytes of this line not kept]").format(cut=cut)
        sink.put((name, text))
    stream.close()


def _drain(lines: queue.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    drained = []
    while True:
        try:
            drained.append(lines.get_nowait())
        except queue.Empty:
            return drained


def cannot_start(argv: Sequence[str], exc: OSError) -> CannotStart:
    return CannotStart(
        _("cannot start {program!r}: {error}").format(program=argv[0], error=exc.strerror or exc)
    )


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    sink: LineSink,
    cancelled: Callable[[], bool] | None = None,
) -> Finished:
    """Start ``argv`` and follow it to its end (see :func:`follow`)."""
    try:
        popen, info = processes.start_program(argv, cwd=cwd, env=env)
    except OSError as exc:
        raise cannot_start(argv, exc) from exc
    return follow(popen, info, timeout=timeout, sink=sink, cancelled=cancelled)


def follow(
    popen: subprocess.Popen[bytes],
    info: ProcessInfo,
    *,
    timeout: float,
    sink: LineSink,
    cancelled: Callable[[], bool] | None = None,
    exited_first: Callable[[], object] | None = None,
) -> Finished:
    """Follow a started program (output piped) to its end. Past ``timeout`` everything it
    started is killed (its tree, and every process carrying this attempt's token) and
    ``timed_out`` is set.

    The program's end is its own exit, not the end of its output: a daemon it left may hold
    the pipes open for as long as it lives. ``exited_first`` is called once the program has
    exited by itself, before its output is read to the end; it kills what the program left,
    which closes the pipes. Either way the output is read for at most ``READ_ON_SECONDS`` more."""
    token = os.environ.get(processes.ATTEMPT_ENV)
    sink.attach(info)
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    readers = [
        threading.Thread(target=_read_lines, args=(popen.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_read_lines, args=(popen.stderr, "stderr", lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    # A thread blocks on the exit, so the loop below wakes the moment the program ends rather
    # than at its next poll (Popen.wait with a timeout sleeps in growing steps).
    exited = threading.Event()
    threading.Thread(target=wait_then_set, args=(popen, exited), daemon=True).start()
    started = time.monotonic()
    next_cancel_check = started + CANCEL_CHECK_SECONDS
    timed_out = was_cancelled = False
    while not exited.is_set():
        exited.wait(POLL_SECONDS)
        sink.handle(_drain(lines))
        now = time.monotonic()
        if now - started > timeout:
            timed_out = True
        elif cancelled is not None and now >= next_cancel_check:
            next_cancel_check = now + CANCEL_CHECK_SECONDS
            was_cancelled = cancelled()
        if timed_out or was_cancelled:
            processes.kill_attempt(token, (info.pid, info.started))
            break
    popen.wait()
    if exited_first is not None and not (timed_out or was_cancelled):
        exited_first()
    _join_within(readers, READ_ON_SECONDS)
    sink.handle(_drain(lines))
    if was_cancelled:
        raise ProgramCancelled(_("the item was stopped while its program ran"))
    return Finished(popen.returncode, info, timed_out)


def _join_within(threads: list[threading.Thread], seconds: float) -> None:
    """Join ``threads`` within ``seconds`` in all (a reader blocked on a pipe that something
    else holds is left to end when that holder dies)."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))


def wait_then_set(popen: subprocess.Popen[bytes], event: threading.Event) -> None:
    """Wait for ``popen`` to exit (reaping it), then set ``event``."""
    popen.wait()
    event.set()


def describe_exit(code: int) -> str:
    if code < 0:
        return _("killed by signal {signal}").format(signal=-code)
    return _("exited with code {code}").format(code=code)


# -- the stage contract's output ---------------------------------------------------------------


def _json_object(line: str) -> dict[str, Any] | None:
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _level(value: object) -> str:
    return value if value in ("info", "warn", "error") else "info"


class ProgressGate:
    """Which progress events become log rows: an uploader that reports every chunk (`uploading
    14/120`) would bury everything else in the log viewer, so only the first, each tenth of the
    total, the last, and (without a total) one per ``PROGRESS_SECONDS``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.step = -1  # the last logged tenth
        self.at: float | None = None  # when the last one was logged

    def passes(self, current: object, total: object) -> bool:
        now = self.clock()
        if isinstance(current, int | float) and isinstance(total, int | float) and total > 0:
            step = int(current / total / PROGRESS_STEP)
            keep = step > self.step or current >= total
            self.step = max(self.step, step)
        else:
            keep = self.at is None or now - self.at >= PROGRESS_SECONDS
        if keep:
            self.at = now
        return keep


class CommandOutput:
    """Turns a stage program's lines into log entries (stage contract: a stdout line that is a
    JSON object is an event with ``progress``, ``message``, ``level``, ``youtube_url``; other
    lines are logged at info), within the attempt's budget, and keeps the stderr tail."""

    def __init__(
        self,
        emit: Callable[[list[Entry]], None],
        max_lines: int,
        on_start: Callable[[ProcessInfo], None] | None = None,
    ) -> None:
        self.emit = emit
        self.on_start = on_start
        self.info: ProcessInfo | None = None
        self.max_lines = max_lines
        self.logged = 0
        self.progress = 0
        self.gate = ProgressGate()
        self.dropped = 0
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.youtube_url: str | None = None

    def attach(self, info: ProcessInfo) -> None:
        self.info = info
        if self.on_start is not None:
            self.on_start(info)

    def handle(self, lines: list[tuple[str, str]]) -> None:
        entries: list[Entry] = []
        for stream, line in lines:
            if stream == "stderr" and line.strip():
                self.stderr_tail.append(line)
            entry = self._entry(stream, line)
            if entry is None:
                continue
            if entry.get("action") == "progress":
                metadata = entry.get("metadata") or {}
                if not self.gate.passes(metadata.get("current"), metadata.get("total")):
                    continue  # sparse on purpose: not a dropped line
                if self.progress >= self.max_lines:
                    self.dropped += 1
                    continue
                self.progress += 1
            elif self.logged >= self.max_lines:
                self.dropped += 1
                continue
            else:
                self.logged += 1
            if self.info is not None:
                entry["pid"], entry["process_name"] = self.info.pid, self.info.name
            entries.append(entry)
        if entries:
            self.emit(entries)

    def _entry(self, stream: str, line: str) -> Entry | None:
        if not line.strip():
            return None
        event = _json_object(line) if stream == "stdout" else None
        if event is None:
            return {"level": "info", "message": line, "metadata": {"stream": stream}}
        if isinstance(event.get("youtube_url"), str):
            self.youtube_url = event["youtube_url"]
        level = _level(event.get("level"))
        message = str(event.get("message") or "")
        progress = event.get("progress")
        if isinstance(progress, dict):
            current, total = progress.get("current"), progress.get("total")
            text = message or _("progress {current}/{total}").format(current=current, total=total)
            return {"level": level, "message": text, "action": "progress", "metadata": progress}
        if self.youtube_url is not None and not message:
            message = f"youtube_url: {self.youtube_url}"
        return {"level": level, "message": message or line, "metadata": event}

    def dropped_entry(self) -> Entry | None:
        """The warning about lines beyond the budget, if any were dropped."""
        if not self.dropped:
            return None
        entry: Entry = {
            "level": "warn",
            "message": _("{dropped} more output lines were not logged (max_log_lines)").format(
                dropped=self.dropped
            ),
        }
        if self.info is not None:
            entry["pid"], entry["process_name"] = self.info.pid, self.info.name
        return entry

    def error_tail(self) -> str:
        text = "\n".join(self.stderr_tail).strip()
        return text[-ERROR_MAX_CHARS:]

    def failure(self, finished: Finished, timeout: float) -> tuple[str, str] | None:
        """The (kind, message) of a failed run, or None for a success (exit 0)."""
        if finished.timed_out:
            return "transient", _("timed out after {timeout:g} s").format(timeout=timeout)
        if finished.code == 0:
            return None
        tail = self.error_tail()
        message = f"{finished.info.name} {describe_exit(finished.code)}" + (
            f": {tail}" if tail else ""
        )
        kind = "permanent" if finished.code == PERMANENT_EXIT_CODE else "transient"
        return kind, message
