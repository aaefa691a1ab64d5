"""A stage is only completed when its rule-based outputs exist and validate."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from autoqueue.errors import TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.layout import STORY, THUMBNAIL, VIDEO, scene_images
from autoqueue.media.story import Story
from autoqueue.stages.base import StageResult
from autoqueue.workspace import Workspace


def check_outputs(
    queue_type: QueueType, task_dir: Path, workspace: Workspace, result: StageResult
) -> StageResult:
    """Fill ``result`` from the outputs, or raise when they are missing or invalid.

    A missing or invalid output is a transient failure: script writers built on language models
    produce bad JSON now and then, and a retry is bounded by ``max_retry``.
    """
    if queue_type is QueueType.SCRIPT:
        result.script_text = _read_story(task_dir / STORY)
    elif queue_type is QueueType.IMAGE:
        if not scene_images(task_dir):
            raise TransientStageError(
                _("the image stage wrote no scene_* images in {task_dir}").format(task_dir=task_dir)
            )
    elif queue_type is QueueType.VIDEO:
        for name in (VIDEO, THUMBNAIL):
            path = task_dir / name
            if not path.is_file() or path.stat().st_size == 0:
                raise TransientStageError(
                    _("the video stage did not write {name} (or it is empty)").format(name=name)
                )
        result.video_path = workspace.relative(task_dir / VIDEO)
        result.thumbnail_path = workspace.relative(task_dir / THUMBNAIL)
    return result


def _read_story(path: Path) -> str:
    if not path.is_file():
        raise TransientStageError(_("the script stage did not write {name}").format(name=path.name))
    try:
        text = path.read_text(encoding="utf-8")
        Story.model_validate_json(text)
    except UnicodeDecodeError as exc:
        raise TransientStageError(
            _("{name} is not UTF-8 text: {exc}").format(name=path.name, exc=exc)
        ) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise TransientStageError(
            _("{name} does not match the story schema: {where}: {msg}").format(
                name=path.name, where=where, msg=first["msg"]
            )
        ) from exc
    return text
