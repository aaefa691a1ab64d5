"""The rows the engine reads and writes, validated (pydantic): a task, its schedules, its queue
items. The values they hold are named in :mod:`autoqueue.kinds`."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autoqueue.kinds import (
    MediaMode,
    Privacy,
    QueueStatus,
    QueueType,
    RepeatType,
    TaskType,
)
from autoqueue.timeutil import normalise_stored


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


class Row(BaseModel):
    """A database row. Field names are the column names, so ``--json`` keys are stable."""

    # defer_build: a model builds its validator on first use, so commands that never touch a
    # row (an idle tick) do not pay for all of them at start-up.
    model_config = ConfigDict(frozen=True, use_enum_values=False, defer_build=True)

    # Columns holding times, which another program may have written in another form.
    _stamps: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_stamps(cls, data: Any) -> Any:
        """One check per row rather than a validator per time column: a transition reads
        several rows, and this is on its path."""
        if not isinstance(data, dict):
            return data
        for name in cls._stamps:
            value = data.get(name)
            # SQLite's own UTC text, or NULL: nearly every value, checked without a regex.
            if value is not None and not (
                type(value) is str and len(value) == 19 and value[10] == " "
            ):
                break
        else:
            return data
        return {**data, **{name: _stamp(data[name]) for name in cls._stamps if name in data}}


class Task(Row):
    _stamps = ("created_at", "updated_at", "last_run_at")

    id: str
    title: str
    type: TaskType
    user_id: str | None = None
    product_info: Any = None
    settings: dict[str, Any] = {}
    youtube_url: str | None = None
    last_error: str | None = None
    content_id: str | None = None
    max_retry: int | None = None  # `add --max-retry`; None: the configured default
    created_at: str | None = None
    updated_at: str | None = None
    last_run_at: str | None = None  # when its last run finished (no queue row needed)

    _parse_product_info = field_validator("product_info", mode="before")(_json_field)

    @field_validator("settings", mode="before")
    @classmethod
    def _parse_settings(cls, value: Any) -> Any:
        parsed = _json_field(value)
        return parsed if isinstance(parsed, dict) else {}

    @property
    def media_mode(self) -> MediaMode:
        """The task's mediaMode; a task without one (or with one it does not know) is
        ``upload``."""
        raw = self.settings.get("mediaMode") or MediaMode.UPLOAD.value
        try:
            return MediaMode(raw)
        except ValueError:
            return MediaMode.UPLOAD


class Schedule(Row):
    _stamps = ("scheduled_time", "next_run_at", "youtube_publish_time", "created_at")

    id: int
    task_id: str
    scheduled_time: str | None = None
    repeat_type: RepeatType | None = None
    repeat_config: dict[str, Any] = {}
    next_run_at: str | None = None
    is_active: bool = True
    channel_setting_id: str | None = None
    youtube_privacy: str | None = Privacy.PUBLIC.value
    youtube_publish_time: str | None = None
    created_at: str | None = None

    @field_validator("repeat_config", mode="before")
    @classmethod
    def _parse_repeat_config(cls, value: Any) -> Any:
        parsed = _json_field(value)
        return parsed if isinstance(parsed, dict) else {}


class QueueItem(Row):
    _stamps = (
        "next_retry_at",
        "created_at",
        "updated_at",
        "completed_at",
        "occurrence_at",
        "lease_expires_at",
        "superseded_at",
        "review_since",
    )

    id: int
    task_id: str
    schedule_id: int | None = None
    queue_type: QueueType
    status: QueueStatus
    retry_count: int = 0
    max_retry: int = 3
    next_retry_at: str | None = None
    error_message: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    occurrence_at: str | None = None
    claim_token: str | None = None
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_started: float | None = None
    lease_expires_at: str | None = None
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
    slot: int = 0  # which of its queue type's slots it holds while processing
    superseded_at: str | None = None  # a later run started: this item never runs again
    # since when it waits for a person's review (not claimable); kept when it was rejected
    review_since: str | None = None
