"""The queue's retry and lease settings (:class:`Policy`), read from ``autoqueue.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from autoqueue.config import Config
from autoqueue.kinds import EventKind, QueueType
from autoqueue.models import Task
from autoqueue.timeutil import to_db


@dataclass(frozen=True)
class Policy:
    """Retry and lease settings, from ``autoqueue.toml``."""

    delays: tuple[float, ...] = (5, 10, 30)
    max_retry: int = 3
    lease_seconds: float = 300
    max_crashes: int = 3
    slots: tuple[tuple[QueueType, int], ...] = ()  # per-queue concurrency above 1
    review_before: QueueType | None = None  # [review] before: the stage a person looks at first
    # The events a transition records for notifications (``[notify] events``; none without a
    # URL to send them to, so that a home that later adds one is not sent its whole history).
    events: frozenset[EventKind] = frozenset()

    def concurrency(self, queue_type: QueueType) -> int:
        return dict(self.slots).get(queue_type, 1)

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        return cls(
            delays=tuple(config.retry.delays),
            max_retry=config.retry.max_retry,
            lease_seconds=config.lease.seconds,
            max_crashes=config.retry.max_crashes,
            slots=tuple(
                (queue_type, config.concurrency(queue_type))
                for queue_type in QueueType
                if config.concurrency(queue_type) > 1
            ),
            review_before=QueueType(config.review.before) if config.review.before else None,
            events=frozenset(EventKind(name) for name in config.notify.events)
            if config.notify.enabled
            else frozenset(),
        )

    def lease_until(self, now: datetime) -> str:
        return to_db(now + timedelta(seconds=self.lease_seconds))

    def max_retry_for(self, task: Task) -> int:
        """A task's own ``--max-retry`` wins over the configured default (tasks added before
        schema 6 keep it in their settings as ``maxRetry``)."""
        if task.max_retry is not None and task.max_retry >= 0:
            return task.max_retry
        value = task.settings.get("maxRetry")
        return value if isinstance(value, int) and value >= 0 else self.max_retry

    def holds_for_review(self, task: Task, following: QueueType) -> bool:
        """Whether the item of stage ``following`` waits for a person's review: the task's own
        ``--review`` / ``--no-review`` wins over ``[review] before`` (a task that asks for a
        review when the configuration names no stage is held before ``youtube``)."""
        asked = task.settings.get("review")
        if asked is False:
            return False
        before = self.review_before
        if asked is True and before is None:
            before = QueueType.YOUTUBE
        return following is before
