"""What an attempt's supervisor does once its program runs (autoqueue.attempt.supervisor starts it).

It follows the stage (a command's program as its child, or a built-in handler in itself),
writes the log entries to ``output.jsonl`` in the attempt folder, enforces the timeout, kills
whatever the attempt left running, and records how it ended in ``result.json`` (durably)
before it exits. It does not need the tick: when the tick dies, the attempt runs on, and the
next tick adopts it or applies its result (docs/running.md, "Exactly once"). See attempt_files for
the folder. A command stage's supervisor imports only the standard library and psutil; a built-in
stage loads the rest of autoqueue.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autoqueue.attempt import files as attempt_files
from autoqueue.attempt import processes, program
from autoqueue.attempt.files import Entry
from autoqueue.i18n import _

WATCHDOG_MARGIN = 10.0  # seconds past a built-in stage's timeout before the watchdog steps in


class EntryWriter:
    """Appends log entries to ``output.jsonl``, at most ``max_bytes`` of them per attempt."""

    def __init__(self, path: Path, max_bytes: int = 32 << 20) -> None:
        self.handle = open(path, "ab")  # noqa: SIM115 - open for the supervisor's whole life
        self.lock = threading.Lock()
        self.max_bytes = max_bytes
        self.written = 0
        self.dropped = 0

    def write(self, entries: list[Entry]) -> None:
        with self.lock:
            for entry in entries:
                line = attempt_files.entry_line(entry)
                if self.written + len(line) > self.max_bytes:
                    self.dropped += 1
                    continue
                try:
                    self.handle.write(line)
                except OSError:
                    self.dropped += 1  # a full disk: the result still says how the stage ended
                    continue
                self.written += len(line)
            with contextlib.suppress(OSError):
                self.handle.flush()

    def close(self) -> None:
        if self.dropped:
            self.max_bytes += 1 << 16
            message = (
                f"{self.dropped} log entries were dropped (past the attempt's 32 MiB of output, "
                "or not written: a full disk?)"
            )
            self.write([{"level": "warn", "message": message}])
        with contextlib.suppress(OSError):
            self.handle.close()


def start_entry(queue_type: str, name: str, pid: int, attempt: int) -> Entry:
    """The ``start`` log row of an attempt: the stage program, its pid and the attempt number."""
    return {
        "level": "info",
        "message": f"▶ {queue_type} stage started: {name} (pid {pid})",
        "action": "start",
        "pid": pid,
        "process_name": name,
        "metadata": {"attempt": attempt},
    }


def run_command(
    spec: dict[str, Any],
    writer: EntryWriter,
    started: subprocess.Popen[bytes] | OSError,
    exited: Callable[[], object],
) -> dict[str, Any]:
    """A command stage: the user's program (``started`` already, or the error that kept it
    from starting) as a child, judged by its exit code. ``exited`` is called the moment the
    program has exited, before its output is read to the end (program.follow)."""
    if isinstance(started, OSError):
        return attempt_files.error_record(
            "permanent", str(program.cannot_start(spec["argv"], started))
        )
    attempt = int(spec["attempt"])
    output = program.CommandOutput(
        writer.write,
        int(spec["max_log_lines"]),
        on_start=lambda info: writer.write(
            [start_entry(spec["queue_type"], info.name, info.pid, attempt)]
        ),
    )
    timeout = float(spec["timeout"])
    info = processes.identity(started.pid, Path(spec["argv"][0]).name)
    finished = program.follow(started, info, timeout=timeout, sink=output, exited_first=exited)
    dropped = output.dropped_entry()
    if dropped is not None:
        writer.write([dropped])
    failure = output.failure(finished, timeout)
    if failure is not None:
        return attempt_files.error_record(*failure)
    return {"result": {"youtube_url": output.youtube_url}}


def run_builtin(spec: dict[str, Any], writer: EntryWriter) -> dict[str, Any]:
    """A built-in stage, in this process, under a watchdog that enforces its timeout."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome.update(_builtin(spec, writer))
        except BaseException as exc:  # a bug in a built-in stage must still end in a result
            import traceback

            traceback.print_exc()  # into supervisor.log
            outcome.update(attempt_files.error_record("transient", f"internal error: {exc!r}"))

    thread = threading.Thread(target=work, name="stage", daemon=True)
    thread.start()
    thread.join(float(spec["timeout"]) + WATCHDOG_MARGIN)
    if thread.is_alive():
        timed_out = _("timed out after {timeout:g} s").format(timeout=float(spec["timeout"]))
        return attempt_files.error_record("transient", timed_out)
    return outcome


