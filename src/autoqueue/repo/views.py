"""Rows as the read commands and the terminal app show them: named tuples built from
a row as it is, and the JSON that ``--json`` prints. No validation library: a read command
loads none (ARCHITECTURE.md "Fast reads").

The engine validates the rows it changes with the models of :mod:`autoqueue.models`; for a task,
a schedule and a queue item, :func:`row_json` prints what those models would, field for field
(``tests/test_reads.py`` compares the two on both backends).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.store.db import Row
from autoqueue.timeutil import normalise_stored

E = TypeVar("E", bound=StrEnum)


def stored_json(value: Any) -> Any:
    """A column holding JSON text, parsed; text that is no JSON stays as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def stored_time(value: Any) -> Any:
    """A stored time in SQLite's own UTC text: another program may have written JavaScript
    ``...T...Z`` text or epoch numbers. Text that is no time at all is kept, for display."""
    try:
        return normalise_stored(value)
    except ValueError:
        return value


def member(kind: type[E], value: Any) -> E | None:
    """The enum member a stored string names; None for NULL or a value this version does not
    know (a read shows what it can rather than refusing the whole list)."""
    try:
        return None if value is None else kind(value)
    except ValueError:
        return None


def _json_ready(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


class LogEntry(NamedTuple):
    """One ``task_logs`` row."""

    id: int
    task_id: str
    message: str
    queue_id: int | None = None
    level: LogLevel | None = None
    action_type: ActionType | None = None
    queue_type: QueueType | None = None
    pid: int | None = None
    process_name: str | None = None
    metadata: Any = None
    created_at: str | None = None

    @classmethod
    def from_row(cls, row: Row | dict[str, Any]) -> LogEntry:
        data = dict(row)
        return cls(
            id=int(data["id"]),
            task_id=str(data["task_id"]),
            message=str(data["message"]),
            queue_id=data.get("queue_id"),
            level=member(LogLevel, data.get("level")),
            action_type=member(ActionType, data.get("action_type")),
            queue_type=member(QueueType, data.get("queue_type")),
            pid=data.get("pid"),
            process_name=data.get("process_name"),
            metadata=stored_json(data.get("metadata")),
            created_at=stored_time(data.get("created_at")),
        )

    def as_json(self) -> dict[str, Any]:
        """The row as ``--json`` prints it, in the table's column order."""
        return {name: _json_ready(getattr(self, name)) for name in LOG_FIELDS}


# task_logs' columns, in the order the table and ``--json`` have them.
LOG_FIELDS = (
    "id",
    "task_id",
    "queue_id",
    "level",
    "message",
    "action_type",
    "queue_type",
    "pid",
    "process_name",
    "metadata",
    "created_at",
)


class Content(NamedTuple):
    """One ``contents`` row: a run in the content library."""

    id: str
    type: str
    status: str
    user_id: str | None = None
    format: str | None = None
    title: str | None = None
    content: str | None = None
    progress: int = 0
    error: str | None = None
    task_id: str | None = None
    video_path: str | None = None
    thumbnail_path: str | None = None
    published: bool = False
    youtube_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    video_sha256: str | None = None  # the published file's checksum

    @classmethod
    def from_row(cls, row: Row | dict[str, Any]) -> Content:
        data: dict[str, Any] = {name: dict(row).get(name) for name in CONTENT_FIELDS}
        data["progress"] = int(data["progress"] or 0)
        data["published"] = bool(data["published"])
        data["created_at"] = stored_time(data["created_at"])
        data["updated_at"] = stored_time(data["updated_at"])
        return cls(**data)

    def as_json(self) -> dict[str, Any]:
        return self._asdict()


CONTENT_FIELDS = Content._fields


class TaskRow(NamedTuple):
    """One ``tasks`` row as ``show --json`` prints it: the fields of the engine's model
    (autoqueue.models.Task), in its order."""

    id: str
    title: str
    type: str
    user_id: str | None
    product_info: Any
    settings: dict[str, Any]
    youtube_url: str | None
    last_error: str | None
    content_id: str | None
    max_retry: int
    created_at: str | None
    updated_at: str | None
    last_run_at: str | None

    @classmethod
    def from_row(cls, row: Row | dict[str, Any]) -> TaskRow:
        return cls(**row_json(row, TASK_FIELDS))

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TASK_FIELDS}


TASK_FIELDS = TaskRow._fields

# What ``show --json`` prints of a schedule and a queue item: the fields of the engine's models
# (autoqueue.models), in their order, without the attempt's secret token.
SCHEDULE_FIELDS = (
    "id",
    "task_id",
    "scheduled_time",
    "repeat_type",
    "repeat_config",
    "next_run_at",
    "is_active",
    "channel_setting_id",
    "youtube_privacy",
    "youtube_publish_time",
    "created_at",
)
QUEUE_FIELDS = (
    "id",
    "task_id",
    "schedule_id",
    "queue_type",
    "status",
    "retry_count",
    "max_retry",
    "next_retry_at",
    "error_message",
    "created_at",
    "updated_at",
    "completed_at",
    "occurrence_at",
    "claim_token",
    "owner_host",
    "owner_pid",
    "owner_started",
    "lease_expires_at",
    "stage_pid",
    "stage_started",
    "stage_process_name",
    "attempt_no",
    "crash_count",
    "output_offset",
    "slot",
    "superseded_at",
    "review_since",
)

_TIMES = {
    "created_at",
    "updated_at",
    "last_run_at",
    "scheduled_time",
    "next_run_at",
    "youtube_publish_time",
    "next_retry_at",
    "completed_at",
    "occurrence_at",
    "lease_expires_at",
    "superseded_at",
    "review_since",
}
_OBJECTS = {"settings", "repeat_config"}  # JSON objects: anything else reads as {}
_FLOATS = {"owner_started", "stage_started"}


def row_json(row: Row | dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A task, schedule or queue item row as ``--json`` prints it (see the module's note)."""
    data = dict(row)
    shown: dict[str, Any] = {}
    for name in fields:
        value = data.get(name)
        if name in _TIMES:
            value = stored_time(value)
        elif name in _OBJECTS:
            value = stored_json(value)
            value = value if isinstance(value, dict) else {}
        elif name == "product_info":
            value = stored_json(value)
        elif name == "is_active":
            value = bool(value) if value is not None else True
        elif name in _FLOATS and value is not None:
            value = float(value)
        shown[name] = value
    return shown
