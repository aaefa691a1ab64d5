"""The internal ``schedule`` stage: prepares the task folder and starts a run."""

from __future__ import annotations

import shutil

from autoqueue.kinds import MediaMode
from autoqueue.layout import RUNS, run_outputs
from autoqueue.stages.base import Archived, StageContext, StageResult
from autoqueue.timeutil import utcnow


def run_schedule_stage(ctx: StageContext) -> StageResult:
    """Create ``tasks/{id}/`` and move the previous run's outputs to ``runs/...`` so nothing is
    overwritten. Idempotent: a retry after a crash finds the files already moved."""
    task_dir = ctx.task_dir
    task_dir.mkdir(parents=True, exist_ok=True)
    outputs = run_outputs(task_dir, keep_scene_images=ctx.task.media_mode is MediaMode.UPLOAD)
    if ctx.task.content_id and not outputs:
        # Run again after a crash that came after the move but before the record: the files
        # are already in the archive, and the content row must still be pointed at them.
        done = task_dir / RUNS / ctx.task.content_id
        if done.is_dir():
            return StageResult(
                archived=Archived(
                    folder=ctx.workspace.relative(done),
                    moved=tuple(sorted(path.name for path in done.iterdir() if path.is_file())),
                    content_id=ctx.task.content_id,
                )
            )
    if ctx.task.content_id:
        folder_name = ctx.task.content_id
    elif outputs:
        folder_name = "run-" + utcnow().strftime("%Y%m%d-%H%M%S")
    else:
        return StageResult()
    folder = task_dir / RUNS / folder_name
    suffix = 1
    while ctx.task.content_id is None and folder.exists():
        suffix += 1
        folder = task_dir / RUNS / f"{folder_name}-{suffix}"
    if outputs:
        folder.mkdir(parents=True, exist_ok=True)
    for path in outputs:
        shutil.move(str(path), str(folder / path.name))
    return StageResult(
        archived=Archived(
            folder=ctx.workspace.relative(folder),
            moved=tuple(path.name for path in outputs),
            content_id=ctx.task.content_id,
        )
    )
