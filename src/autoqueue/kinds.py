"""The closed sets of values autoqueue stores: each enum's values are the strings in the
database, and in ``--json``. Plain enums, so that any command (a read too) can name them
without loading the row models."""

from __future__ import annotations

from enum import StrEnum


class QueueType(StrEnum):
    SCHEDULE = "schedule"
    SCRIPT = "script"
    IMAGE = "image"
    VIDEO = "video"
    YOUTUBE = "youtube"


class QueueStatus(StrEnum):
    WAITING = "waiting"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskType(StrEnum):
    SHORTFORM = "shortform"
    LONGFORM = "longform"
    PRODUCT = "product"


class MediaMode(StrEnum):
    UPLOAD = "upload"
    CRAWL = "crawl"
    DALLE3 = "dalle3"
    IMAGEN3 = "imagen3"
    SORA2 = "sora2"


class RepeatType(StrEnum):
    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Privacy(StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"


class LogLevel(StrEnum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class ActionType(StrEnum):
    START = "start"
    PROGRESS = "progress"
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    STOP = "stop"
    SKIP = "skip"
    PAUSE = "pause"  # schema 7: `pause` and `resume` were logged as stop and retry
    RESUME = "resume"


class EventKind(StrEnum):
    """What a notification is about (schema 10, docs/notifications.md); ``[notify] events``
    names all but the digest, which ``[notify] digest`` turns on."""

    FAILED = "failed"  # an item failed for good (a permanent error, or its retries spent)
    PUBLISHED = "published"  # a run's youtube stage completed (with the video's URL)
    PARKED = "parked"  # an item waits for the YouTube quota or an AI spend cap to reset
    REVIEW = "review"  # an item waits for a person's review (recorded by the review feature)
    DIGEST = "digest"  # the daily summary


class NotificationStatus(StrEnum):
    """Where a notification row is: ``pending`` (to send, now or at ``next_try_at``),
    ``sending`` (claimed by one process), ``sent``, or ``given_up`` (never sent again)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    GIVEN_UP = "given_up"


class Tab(StrEnum):
    """The tabs of ``autoqueue list`` and of the terminal app."""

    SCHEDULE = "schedule"
    SCRIPT = "script"
    IMAGE = "image"
    VIDEO = "video"
    YOUTUBE = "youtube"
    FAILED = "failed"
    COMPLETED = "completed"


class TaskSetting(StrEnum):
    """The keys of ``tasks.settings`` that the built-in stages (and, for ``review``, the queue)
    read besides ``mediaMode``, ``format`` and ``maxRetry``: ``--set KEY=VALUE`` sets one for a
    task, and a channel profile (``[channels.NAME]``) gives the same keys to the tasks added
    with ``--channel NAME``."""

    LANGUAGE = "language"  # the script's language: "ko" or "en" (default: from the title)
    NARRATION = "narration"  # the voice engines, as [stages.video] narration
    VOICE = "voice"  # a voice name (as [stages.video] voice), or {engine: voice}
    CAPTION_STYLE = "caption_style"  # bold, subtle or karaoke
    MUSIC = "music"  # a file or a folder of background music, as [stages.video] music
    TAGS = "tags"  # YouTube tags added to the story's
    DESCRIPTION_FOOTER = "description_footer"  # text that ends every description
    PUBLISH_AT = "publish_at"  # local times of day ("18:00"): publish at the next one
    REVIEW = "review"  # true: a person approves before it is published (add --review)


class Source(StrEnum):
    """Where a task's effective value came from (``show``): an option of ``add`` (``--set``
    included), the task's channel profile, the configuration, or autoqueue's default."""

    OPTION = "option"
    PROFILE = "channel_profile"
    CONFIG = "config"
    DEFAULT = "default"


# autoqueue's own records in tasks.settings: the channel profile a task took (its name), and
# where each value the task stores came from ({key: Source}); --set may not write them.
PROFILE_RECORD = "channel_profile"
SOURCES_RECORD = "taken_from"


def per_channel(ledger: str, channel: str) -> str:
    """The ledger row (``youtube_quota.project``) that counts one channel's part of what the
    row ``ledger`` counts: ``default@main`` (YouTube units), ``ai:openai@main`` (AI requests),
    ``ai:openai:usd-micro@main`` (AI dollars). A channel's name has no "@"."""
    return f"{ledger}@{channel}"
