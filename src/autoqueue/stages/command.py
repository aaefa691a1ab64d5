"""The command handler: run the user's program for a stage (docs/stage-handlers.md).

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autoqueue.attempt.program import PERMANENT_EXIT_CODE, CommandOutput, Finished
from autoqueue.errors import PermanentStageError, TransientStageError
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.external import run_program

__all__ = [
    "PERMANENT_EXIT_CODE",
    "command_env",
    "contract_env",
    "expand_argv",
    "run_command",
    "task_payload",
]


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


def contract_env(ctx: StageContext, task_json: Path) -> dict[str, str]:
    """The AUTOQUEUE_* variables of the stage contract (and unbuffered UTF-8 Python output)."""
    env = {
        key: os.environ.get(key, value)
        for key, value in (("PYTHONUNBUFFERED", "1"), ("PYTHONIOENCODING", "utf-8"))
    }
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


def command_env(ctx: StageContext, task_json: Path) -> dict[str, str]:
    """The environment of a stage program: ours, plus the AUTOQUEUE_* variables of the contract."""
    return {**os.environ, **contract_env(ctx, task_json)}


def run_command(
    ctx: StageContext,
    command: list[str],
    *,
    timeout: float,
    max_log_lines: int,
    extra_env: Mapping[str, str] | None = None,
) -> StageResult:
    """Run a user program under the stage contract and judge it by its exit code (a built-in
    stage's helper, such as the video stage's generator; a command stage itself runs in its
    attempt's supervisor, which does the same)."""
    argv = expand_argv(command, ctx.workspace.home)
    task_dir = ctx.task_dir
    task_dir.mkdir(parents=True, exist_ok=True)

    def emit(entries: list[dict[str, Any]]) -> None:
        ctx.log(*(StageLog.from_entry(entry) for entry in entries))

    output = CommandOutput(emit, max_log_lines)
    with _task_json(ctx) as task_json:
        code, info = run_program(
            ctx,
            argv,
            cwd=task_dir,
            env={**command_env(ctx, task_json), **(extra_env or {})},
            timeout=timeout,
            sink=output,
        )
    dropped = output.dropped_entry()
    if dropped is not None:
        emit([dropped])
    failure = output.failure(Finished(code, info, timed_out=False), timeout)
    if failure is None:
        return StageResult(youtube_url=output.youtube_url)
    kind, message = failure
    if kind == "permanent":
        raise PermanentStageError(message)
    raise TransientStageError(message)
