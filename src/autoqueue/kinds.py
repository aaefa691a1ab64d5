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


class Tab(StrEnum):
    """The tabs of ``autoqueue list`` and of the terminal app."""

    SCHEDULE = "schedule"
    SCRIPT = "script"
    IMAGE = "image"
    VIDEO = "video"
    YOUTUBE = "youtube"
    FAILED = "failed"
    COMPLETED = "completed"
