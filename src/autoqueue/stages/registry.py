"""Which handler runs which stage."""

from __future__ import annotations

from autoqueue.errors import PermanentStageError
from autoqueue.kinds import QueueType
from autoqueue.stages.base import StageContext, StageResult
from autoqueue.stages.command import run_command


def run_handler(ctx: StageContext) -> StageResult:
    """Run the item's stage with its configured handler (in the attempt's supervisor, except the
    internal schedule stage, which the tick runs itself). The outputs are checked when the
    result is applied (stages.outputs.check_outputs).

    Built-in handlers import their heavy libraries (Pillow, ffmpeg helpers) only when they run.
    """
    queue_type = ctx.item.queue_type
    config = ctx.workspace.config
    stage = config.stage(queue_type)
    if queue_type is QueueType.SCHEDULE:
        from autoqueue.stages.schedule import run_schedule_stage

        return run_schedule_stage(ctx)
    handler = config.handler(queue_type)
    if handler == "command":
        if stage.command is None:
            raise missing_command(ctx)
        return run_command(
            ctx, stage.command, timeout=stage.timeout, max_log_lines=stage.max_log_lines
        )
    if handler == "template":
        from autoqueue.stages.template import run_template_stage

        return run_template_stage(ctx)
    if handler == "llm":
        from autoqueue.stages.llm import run_llm_stage

        return run_llm_stage(ctx)
    if handler == "stock" or (handler == "cards" and _stock_by_default(ctx)):
        from autoqueue.stages.stock import run_stock_stage

        return run_stock_stage(ctx)
    if handler == "cards":
        from autoqueue.stages.cards import run_cards_stage

        return run_cards_stage(ctx, stage)
    if handler == "ffmpeg":
        from autoqueue.stages.task_settings import video_config
        from autoqueue.stages.video import run_video_stage

        return run_video_stage(ctx, video_config(stage, ctx.task))
    if handler == "youtube":
        from autoqueue.youtube.stage import run_youtube_stage

        return run_youtube_stage(ctx, stage)
    from autoqueue.stages.outbox import run_outbox_stage

    return run_outbox_stage(ctx, stage)


def _stock_by_default(ctx: StageContext) -> bool:
    """crawl tasks get stock photos when a Pexels or Pixabay key is there and the image stage
    is left at its default (docs/stages.md "Generated pictures, clips and stock photos")."""
    from autoqueue.stages.stock import in_use

    return in_use(ctx.workspace.home, ctx.workspace.config)


def missing_command(ctx: StageContext) -> PermanentStageError:
    """The error of a stage whose handler is ``command`` without a command."""
    name = ctx.item.queue_type.value
    return PermanentStageError(
        f'the {name} stage uses handler = "command" but has no command: '
        f"set [stages.{name}] command in {ctx.workspace.config_path}"
    )


def run_stage(ctx: StageContext) -> StageResult:
    """Run the stage in this process and check its outputs (for direct calls and benchmarks;
    the tick runs stages through attempts)."""
    from autoqueue.stages.outputs import check_outputs

    result = run_handler(ctx)
    return check_outputs(ctx.item.queue_type, ctx.task_dir, ctx.workspace, result)
