"""The stage graph and the failure policy (docs/concepts.md "Concepts", "Failures and retries")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autoqueue.kinds import MediaMode, QueueType
from autoqueue.queue.pipeline import GiveUp, Retry, decide_failure, next_queue, retry_delay

from .conftest import NOW

# Pure decisions: no database, so one run rather than one per backend.
pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(
    ("current", "mode", "expected"),
    [
        (QueueType.SCHEDULE, MediaMode.CRAWL, QueueType.SCRIPT),
        (QueueType.SCRIPT, MediaMode.CRAWL, QueueType.IMAGE),
        (QueueType.SCRIPT, MediaMode.UPLOAD, QueueType.VIDEO),
        (QueueType.SCRIPT, MediaMode.DALLE3, QueueType.VIDEO),
        (QueueType.SCRIPT, MediaMode.IMAGEN3, QueueType.VIDEO),
        (QueueType.SCRIPT, MediaMode.SORA2, QueueType.VIDEO),
        (QueueType.IMAGE, MediaMode.CRAWL, QueueType.VIDEO),
        (QueueType.VIDEO, MediaMode.UPLOAD, QueueType.YOUTUBE),
        (QueueType.YOUTUBE, MediaMode.CRAWL, None),
    ],
)
def test_next_queue_follows_media_mode(
    current: QueueType, mode: MediaMode, expected: QueueType | None
) -> None:
    assert next_queue(current, mode) == expected


def test_retry_delay_grows_then_repeats_the_last() -> None:
    delays = (5, 10, 30)
    assert [retry_delay(n, delays) for n in range(5)] == [5, 10, 30, 30, 30]


def test_transient_failure_retries_with_backoff() -> None:
    decision = decide_failure(
        retry_count=1, max_retry=3, permanent=False, delays=(5, 10, 30), now=NOW
    )
    assert decision == Retry(
        attempt=2, max_retry=3, delay=10, next_retry_at=NOW + timedelta(seconds=10)
    )


def test_transient_failure_gives_up_when_the_budget_is_spent() -> None:
    decision = decide_failure(retry_count=3, max_retry=3, permanent=False, delays=(5,), now=NOW)
    assert decision == GiveUp(exhausted=True)


def test_permanent_failure_skips_the_retries() -> None:
    decision = decide_failure(retry_count=0, max_retry=3, permanent=True, delays=(5,), now=NOW)
    assert decision == GiveUp(exhausted=False)


def test_zero_max_retry_fails_at_once() -> None:
    assert decide_failure(
        retry_count=0, max_retry=0, permanent=False, delays=(5,), now=NOW
    ) == GiveUp(exhausted=True)
