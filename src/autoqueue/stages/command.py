"""The command handler: run the user's program for a stage (DESIGN.md, "Stages").

Contract: the program runs with the task folder as working directory and these variables:
``AUTOQUEUE_TASK_ID``, ``AUTOQUEUE_TASK_DIR``, ``AUTOQUEUE_QUEUE_TYPE``, ``AUTOQUEUE_QUEUE_ID``,
``AUTOQUEUE_ATTEMPT`` and ``AUTOQUEUE_TASK_JSON`` (a file with the task, its settings,
product_info and the schedule's YouTube settings). Exit 0 = success, exit 65 = permanent failure,
any other exit = transient failure (the tail of stderr becomes the error message). A stdout line
that is a JSON object is an event (``progress``, ``message``, ``level``, ``youtube_url``); other
lines are logged at info. Output beyond ``max_log_lines`` per attempt is counted, not logged.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autoqueue.errors import PermanentStageError, TransientStageError
from autoqueue.models import ActionType, LogLevel
from autoqueue.processes import ProcessInfo
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.runner import describe_exit, run_program

PERMANENT_EXIT_CODE = 65  # EX_DATAERR from sysexits.h
STDERR_TAIL_LINES = 20
ERROR_MAX_CHARS = 2000


def expand_argv(command: list[str], home: Path) -> list[str]:
    """``{python}`` becomes this Python; an argument naming a file relative to the home becomes
    absolute (the program runs in the task folder, not in the home)."""
    argv: list[str] = []
    for arg in command:
        if arg == "{python}":
            argv.append(sys.executable)
            continue
        candidate = home / arg
        if not arg.startswith("-") and not Path(arg).is_absolute() and candidate.is_file():
            argv.append(str(candidate))
        else:
            argv.append(arg)
    return argv


def task_payload(ctx: StageContext) -> dict[str, Any]:
    """The content of ``AUTOQUEUE_TASK_JSON``."""
    schedule = ctx.schedule
    return {
        "task": ctx.task.model_dump(mode="json"),
        "settings": ctx.task.settings,
        "product_info": ctx.task.product_info,
        "media_mode": ctx.task.media_mode.value,
        "queue": {
            "id": ctx.item.id,
            "queue_type": ctx.item.queue_type.value,
            "attempt": ctx.attempt,
            "max_retry": ctx.item.max_retry,
        },
        "youtube": None
        if schedule is None
        else {
            "channel_setting_id": schedule.channel_setting_id,
            "privacy": schedule.youtube_privacy,
            "publish_time": schedule.youtube_publish_time,
        },
        "task_dir": str(ctx.task_dir),
    }


@contextmanager
def _task_json(ctx: StageContext) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="autoqueue-") as folder:
        path = Path(folder) / "task.json"
        path.write_text(json.dumps(task_payload(ctx), ensure_ascii=False, indent=2), "utf-8")
        yield path


class _Output:
    """Turns the program's lines into log rows and events, within the line budget."""

    def __init__(self, ctx: StageContext, max_lines: int) -> None:
        self.ctx = ctx
        self.pid: int | None = None
        self.name: str | None = None
        self.max_lines = max_lines
        self.logged = 0
        self.dropped = 0
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.youtube_url: str | None = None

    def attach(self, info: ProcessInfo) -> None:
        self.pid, self.name = info.pid, info.name

    def handle(self, lines: list[tuple[str, str]]) -> None:
        entries: list[StageLog] = []
        for stream, line in lines:
            if stream == "stderr" and line.strip():
                self.stderr_tail.append(line)
            entry = self._entry(stream, line)
            if entry is None:
                continue
            if self.logged >= self.max_lines and entry.action is not ActionType.PROGRESS:
                self.dropped += 1
                continue
            self.logged += 1
            entries.append(entry)
        if entries:
            self.ctx.log(*entries)

    def _entry(self, stream: str, line: str) -> StageLog | None:
        if not line.strip():
            return None
        pid, name = self.pid, self.name
        event = _json_object(line) if stream == "stdout" else None
        if event is None:
            return StageLog(LogLevel.INFO, line, None, {"stream": stream}, pid, name)
        if isinstance(event.get("youtube_url"), str):
            self.youtube_url = event["youtube_url"]
        level = _level(event.get("level"))
        message = str(event.get("message") or "")
        progress = event.get("progress")
        if isinstance(progress, dict):
            current, total = progress.get("current"), progress.get("total")
            text = message or f"progress {current}/{total}"
            return StageLog(level, text, ActionType.PROGRESS, progress, pid, name)
        if self.youtube_url is not None and not message:
            message = f"youtube_url: {self.youtube_url}"
        return StageLog(level, message or line, None, event, pid, name)

    def error_tail(self) -> str:
        text = "\n".join(self.stderr_tail).strip()
        return text[-ERROR_MAX_CHARS:]


def _json_object(line: str) -> dict[str, Any] | None:
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _level(value: object) -> LogLevel:
    try:
        return LogLevel(str(value))
    except ValueError:
        return LogLevel.INFO


def command_env(ctx: StageContext, task_json: Path) -> dict[str, str]:
    """The environment of a stage program: ours, plus the AUTOQUEUE_* variables of the contract."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    env.update(
        {
            "AUTOQUEUE_TASK_ID": ctx.task.id,
            "AUTOQUEUE_TASK_DIR": str(ctx.task_dir),
            "AUTOQUEUE_QUEUE_TYPE": ctx.item.queue_type.value,
            "AUTOQUEUE_QUEUE_ID": str(ctx.item.id),
            "AUTOQUEUE_ATTEMPT": str(ctx.attempt),
            "AUTOQUEUE_TASK_JSON": str(task_json),
            "AUTOQUEUE_HOME": str(ctx.workspace.home),
        }
    )
    return env


def run_command(
    ctx: StageContext, command: list[str], *, timeout: float, max_log_lines: int
) -> StageResult:
    """Run a user program under the stage contract and judge it by its exit code."""
    argv = expand_argv(command, ctx.workspace.home)
    task_dir = ctx.task_dir
    task_dir.mkdir(parents=True, exist_ok=True)
    with _task_json(ctx) as task_json:
        output = _Output(ctx, max_log_lines)
        code, info = run_program(
            ctx, argv, cwd=task_dir, env=command_env(ctx, task_json), timeout=timeout, sink=output
        )
    if output.dropped:
        ctx.log(
            StageLog(
                LogLevel.WARN,
                f"{output.dropped} more output lines were not logged (max_log_lines)",
                pid=info.pid,
                process_name=info.name,
            )
        )
    if code == 0:
        return StageResult(youtube_url=output.youtube_url)
    tail = output.error_tail()
    message = f"{info.name} {describe_exit(code)}" + (f": {tail}" if tail else "")
    if code == PERMANENT_EXIT_CODE:
        raise PermanentStageError(message)
    raise TransientStageError(message)
