"""What a worker round reports: the items it ran and how each ended, what it recovered and
enqueued, and why it stopped early; and the items a worker runs now, as a stop notice names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autoqueue.attempt.outcome import Ended, Outcome
from autoqueue.errors import AutoqueueError
from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.store import db as db_errors
from autoqueue.worker.recovery import Recovered


@dataclass(frozen=True)
class Processed:
    """One item a round ran, and what became of it."""

    item_id: int
    task_id: str
    queue_type: QueueType
    outcome: Outcome
    detail: str = ""

    @classmethod
    def of(cls, item: QueueItem, ended: Ended) -> Processed:
        return cls(item.id, item.task_id, item.queue_type, ended.outcome, ended.detail)


@dataclass(frozen=True)
class Running:
    """An item whose stage this worker runs now, as a stop notice names it."""

    queue_type: QueueType
    task_id: str
    title: str | None = None


@dataclass
class TickReport:
    lock_holder: str | None = None  # the leader, when it was another worker
    recovered: list[Recovered] = field(default_factory=list)
    enqueued: int = 0
    processed: list[Processed] = field(default_factory=list)
    error: str | None = None  # why the round stopped early (a locked or full database)


def one_line(exc: BaseException) -> str:
    """An error as one line for the user: ours as they are, the database's prefixed."""
    if isinstance(exc, AutoqueueError):
        text = str(exc)
    elif isinstance(exc, db_errors.Error):
        text = f"database error: {exc}"
    else:
        text = f"internal error: {exc!r}"
    return " ".join(text.split())
