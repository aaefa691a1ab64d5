"""Channel profiles (``[channels.NAME]``): the defaults of the tasks added with ``--channel NAME``,
and the task settings the built-in stages read (``--set KEY=VALUE``), checked by one model."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from autoqueue.config.base import Strict
from autoqueue.config.voices import VoiceEngineName
from autoqueue.i18n import _
from autoqueue.layout import CHANNEL_NAME

_TIME_OF_DAY = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def _listed(value: Any) -> Any:
    """A list may also be written as one text, its items separated by commas (a CSV cell)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class TaskSettings(Strict):
    """What a task may set for the built-in stages (autoqueue.kinds.TaskSetting), by
    ``--set KEY=VALUE`` or through its channel profile. Unset: the stage's configuration."""

    # the story's language, for the script writer and the stock search: "ko" or "en"
    # (default: Korean when the title or the product info has Hangul)
    language: Literal["ko", "en"] | None = None
    # the voice engines, as [stages.video] narration: one, a list tried in order, or "off"
    narration: VoiceEngineName | Literal["off"] | list[VoiceEngineName] | None = None
    # eSpeak's or the system's voice (as [stages.video] voice), or a voice per engine:
    # {edge = "ko-KR-InJoonNeural", openai = "nova", espeak = "ko"}
    voice: Annotated[str, Field(min_length=1)] | dict[VoiceEngineName, str] | None = None
    caption_style: Literal["bold", "subtle", "karaoke"] | None = None
    music: Annotated[str, Field(min_length=1)] | None = None  # a file or folder, as [stages.video]
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    description_footer: str | None = None  # ends the YouTube description
    # local times of day ("18:00", or a list): the video is uploaded private and published at
    # the next of them after the upload, in the task's zone
    publish_at: list[str] | None = None
    # true: a person approves each run before it goes out (as add --review), false: never
    review: bool | None = None

    _tags = field_validator("tags", mode="before")(_listed)

    @field_validator("publish_at", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        value = _listed(value)
        if not isinstance(value, list):
            return value
        times = set()
        for item in value:
            match = _TIME_OF_DAY.match(str(item).strip()) if isinstance(item, str) else None
            if match is None:
                raise ValueError(
                    _("{value!r} is not a time of day: write it as HH:MM, e.g. 18:00").format(
                        value=item
                    )
                )
            times.add(f"{int(match.group(1)):02d}:{match.group(2)}")
        if not times:
            raise ValueError(_("give at least one time of day, e.g. 18:00"))
        return sorted(times)

    @field_validator("narration")
    @classmethod
    def _chain(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(_("narration: list each voice engine once, at least one"))
        return value


class ChannelProfile(TaskSettings):
    """``[channels.NAME]``: what the tasks added with ``--channel NAME`` take when their own
    options say nothing (the options and ``--set`` win; the profile wins over the rest of the
    configuration). A task keeps what it took: a later change of the profile is shown by
    ``show``, and ``edit TASK --channel NAME`` takes the profile again."""

    youtube_channel: str | None = None  # the authorised channel it uploads to; default: NAME
    privacy: Literal["public", "unlisted", "private"] | None = None
    tz: str | None = None  # the zone of --at and of publish_at (an IANA name)

    @field_validator("youtube_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and (not CHANNEL_NAME.match(value) or value in (".", "..")):
            raise ValueError(
                _(
                    "{name!r} is not a channel name (letters, digits, '_', '-' and '.', up to 64)"
                ).format(name=value)
            )
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from autoqueue.errors import UsageError
            from autoqueue.timeutil import zone

            try:
                zone(value)
            except UsageError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _publish_needs_private(self) -> ChannelProfile:
        if self.publish_at and self.privacy not in (None, "private"):
            raise ValueError(
                _(
                    "publish_at needs privacy private (YouTube publishes a private video at that "
                    "time): leave privacy out or set it to private"
                )
            )
        return self


def check_profile_names(channels: dict[str, ChannelProfile]) -> None:
    """A profile's name is typed as ``--channel NAME`` and may be its YouTube channel's."""
    for name in channels:
        if not CHANNEL_NAME.match(name) or name in (".", ".."):
            raise ValueError(
                _(
                    "channels.{name}: a profile's name is a channel name (letters, digits, '_', "
                    "'-' and '.', up to 64)"
                ).format(name=name)
            )
