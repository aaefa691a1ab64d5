"""Where each of a task's effective values came from, as ``show`` prints it: an option of ``add``
(``--set`` included), the task's channel profile, the configuration, or the default. Part of the
read layer: built on rows and the configuration file as parsed, without its models
(ARCHITECTURE.md "Fast reads"), so a read command loads no validation library.

What the task took from an option or its profile is stored in the task and kept; what it did not
take follows the configuration as the stage finds it when it runs. A profile changed since the
task took it is shown beside the value the task keeps (``profile_now``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from autoqueue.kinds import PROFILE_RECORD, SOURCES_RECORD, Privacy, Source, TaskSetting

# The values show lists, in order: the schedule's, then the task settings of the stages.
KEYS = ("channel", "privacy", "publish_at", "tz", *(key.value for key in TaskSetting))
# [stages.video]'s defaults of the keys a task may set (config.stages.StageConfig's: a test
# keeps them equal), and where each lives in autoqueue.toml.
VIDEO_DEFAULTS: dict[str, Any] = {
    "narration": ["piper", "espeak"],
    "voice": None,
    "caption_style": "bold",
    "music": None,
}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _table(data: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """A table of the parsed configuration; an empty one when it is missing or no table."""
    for name in path:
        value = data.get(name)
        data = value if isinstance(value, Mapping) else {}
    return data


def _listed(value: Any) -> Any:
    """A list written as one text, items between commas (as the profile model reads it)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _times(value: Any) -> Any:
    value = _listed(value)
    if not isinstance(value, list):
        return value
    times = set()
    for item in value:
        match = _TIME.match(str(item))
        times.add(f"{int(match.group(1)):02d}:{match.group(2)}" if match else str(item))
    return sorted(times)


def profile_value(profile: Mapping[str, Any] | None, key: str, name: str) -> Any:
    """What the channel profile ``name`` (its table as parsed) says of ``key`` now."""
    if profile is None:
        return None
    if key == "channel":
        return profile.get("youtube_channel") or name
    if key == "privacy":
        return Privacy.PRIVATE.value if profile.get("publish_at") else profile.get("privacy")
    if key == "publish_at":
        return _times(profile.get(key)) if profile.get(key) is not None else None
    if key == "tags":
        return _listed(profile.get(key))
    return profile.get(key)


def _stored(
    key: str, task: Mapping[str, Any], schedule: Mapping[str, Any] | None
) -> tuple[Any, str | None]:
    """The value the task stores for ``key`` and the source it recorded (None: not recorded, a
    task added before sources were recorded); value None when it stores none."""
    settings = task.get("settings") or {}
    recorded = settings.get(SOURCES_RECORD)
    source = recorded.get(key) if isinstance(recorded, Mapping) else None
    schedule = schedule or {}
    if key == "channel":
        return schedule.get("channel_setting_id"), source
    if key == "privacy":
        value = schedule.get("youtube_privacy") or Privacy.PUBLIC.value
        legacy = Source.DEFAULT.value if value == Privacy.PUBLIC.value else Source.OPTION.value
        return value, source or legacy
    if key == "tz":
        config = schedule.get("repeat_config")
        return (config.get("tz") if isinstance(config, Mapping) else None) or "UTC", source
    if key == "publish_at" and schedule.get("youtube_publish_time"):
        return schedule["youtube_publish_time"], source
    return settings.get(key), source


def _live(key: str, config: Mapping[str, Any]) -> tuple[Any, str]:
    """A value the task does not store: the configuration's when it sets one, else the
    default."""
    if key == "channel":
        where: Mapping[str, Any] = _table(config, "youtube")
        name = "default_channel"
    elif key == "tz":
        where, name = config, "timezone"
    elif key in VIDEO_DEFAULTS:
        where, name = _table(config, "stages", "video"), key
    elif key == TaskSetting.REVIEW:
        where, name = _table(config, "review"), "before"  # the stage held for a review
    else:
        return None, Source.DEFAULT.value
    if where.get(name) is not None:
        return where[name], Source.CONFIG.value
    return VIDEO_DEFAULTS.get(key), Source.DEFAULT.value


def effective(
    task: Mapping[str, Any], schedule: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per key of :data:`KEYS`: its ``value`` and ``source`` (autoqueue.kinds.Source); with a
    channel profile, the ``profile``'s name and, when the profile says something else now,
    ``profile_now``. ``task`` and ``schedule`` are rows as ``--json`` prints them, ``config``
    the configuration file as parsed."""
    settings = task.get("settings") or {}
    name = settings.get(PROFILE_RECORD)
    name = name if isinstance(name, str) else None
    profiles = _table(config, "channels")
    profile = profiles.get(name) if name is not None else None
    shown: dict[str, dict[str, Any]] = {}
    for key in KEYS:
        value, source = _stored(key, task, schedule)
        if value is None:
            value, source = _live(key, config)
        elif source is None:  # a task from before sources were recorded
            source = Source.CONFIG.value if value == _live(key, config)[0] else Source.OPTION.value
        entry: dict[str, Any] = {"value": value, "source": source}
        if source == Source.PROFILE and name is not None:
            entry["profile"] = name
            now = profile_value(profile if isinstance(profile, Mapping) else None, key, name)
            if now != value:
                entry["profile_now"] = now
        shown[key] = entry
    return shown
