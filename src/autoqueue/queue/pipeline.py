"""The stage graph (docs/concepts.md "Concepts", mediaMode; "How a tick works") and the failure
policy (docs/concepts.md "Failures and retries"). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from autoqueue.kinds import MediaMode, QueueType

QUEUE_ORDER: tuple[QueueType, ...] = (
    QueueType.SCHEDULE,
    QueueType.SCRIPT,
    QueueType.IMAGE,
    QueueType.VIDEO,
    QueueType.YOUTUBE,
)


def next_queue(current: QueueType, media_mode: MediaMode) -> QueueType | None:
    """The stage after ``current``: only ``crawl`` goes through the image queue."""
    if current is QueueType.SCHEDULE:
        return QueueType.SCRIPT
    if current is QueueType.SCRIPT:
        return QueueType.IMAGE if media_mode is MediaMode.CRAWL else QueueType.VIDEO
    if current is QueueType.IMAGE:
        return QueueType.VIDEO
    if current is QueueType.VIDEO:
        return QueueType.YOUTUBE
    return None


def retry_delay(retry_count: int, delays: Sequence[float]) -> float:
    """How long a transient failure waits before its retry: 5, 10, 30 s by default, the last
    delay repeating (docs/concepts.md "Failures and retries")."""
    return delays[min(max(retry_count, 0), len(delays) - 1)]


@dataclass(frozen=True)
class Retry:
    """Put the item back to waiting; ``retry_count`` becomes ``attempt``."""

    attempt: int
    max_retry: int
    delay: float
    next_retry_at: datetime


@dataclass(frozen=True)
class Park:
    """Put the item back to waiting until ``until`` without spending a retry."""

    until: datetime


@dataclass(frozen=True)
class GiveUp:
    """Mark the item failed; ``exhausted`` tells a used-up budget from a permanent error."""

    exhausted: bool


def decide_failure(
    *,
    retry_count: int,
    max_retry: int,
    permanent: bool,
    delays: Sequence[float],
    now: datetime,
    park_until: datetime | None = None,
) -> Retry | GiveUp | Park:
    """What a failed attempt leads to: a retry after a delay while retries are left
    (docs/concepts.md "Failures and retries"), giving up at once on a permanent error, and parking:
    a stage that cannot run before some time waits for it at no cost."""
    if park_until is not None:
        return Park(until=max(park_until, now))
    if permanent:
        return GiveUp(exhausted=False)
    if retry_count >= max_retry:
        return GiveUp(exhausted=True)
    delay = retry_delay(retry_count, delays)
    return Retry(
        attempt=retry_count + 1,
        max_retry=max_retry,
        delay=delay,
        next_retry_at=now + timedelta(seconds=delay),
    )
