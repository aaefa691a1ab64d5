"""What a stage handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from autoqueue.kinds import ActionType, LogLevel, per_channel
from autoqueue.models import QueueItem, Schedule, Task
from autoqueue.workspace import Workspace

if TYPE_CHECKING:  # a type only: a stage starts programs through the attempt, never psutil
    from autoqueue.attempt.processes import ProcessInfo


@dataclass(frozen=True)
class StageLog:
    """One log row a stage asks for: the options of ``repo.logs.add``."""

    level: LogLevel
    message: str
    action: ActionType | None = None
    metadata: dict[str, Any] | None = None
    pid: int | None = None
    process_name: str | None = None

    def to_entry(self) -> dict[str, Any]:
        """The entry an attempt writes to its output file (attempt_files)."""
        entry: dict[str, Any] = {"level": self.level.value, "message": self.message}
        if self.action is not None:
            entry["action"] = self.action.value
        if self.metadata is not None:
            entry["metadata"] = self.metadata
        if self.pid is not None:
            entry["pid"] = self.pid
        if self.process_name is not None:
            entry["process_name"] = self.process_name
        return entry

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> StageLog:
        """Read an entry back; values a supervisor could not have written become info/None."""
        try:
            level = LogLevel(str(entry.get("level")))
        except ValueError:
            level = LogLevel.INFO
        try:
            action = ActionType(entry["action"]) if entry.get("action") else None
        except ValueError:
            action = None
        metadata = entry.get("metadata")
        pid = entry.get("pid")
        name = entry.get("process_name")
        return cls(
            level=level,
            message=str(entry.get("message") or "")[:10000],
            action=action,
            metadata=metadata if isinstance(metadata, dict) else None,
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            process_name=str(name) if name else None,
        )


@dataclass(frozen=True)
class Archived:
    """The previous run's files were moved from the task folder into ``folder`` (schedule stage)."""

    folder: str  # relative to the home, '/' separated
    moved: tuple[str, ...]  # file names
    content_id: str | None


@dataclass
class StageResult:
    """What a finished stage hands to the completing transaction."""

    youtube_url: str | None = None
    video_sha256: str | None = None  # the checksum of the video the youtube stage published
    script_text: str | None = None
    video_path: str | None = None
    thumbnail_path: str | None = None
    archived: Archived | None = None
    details: dict[str, Any] = field(default_factory=dict)


class StageStore(Protocol):
    """Durable state a stage keeps for its queue item across crashes and retries, the YouTube
    quota ledger, and what its task published. The tick backs it with the database; each call
    commits."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> None: ...

    def quota_used(self, project: str, day: str) -> int: ...

    def quota_spend(
        self, project: str, day: str, units: int, channel: str | None = None
    ) -> None: ...

    def quota_exhausted(self, project: str, day: str, budget: int) -> None: ...

    def published_url(self, task_id: str, video_sha256: str) -> str | None: ...


class MemoryStore:
    """A StageStore that forgets everything when the process ends (for direct stage calls)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.quota: dict[tuple[str, str], int] = {}

    def load(self) -> dict[str, Any] | None:
        return None if self.data is None else dict(self.data)

    def save(self, data: dict[str, Any]) -> None:
        self.data = dict(data)

    def quota_used(self, project: str, day: str) -> int:
        return self.quota.get((project, day), 0)

    def quota_spend(self, project: str, day: str, units: int, channel: str | None = None) -> None:
        self.quota[(project, day)] = self.quota_used(project, day) + units
        if channel is not None:
            own = per_channel(project, channel)
            self.quota[(own, day)] = self.quota_used(own, day) + units

    def quota_exhausted(self, project: str, day: str, budget: int) -> None:
        self.quota[(project, day)] = max(self.quota_used(project, day), budget)

    def published_url(self, task_id: str, video_sha256: str) -> str | None:
        return None  # no contents rows: nothing on record as published


def _no_logs(*entries: StageLog) -> None:
    return None


def _no_process(info: ProcessInfo) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class StageContext:
    """Everything a stage may use. Stages do their I/O here; the database stays with the tick."""

    workspace: Workspace
    task: Task
    schedule: Schedule | None
    item: QueueItem
    log: Callable[..., None] = _no_logs
    # Told of each program the stage starts (ffmpeg, a generator), for the log.
    process_started: Callable[[ProcessInfo], None] = _no_process
    cancelled: Callable[[], bool] = _never
    store: StageStore = field(default_factory=MemoryStore)

    @property
    def task_dir(self) -> Path:
        return self.workspace.task_dir(self.task.id)

    @property
    def channel(self) -> str | None:
        """The YouTube channel the task's videos go to (its schedule's, else ``[youtube]
        default_channel``): the ledgers count its spending per channel too."""
        chosen = self.schedule.channel_setting_id if self.schedule else None
        return chosen or self.workspace.config.youtube.default_channel

    @property
    def attempt(self) -> int:
        """1 for the first try, 2 for the first retry, ..."""
        return self.item.retry_count + 1


class Stage(Protocol):
    def __call__(self, ctx: StageContext) -> StageResult: ...
