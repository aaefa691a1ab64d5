"""The built-in ``outbox`` youtube stage, for users without YouTube API credentials: the finished
video, its thumbnail and a ``metadata.json`` are copied to ``outbox/{task_id}/``. It is a local
publish and says so: ``tasks.youtube_url`` stays empty and the content is not marked published."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from autoqueue.config import StageConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.kinds import LogLevel
from autoqueue.layout import THUMBNAIL, VIDEO
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.cards import read_story

OUTBOX = "outbox"


def with_credits(description: str, task_dir: Path) -> str:
    """The story's description, ending with the stock pictures' credits when there are any."""
    from autoqueue.stages.stock import credits_text

    credits = credits_text(task_dir)
    return f"{description.rstrip()}\n\n{credits}".strip() if credits else description


def run_outbox_stage(ctx: StageContext, config: StageConfig) -> StageResult:
    """Copy the run's video, thumbnail and metadata to ``outbox/{task_id}/`` (replacing the
    previous run's copy; the originals of earlier runs stay in ``tasks/{id}/runs/``)."""
    task_dir = ctx.task_dir
    for name in (VIDEO, THUMBNAIL):
        if not (task_dir / name).is_file():
            raise PermanentStageError(
                _("{name} is missing in {task_dir}: the video stage did not run").format(
                    name=name, task_dir=task_dir
                )
            )
    from autoqueue.stages.task_settings import publish_time, upload_text
    from autoqueue.timeutil import to_db, utcnow

    story = read_story(task_dir)
    schedule = ctx.schedule
    privacy = schedule.youtube_privacy if schedule else "public"
    publish_at = schedule.youtube_publish_time if schedule else None
    daily = None if publish_at else publish_time(ctx.task, schedule, utcnow())
    if daily is not None:  # the next of the task's times of day ([channels.*] publish_at)
        publish_at = to_db(daily)
    description, tags = upload_text(ctx.task, with_credits(story.description, task_dir), story.tags)
    metadata = {
        "title": story.title,
        "description": description,
        "tags": tags,
        "privacy": "private" if publish_at else privacy,
        "publish_at": f"{publish_at.replace(' ', 'T')}Z" if publish_at else None,
        "channel": schedule.channel_setting_id if schedule else None,
        "task_id": ctx.task.id,
        "content_id": ctx.task.content_id,
        "video": VIDEO,
        "thumbnail": THUMBNAIL,
    }
    outbox = ctx.workspace.home / OUTBOX / ctx.task.id
    staging = outbox.with_name(f".{ctx.task.id}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(task_dir / VIDEO, staging / VIDEO)
    shutil.copy2(task_dir / THUMBNAIL, staging / THUMBNAIL)
    (staging / "metadata.json").write_text(
        json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    if outbox.exists():
        shutil.rmtree(outbox)
    staging.rename(outbox)
    where = ctx.workspace.relative(outbox)
    ctx.log(
        StageLog(
            LogLevel.INFO,
            _(
                "📦 published locally to {where}/ (not uploaded to YouTube: no credentials are "
                "configured; see the README to set up the YouTube uploader)"
            ).format(where=where),
            metadata={"outbox": where, "local": True},
        )
    )
    return StageResult(details={"handler": "outbox", "outbox": where})
