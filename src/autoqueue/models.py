"""The domain vocabulary: enums whose values are the stored strings, and row models."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from autoqueue.timeutil import normalise_stored


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


class Tab(StrEnum):
    """The seed's UI tabs (section 8)."""

    SCHEDULE = "schedule"
    SCRIPT = "script"
    IMAGE = "image"
    VIDEO = "video"
    YOUTUBE = "youtube"
    FAILED = "failed"
    COMPLETED = "completed"


def _json_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _stamp(value: Any) -> Any:
    """Stored times in another form (JavaScript ``...T...Z`` text, epoch numbers) are read as
    SQLite's own UTC text; text that is no time at all is kept as it is, for display."""
    try:
        return normalise_stored(value)
    except ValueError:
        return value


# A timestamp column (seed tables store times as text; see timeutil.normalise_stored).
Stamp = Annotated[str | None, BeforeValidator(_stamp)]


class Row(BaseModel):
    """A database row. Field names are the column names, so ``--json`` keys are stable."""

    # defer_build: a model builds its validator on first use, so commands that never touch a
    # row (an idle tick) do not pay for all of them at start-up.
    model_config = ConfigDict(frozen=True, use_enum_values=False, defer_build=True)


class Task(Row):
    id: str
    title: str
    type: TaskType
    user_id: str | None = None
    product_info: Any = None
    settings: dict[str, Any] = {}
    youtube_url: str | None = None
    last_error: str | None = None
    content_id: str | None = None
    created_at: Stamp = None
    updated_at: Stamp = None

    _parse_product_info = field_validator("product_info", mode="before")(_json_field)

    @field_validator("settings", mode="before")
    @classmethod
    def _parse_settings(cls, value: Any) -> Any:
        parsed = _json_field(value)
        return parsed if isinstance(parsed, dict) else {}

    @property
    def media_mode(self) -> MediaMode:
        """The task's mediaMode; the seed defaults a missing one to ``upload``."""
        raw = self.settings.get("mediaMode") or MediaMode.UPLOAD.value
        try:
            return MediaMode(raw)
        except ValueError:
            return MediaMode.UPLOAD


class Schedule(Row):
    id: int
    task_id: str
    scheduled_time: Stamp = None
    repeat_type: RepeatType | None = None
    repeat_config: dict[str, Any] = {}
    next_run_at: Stamp = None
    is_active: bool = True
    channel_setting_id: str | None = None
    youtube_privacy: str | None = Privacy.PUBLIC.value
    youtube_publish_time: Stamp = None
    created_at: Stamp = None

    @field_validator("repeat_config", mode="before")
    @classmethod
    def _parse_repeat_config(cls, value: Any) -> Any:
        parsed = _json_field(value)
        return parsed if isinstance(parsed, dict) else {}


class QueueItem(Row):
    id: int
    task_id: str
    schedule_id: int | None = None
    queue_type: QueueType
    status: QueueStatus
    retry_count: int = 0
    max_retry: int = 3
    next_retry_at: Stamp = None
    error_message: str | None = None
    created_at: Stamp = None
    updated_at: Stamp = None
    completed_at: Stamp = None
    occurrence_at: Stamp = None
    claim_token: str | None = None
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_started: float | None = None
    lease_expires_at: Stamp = None
    stage_pid: int | None = None
    stage_started: float | None = None
    stage_process_name: str | None = None
    # The current attempt (its secret token marks every process it starts), how many attempts
    # were started, how many in a row vanished without a record, and how much of its output
    # is already in task_logs.
    attempt_token: str | None = Field(default=None, exclude=True, repr=False)
    attempt_no: int = 0
    crash_count: int = 0
    output_offset: int = 0


class LogEntry(Row):
    id: int
    task_id: str
    queue_id: int | None = None
    level: LogLevel | None = None
    message: str
    action_type: ActionType | None = None
    queue_type: QueueType | None = None
    pid: int | None = None
    process_name: str | None = None
    metadata: Any = None
    created_at: Stamp = None

    _parse_metadata = field_validator("metadata", mode="before")(_json_field)


class Content(Row):
    id: str
    user_id: str | None = None
    type: str
    format: str | None = None
    title: str | None = None
    content: str | None = None
    status: str
    progress: int = 0
    error: str | None = None
    task_id: str | None = None
    video_path: str | None = None
    thumbnail_path: str | None = None
    published: bool = False
    youtube_url: str | None = None
    created_at: Stamp = None
    updated_at: Stamp = None
