"""Which handler runs which stage."""

from __future__ import annotations

from autoqueue.errors import PermanentStageError
from autoqueue.models import QueueType
from autoqueue.stages.base import StageContext, StageResult
from autoqueue.stages.command import run_command
from autoqueue.stages.outputs import check_outputs
from autoqueue.stages.schedule import run_schedule_stage


def run_stage(ctx: StageContext) -> StageResult:
    """Run the item's stage with its configured handler, then check its outputs.

    Built-in handlers import their heavy libraries (Pillow, ffmpeg helpers) only when they run.
    """
    queue_type = ctx.item.queue_type
    config = ctx.workspace.config
    stage = config.stage(queue_type)
    if queue_type is QueueType.SCHEDULE:
        result = run_schedule_stage(ctx)
    else:
        handler = config.handler(queue_type)
        if handler == "command":
            if stage.command is None:
                raise PermanentStageError(
                    f'the {queue_type.value} stage uses handler = "command" but has no command: '
                    f"set [stages.{queue_type.value}] command in {ctx.workspace.config_path}"
                )
            result = run_command(
                ctx, stage.command, timeout=stage.timeout, max_log_lines=stage.max_log_lines
            )
        elif handler == "template":
            from autoqueue.stages.template import run_template_stage

            result = run_template_stage(ctx)
        elif handler == "cards":
            from autoqueue.stages.cards import run_cards_stage

            result = run_cards_stage(ctx, stage)
        elif handler == "ffmpeg":
            from autoqueue.stages.video import run_video_stage

            result = run_video_stage(ctx, stage)
        elif handler == "youtube":
            from autoqueue.youtube.stage import run_youtube_stage

            result = run_youtube_stage(ctx, stage)
        else:
            from autoqueue.stages.outbox import run_outbox_stage

            result = run_outbox_stage(ctx, stage)
    return check_outputs(queue_type, ctx.task_dir, ctx.workspace, result)