def _builtin(spec: dict[str, Any], writer: EntryWriter) -> dict[str, Any]:
    from dataclasses import asdict

    from autoqueue.errors import ParkStageError, StageError
    from autoqueue.models import QueueItem, Schedule, Task
    from autoqueue.stages.base import StageContext, StageLog
    from autoqueue.stages.registry import run_handler
    from autoqueue.store.stage_store import DatabaseStore
    from autoqueue.timeutil import to_db
    from autoqueue.workspace import Workspace

    # The stage program must not inherit a database password: the URL leaves the environment.
    database = spec["db"] or os.environ.pop("AUTOQUEUE_DB", None)
    workspace = Workspace.load(Path(spec["home"]), database)
    item = QueueItem.model_validate(spec["item"])
    name = f"autoqueue ({spec['handler']})"
    writer.write([start_entry(item.queue_type.value, name, os.getpid(), item.retry_count + 1)])

    def log(*entries: StageLog) -> None:
        writer.write([entry.to_entry() for entry in entries])

    def started(info: processes.ProcessInfo) -> None:
        writer.write(
            [
                {
                    "level": "info",
                    "message": f"running {info.name} (pid {info.pid})",
                    "pid": info.pid,
                    "process_name": info.name,
                }
            ]
        )

    ctx = StageContext(
        workspace=workspace,
        task=Task.model_validate(spec["task"]),
        schedule=None if spec["schedule"] is None else Schedule.model_validate(spec["schedule"]),
        item=item,
        log=log,
        process_started=started,
        store=DatabaseStore(workspace, item.id, patience=workspace.config.lease.seconds),
    )
    try:
        result = run_handler(ctx)
    except ParkStageError as exc:
        return attempt_files.error_record("park", str(exc), to_db(exc.until), budget=exc.budget)
    except StageError as exc:
        return attempt_files.error_record("permanent" if exc.permanent else "transient", str(exc))
    fields = asdict(result)
    fields.pop("archived", None)  # only the schedule stage archives, and it runs in the tick
    return {"result": fields}


def supervise(
    folder: Path, spec: dict[str, Any], started: subprocess.Popen[bytes] | OSError | None
) -> int:
    """Follow the attempt to its end, kill what it left, record how it ended."""
    from autoqueue import i18n

    i18n.set_language(str(spec.get("language", "en")))
    me = processes.identity(os.getpid(), "autoqueue-supervisor")
    attempt_files.write_identity(folder, me.pid, me.started)
    writer = EntryWriter(folder / attempt_files.OUTPUT)
    leftovers: list[processes.ProcessInfo] = []

    def kill_leftovers() -> None:
        leftovers.extend(kill_what_is_left(me))

    if started is not None:
        # The attempt ends when the program exits: what it left is killed then, not when the
        # last of them (a daemon holding the program's stdout) lets go of the output pipe.
        record = run_command(spec, writer, started, kill_leftovers)
    else:
        record = run_builtin(spec, writer)
    kill_leftovers()  # a built-in stage's, or what a timed-out program left
    if leftovers:
        writer.write([leftovers_entry(leftovers)])
    writer.close()
    attempt_files.write_result(folder, record)
    return 0


def kill_what_is_left(me: processes.ProcessInfo) -> list[processes.ProcessInfo]:
    """Kill whatever the attempt left running but this supervisor (a daemon that double-forked
    and called setsid), found by the token in its environment, never by its name."""
    token = os.environ.get(processes.ATTEMPT_ENV)
    if not token:
        return []
    return processes.kill_attempt(token, (me.pid, me.started), exclude=[me.pid])


def leftovers_entry(leftovers: list[processes.ProcessInfo]) -> Entry:
    """The log entry that names what the stage left running and was killed."""
    names = ", ".join(f"{p.name} (pid {p.pid})" for p in leftovers)
    return {
        "level": "warn",
        "message": f"killed {len(leftovers)} process(es) the stage left running: {names}",
        "action": "stop",
        "metadata": {"killedProcesses": [{"name": p.name, "pid": p.pid} for p in leftovers]},
    }
