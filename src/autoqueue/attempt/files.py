"""The folder of one stage attempt: what the tick and the attempt's supervisor hand each other.

``tasks/{task_id}/attempts/{queue_id}-{queue_type}-{attempt_no}/`` holds

- ``spec.json``: what to run, written by the tick before it starts the supervisor;
- ``task.json``: the ``AUTOQUEUE_TASK_JSON`` file of a command stage;
- ``output.jsonl``: the attempt's log entries, one JSON object a line, in order. The tick copies
  them into ``task_logs`` and records how many bytes it has copied (``task_queue.output_offset``)
  in the same transaction, so a tick that adopts the attempt goes on where the dead one stopped;
- ``supervisor.json``: the supervisor's pid and start time;
- ``supervisor.log``: anything the supervisor itself printed (a crash of autoqueue's own code);
- ``result.json``: how the attempt ended, written once, atomically and durably, before the
  supervisor exits. Its presence is the proof that the attempt ran to its end.

Standard library only: the supervisor of a command stage imports nothing heavier, so that an
attempt starts in a few tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ATTEMPTS = "attempts"
SPEC = "spec.json"
TASK_JSON = "task.json"
OUTPUT = "output.jsonl"
SUPERVISOR = "supervisor.json"
SUPERVISOR_LOG = "supervisor.log"
RESULT = "result.json"

MAX_READ_BYTES = 1 << 20  # the tick reads an attempt's output in slices of at most 1 MiB

Entry = dict[str, Any]  # level, message; optional action, metadata, pid, process_name; at


def attempt_dir(task_dir: Path, queue_id: int, queue_type: str, attempt_no: int) -> Path:
    """The folder of attempt ``attempt_no`` of queue item ``queue_id`` (in the task folder)."""
    return task_dir / ATTEMPTS / f"{queue_id}-{queue_type}-{attempt_no}"


def stamp(moment: datetime | None = None) -> str:
    """UTC text in SQLite's own form (``YYYY-MM-DD HH:MM:SS``)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "seconds")


def write_whole(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_durably(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all, and make it survive a power cut once this returns:
    a temporary file, fsync, rename over the target, fsync of the folder."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    if sys.platform != "win32":  # Windows cannot open a folder; NTFS journals the rename
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- log entries -------------------------------------------------------------------------------


def entry_line(entry: Entry) -> bytes:
    """One line of ``output.jsonl`` (stamped with the time it is written, if not already)."""
    record = {"at": stamp(), **entry}
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def read_entries(folder: Path, offset: int) -> tuple[list[Entry], int]:
    """The complete lines of ``output.jsonl`` from byte ``offset`` on (at most about 1 MiB of
    them), and the offset after the last one. A line still being written waits for next time."""
    try:
        with open(folder / OUTPUT, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], offset
    entries = []
    for line in chunk[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            # Only our own supervisor writes here: a damaged line (a torn write on a full disk).
            text = line.decode("utf-8", errors="replace").strip()
            record = {"level": "warn", "message": f"(damaged output line) {text[:2000]}"}
        entries.append(record)
    return entries, offset + end + 1


# -- the result --------------------------------------------------------------------------------
#
# {"finished_at": "...", "result": {StageResult fields}} for a success, or
# {"finished_at": "...", "error": {"kind": "transient" | "permanent" | "park",
#                                  "message": "...", "until": "..." (park),
#                                  "budget": true (a park for a quota or a spend cap)}}
#                                  for a failure.


def write_result(folder: Path, record: dict[str, Any]) -> None:
    """Record how the attempt ended (durably; see :func:`write_durably`)."""
    payload = {"finished_at": stamp(), **record}
    write_durably(folder / RESULT, json.dumps(payload, ensure_ascii=False, default=str))


def read_result(folder: Path) -> dict[str, Any] | None:
    """The recorded end of the attempt, or None when there is none (still running, or it
    vanished before it could write one)."""
    try:
        text = (folder / RESULT).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"error": {"kind": "transient", "message": f"cannot read {RESULT}: {exc}"}}
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        # Only ever written whole through a rename: unreadable means damaged storage. Running
        # the stage again is the safe answer (a transient failure, which spends a retry).
        return {"error": {"kind": "transient", "message": f"the attempt's {RESULT} is damaged"}}
    return record


def error_record(
    kind: str, message: str, until: str | None = None, *, budget: bool = False
) -> dict[str, Any]:
    """The ``error`` part of a result (``budget``: a park for a quota or a spend cap)."""
    record: dict[str, Any] = {"kind": kind, "message": message}
    if until is not None:
        record["until"] = until
    if budget:
        record["budget"] = True
    return {"error": record}


def write_identity(folder: Path, pid: int, started: float) -> None:
    """The supervisor's own record of who it is (for a tick that died before recording it; not
    fsynced: after a power cut the supervisor is gone anyway)."""
    with contextlib.suppress(OSError):
        write_whole(folder / SUPERVISOR, json.dumps({"pid": pid, "started": started}))


def read_identity(folder: Path) -> tuple[int, float] | None:
    try:
        record = json.loads((folder / SUPERVISOR).read_text(encoding="utf-8"))
        return int(record["pid"]), float(record["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
