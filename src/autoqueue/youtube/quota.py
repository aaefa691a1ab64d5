"""YouTube's quota day: units reset at midnight Pacific time. Pure functions of ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


def quota_day(now: datetime) -> str:
    """The Pacific date whose quota ``now`` spends, as YYYY-MM-DD."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: datetime) -> datetime:
    """The next Pacific midnight after ``now``, in UTC (DST-aware)."""
    tomorrow = now.astimezone(PACIFIC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=PACIFIC).astimezone(UTC)
