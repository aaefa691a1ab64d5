"""The daily digest (``[notify] digest = "09:00"``): once a day, at or after that time of day in
the home's zone, a summary of the last 24 hours (what was published, what failed, the queue
now) is recorded as one event, ``digest:YYYY-MM-DD`` (the home's date): its key is unique, so
two workers or two hosts record it once. A day whose time passed while nothing ran gets its
digest at the first tick after; a day that passed entirely gets none. The leader records it
(a periodic duty, as enqueuing schedules is); any worker sends it.

:func:`due_day` uses the standard library only: the idle tick asks it too
(autoqueue.worker.idle)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from autoqueue.kinds import EventKind
from autoqueue.repo import notifications as notifications_repo
from autoqueue.store.db import Connection, transaction

LISTED = 10  # entries of each list a digest names (the rest are counted)
WINDOW = timedelta(hours=24)


def due_day(hour: int, minute: int, zone: tzinfo | None, now: datetime) -> date | None:
    """The home's date whose digest is due at ``now`` (its time of day has come), or None.
    ``zone`` None: this machine's. A time that a clock change skips comes due after it."""
    local = now.astimezone(zone) if zone is not None else now.astimezone()
    return local.date() if (local.hour, local.minute) >= (hour, minute) else None


def key_of(day: date) -> str:
    return f"{EventKind.DIGEST.value}:{day.isoformat()}"


def parse_time(text: str) -> tuple[int, int] | None:
    """``HH:MM`` as (hour, minute), or None when it is not one."""
    hour, sep, minute = text.strip().partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(minute) == 2):
        return None
    if int(hour) > 23 or int(minute) > 59:
        return None
    return int(hour), int(minute)


def record_digest(conn: Connection, at: tuple[int, int], zone: tzinfo, now: datetime) -> bool:
    """Record today's digest if its time has come and it is not recorded yet; returns whether
    this call recorded it. Reads first, then one short transaction (the insert is the guard)."""
    from autoqueue.timeutil import to_db

    day = due_day(at[0], at[1], zone, now)
    if day is None or notifications_repo.exists(conn, key_of(day)):
        return False
    since, until = to_db(now - WINDOW), to_db(now)
    published = notifications_repo.published_between(conn, since, until)
    failed = notifications_repo.failed_between(conn, since, until)
    payload: dict[str, Any] = {
        "day": day.isoformat(),
        "until": until,
        "published_count": len(published),
        "failed_count": len(failed),
        "published": [
            {"task_id": row["task_id"], "title": row["title"], "url": row["youtube_url"]}
            for row in published[:LISTED]
        ],
        "failed": [
            {
                "task_id": row["task_id"],
                "title": row["title"],
                "stage": row["queue_type"],
                "error": row["error_message"],
            }
            for row in failed[:LISTED]
        ],
        "now": notifications_repo.queue_now(conn),
    }
    with transaction(conn):
        return notifications_repo.add(
            conn, key=key_of(day), kind=EventKind.DIGEST, payload=payload, now=until
        )
