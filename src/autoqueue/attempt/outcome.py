"""How an attempt ended: the supervisor's record read back as a StageResult or a StageError, and
the end of an item's turn (:class:`Ended`) as a round reports it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from autoqueue.errors import ParkStageError, PermanentStageError, StageError, TransientStageError
from autoqueue.models import QueueItem
from autoqueue.stages.base import StageResult
from autoqueue.timeutil import from_db


class Outcome(StrEnum):
    """How a queue item's turn ended, as a round reports it."""

    COMPLETED = "completed"  # the stage succeeded; the next stage waits
    RETRY = "retry"  # the stage failed transiently; it runs again after a delay
    FAILED = "failed"  # a permanent failure, or retries (or the crash budget) used up
    PARKED = "parked"  # it cannot run before a time (a quota): waits without spending a retry
    STOPPED = "stopped"  # no longer ours: a stop (or a recovery) changed it meanwhile
    REQUEUED = "requeued"  # autoqueue shut down around it: back to waiting, no retry spent
    LOST = "lost"  # vanished without recording an end: runs again, no retry spent


@dataclass(frozen=True)
class Ended:
    """The end of an item's turn; ``following`` is the next item of the queue when the
    completion claimed it in the same transaction."""

    outcome: Outcome
    detail: str = ""
    following: QueueItem | None = None


def error_of(record: dict[str, Any]) -> StageError:
    """The StageError of a result's ``error`` part."""
    message = str(record.get("message") or "the stage failed")
    kind = record.get("kind")
    if kind == "park":
        try:
            until = from_db(str(record.get("until")))
            return ParkStageError(message, until, budget=record.get("budget") is True)
        except ValueError:
            return TransientStageError(message)
    if kind == "permanent":
        return PermanentStageError(message)
    return TransientStageError(message)


def result_of(record: dict[str, Any]) -> StageResult:
    """The StageResult of a result's ``result`` part (unknown fields ignored)."""
    fields = record.get("result") if isinstance(record.get("result"), dict) else {}
    assert isinstance(fields, dict)
    known = {
        name: fields[name]
        for name in StageResult.__dataclass_fields__
        if name in fields and name != "archived"
    }
    if not isinstance(known.get("details", {}), dict):
        known.pop("details")
    return StageResult(**known)
