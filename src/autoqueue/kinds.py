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
