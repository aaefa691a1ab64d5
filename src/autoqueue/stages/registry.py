"""Which handler runs which stage."""

from __future__ import annotations

from autoqueue.errors import PermanentStageError
from autoqueue.models import QueueType
from autoqueue.stages.base import StageContext, StageResult
from autoqueue.stages.command import run_command
from autoqueue.stages.outputs import check_outputs
from autoqueue.stages.schedule import run_schedule_stage


def run_stage(ctx: StageContext) -> StageResult:
    """Run the item's stage with its configured handler, then check its outputs."""
    queue_type = ctx.item.queue_type
    if queue_type is QueueType.SCHEDULE:
        result = run_schedule_stage(ctx)
    else:
        config = ctx.workspace.config.stage(queue_type)
        if config.command is None:
            raise PermanentStageError(
                f"no handler for the {queue_type.value} stage: set [stages.{queue_type.value}] "
                f"command in {ctx.workspace.config_path}"
            )
        result = run_command(
            ctx, config.command, timeout=config.timeout, max_log_lines=config.max_log_lines
        )
    return check_outputs(queue_type, ctx.task_dir, ctx.workspace, result)
