"""What a task's own settings change in the built-in stages (autoqueue.kinds.TaskSetting, given by
``--set`` or taken from a channel profile): the script's language, the video's voices, captions
and music, and the upload's tags, description footer and publish time. A setting the task does
not have leaves the stage's configuration as it is."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.kinds import Privacy, TaskSetting
from autoqueue.timeutil import localize, zone

if TYPE_CHECKING:
    from autoqueue.config import StageConfig
    from autoqueue.models import Schedule, Task

# The video stage's settings a task may give, as [stages.video] names them.
VIDEO_KEYS = (TaskSetting.NARRATION, TaskSetting.CAPTION_STYLE, TaskSetting.MUSIC)


def video_config(stage: StageConfig, task: Task) -> StageConfig:
    """The video stage's configuration for ``task``: ``[stages.video]`` with the task's own
    narration, voice (one name), caption style and music laid over it, checked as the
    configuration is (a value another program wrote fails the stage, naming it)."""
    from pydantic import ValidationError

    from autoqueue.config import StageConfig

    overrides = {
        key.value: task.settings[key] for key in VIDEO_KEYS if task.settings.get(key) is not None
    }
    voice = task.settings.get(TaskSetting.VOICE)
    if isinstance(voice, str):
        overrides[TaskSetting.VOICE.value] = voice
    if not overrides:
        return stage
    try:
        return StageConfig.model_validate({**stage.model_dump(exclude_unset=True), **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise PermanentStageError(
            _("the task's setting {key} is not one the video stage takes: {message}").format(
                key=where, message=error["msg"]
            )
        ) from None


def engine_voice(task: Task, engine: str) -> str | None:
    """The task's own voice for a voice engine: ``voice = {edge = "..."}`` names one per
    engine (a single name is [stages.video] voice's, for eSpeak and the system's voices)."""
    voice = task.settings.get(TaskSetting.VOICE)
    if isinstance(voice, dict):
        chosen = voice.get(engine)
        return chosen if isinstance(chosen, str) and chosen else None
    return None


def task_language(task: Task) -> str:
    """The story's language: the task's ``language`` ("ko" or "en"), else Korean when the title
    or the product info has Hangul, else English."""
    from autoqueue.stages.template import story_language

    chosen = task.settings.get(TaskSetting.LANGUAGE)
    if chosen in ("ko", "en"):
        return str(chosen)
    return story_language(task.title, task.product_info)


def upload_text(task: Task, description: str, tags: list[str]) -> tuple[str, list[str]]:
    """The description ending with the task's footer, and the story's tags followed by the
    task's own (each once)."""
    footer = task.settings.get(TaskSetting.DESCRIPTION_FOOTER)
    if isinstance(footer, str) and footer.strip():
        description = f"{description.rstrip()}\n\n{footer.strip()}".strip()
    extra = task.settings.get(TaskSetting.TAGS)
    merged = list(tags)
    for tag in extra if isinstance(extra, list) else []:
        if isinstance(tag, str) and tag.strip() and tag.strip() not in merged:
            merged.append(tag.strip())
    return description, merged


def publish_time(task: Task, schedule: Schedule | None, now: datetime) -> datetime | None:
    """When a task with ``publish_at`` times of day ("18:00") is published: the next of them
    after ``now`` in its schedule's zone. None without such times, or when the schedule's
    privacy is no longer private (``edit --privacy public`` publishes at once)."""
    times = task.settings.get(TaskSetting.PUBLISH_AT)
    if isinstance(times, str):
        times = [times]
    if not isinstance(times, list) or not times:
        return None
    if schedule is not None and schedule.youtube_privacy not in (None, Privacy.PRIVATE.value):
        return None
    tz_name = str((schedule.repeat_config if schedule else {}).get("tz") or "UTC")
    return next_time_of_day([str(t) for t in times], tz_name, now)


def next_time_of_day(times: list[str], tz_name: str, after: datetime) -> datetime:
    """The first of the local times of day ``times`` ("HH:MM") strictly after ``after``."""
    tz = zone(tz_name)
    today = after.astimezone(tz).date()
    candidates: list[datetime] = []
    for offset in range(3):  # a day and a half is enough: a time of day recurs daily
        day = today + timedelta(days=offset)
        candidates += [localize(_wall(day, text), tz) for text in times]
    return min(moment for moment in candidates if moment > after)


def _wall(day: date, text: str) -> datetime:
    hours, minutes = (int(part) for part in text.strip().split(":"))
    return datetime.combine(day, time(hours, minutes))
