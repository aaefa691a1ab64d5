"""Run one external program for a built-in stage (ffmpeg, a generator): the program runs
through autoqueue.attempt.program, within the attempt's timeout, and is killed with everything it
started when the stage is cancelled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from autoqueue.attempt import program
from autoqueue.attempt.processes import ProcessInfo
from autoqueue.attempt.program import LineSink, describe_exit
from autoqueue.errors import PermanentStageError, StageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.stages.base import StageContext

__all__ = ["StageCancelled", "describe_exit", "run_program"]


class StageCancelled(StageError):
    """The item stopped being ours while its program ran (a stop); the program was killed."""


class _Announce:
    """Tells the context about the program once it runs, then passes lines to the sink."""

    def __init__(self, ctx: StageContext, sink: LineSink) -> None:
        self.ctx = ctx
        self.sink = sink

    def attach(self, info: ProcessInfo) -> None:
        self.ctx.process_started(info)
        self.sink.attach(info)

    def handle(self, lines: list[tuple[str, str]]) -> None:
        self.sink.handle(lines)


def run_program(
    ctx: StageContext,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    sink: LineSink,
) -> tuple[int, ProcessInfo]:
    """Run ``argv`` to its end and return (exit code, identity). Past ``timeout`` everything it
    started is killed (a transient failure); a program that cannot start is a permanent one."""
    try:
        finished = program.run(
            argv,
            cwd=cwd,
            env=env,
            timeout=timeout,
            sink=_Announce(ctx, sink),
            cancelled=ctx.cancelled,
        )
    except program.CannotStart as exc:
        raise PermanentStageError(str(exc)) from exc
    except program.ProgramCancelled as exc:
        raise StageCancelled(str(exc)) from exc
    if finished.timed_out:
        raise TransientStageError(_("timed out after {timeout:g} s").format(timeout=timeout))
    return finished.code, finished.info
