"""Recurring schedules in one place: :class:`Recurrence` (read from a row, written to
``repeat_config``, the first run, the next run) and the occurrence maths under it. Pure
functions of their arguments.

A schedule's occurrences are ``anchor + k * step`` computed on the wall clock of its IANA zone,
always from the anchor (never from the previous occurrence), so that a monthly schedule on the
31st runs on Jan 31, Feb 28/29 and Mar 31, and a daily 09:00 stays at 09:00 across DST changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from autoqueue.i18n import _
from autoqueue.kinds import RepeatType
from autoqueue.timeutil import from_db, localize, zone

if TYPE_CHECKING:
    from autoqueue.models import Schedule


def occurrence(anchor: datetime, repeat: RepeatType, index: int) -> datetime:
    """The ``index``-th wall-clock occurrence (naive) of a schedule anchored at ``anchor``."""
    from dateutil.relativedelta import relativedelta  # only ticks that advance a schedule need it

    if repeat is RepeatType.DAILY:
        return anchor + relativedelta(days=index)
    if repeat is RepeatType.WEEKLY:
        return anchor + relativedelta(weeks=index)
    if repeat is RepeatType.MONTHLY:
        # relativedelta clamps to the month's last day without moving the anchor itself.
        return anchor + relativedelta(months=index)
    if index == 0:
        return anchor
    raise ValueError(_("a 'once' schedule has only one occurrence"))


def _estimate(anchor: datetime, repeat: RepeatType, wall: datetime) -> int:
    if repeat is RepeatType.MONTHLY:
        months = (wall.year - anchor.year) * 12 + (wall.month - anchor.month)
        return max(months - 1, 0)
    days = (wall - anchor).days
    step = 7 if repeat is RepeatType.WEEKLY else 1
    return max(days // step - 1, 0)


def first_index(
    anchor: datetime, tz: ZoneInfo, repeat: RepeatType, bound: datetime, *, strictly_after: bool
) -> int:
    """The smallest k whose occurrence is after ``bound`` (UTC aware), or at it when not strict."""
    if repeat is RepeatType.ONCE:
        raise ValueError(_("a 'once' schedule does not repeat"))
    index = _estimate(anchor, repeat, bound.astimezone(tz).replace(tzinfo=None))
    while True:
        moment = localize(occurrence(anchor, repeat, index), tz)
        if moment > bound or (moment == bound and not strictly_after):
            break
        index += 1
    # The estimate can overshoot by one around DST and month ends; step back while still valid.
    while index > 0:
        moment = localize(occurrence(anchor, repeat, index - 1), tz)
        if moment > bound or (moment == bound and not strictly_after):
            index -= 1
        else:
            break
    return index


class Advance(NamedTuple):
    """What enqueuing a due occurrence does to its schedule."""

    next_run_at: datetime | None  # None: the schedule is finished (``once``)
    missed: int  # occurrences after the due one that were already past, run as one


def advance(
    *, anchor: datetime, tz: ZoneInfo, repeat: RepeatType, due: datetime, now: datetime
) -> Advance:
    """Advance a schedule whose occurrence ``due`` (UTC) is being enqueued at ``now``.

    Missed occurrences coalesce: the run being enqueued stands for every occurrence up to ``now``,
    and the next run is the first occurrence strictly after ``now``.
    """
    if repeat is RepeatType.ONCE:
        return Advance(next_run_at=None, missed=0)
    due_index = first_index(anchor, tz, repeat, due, strictly_after=False)
    next_index = first_index(anchor, tz, repeat, max(now, due), strictly_after=True)
    return Advance(
        next_run_at=localize(occurrence(anchor, repeat, next_index), tz),
        missed=max(next_index - due_index - 1, 0),
    )


class Recurrence(NamedTuple):
    """When a schedule runs: its repeat, its wall-clock anchor (naive) and its IANA zone."""

    repeat: RepeatType
    anchor: datetime
    tz_name: str

    @classmethod
    def of(cls, schedule: Schedule) -> Recurrence:
        """The recurrence a row stores."""
        first = schedule.scheduled_time or schedule.next_run_at or schedule.created_at
        return cls.stored(schedule.repeat_type, schedule.repeat_config, first)

    @classmethod
    def stored(
        cls, repeat_type: str | None, repeat_config: dict[str, Any], first: str | None
    ) -> Recurrence:
        """The recurrence of a schedule's stored columns (``first``: its first time).
        Schedules the earlier app wrote (docs/data.md) carry no zone: they repeat in UTC from
        their first time."""
        tz_name = str(repeat_config.get("tz") or "UTC")
        repeat = RepeatType(repeat_type) if repeat_type else RepeatType.ONCE
        anchor_text = repeat_config.get("anchor")
        if isinstance(anchor_text, str):
            return cls(repeat, datetime.fromisoformat(anchor_text), tz_name)
        assert first is not None
        wall = from_db(first).astimezone(zone(tz_name)).replace(tzinfo=None)
        return cls(repeat, wall, tz_name)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.tz_name)

    def config(self) -> dict[str, Any]:
        """What ``task_schedules.repeat_config`` stores."""
        return {"tz": self.tz_name, "anchor": self.anchor.isoformat(sep=" ")}

    def first_run(self, instant: datetime, now: datetime) -> datetime:
        """The first run of a schedule first due at ``instant``: a recurring one anchored in the
        past starts at its next occurrence, not now."""
        if self.repeat is RepeatType.ONCE or instant >= now:
            return instant
        index = first_index(self.anchor, self.tz, self.repeat, now, strictly_after=False)
        return localize(occurrence(self.anchor, self.repeat, index), self.tz)

    def next_from(self, now: datetime) -> datetime:
        """The first occurrence at or after ``now`` (resuming a paused schedule)."""
        if self.repeat is RepeatType.ONCE:
            return now
        index = first_index(self.anchor, self.tz, self.repeat, now, strictly_after=False)
        return localize(occurrence(self.anchor, self.repeat, index), self.tz)

    def advance(self, due: datetime, now: datetime) -> Advance:
        """What enqueuing the occurrence ``due`` at ``now`` does (see :func:`advance`)."""
        return advance(anchor=self.anchor, tz=self.tz, repeat=self.repeat, due=due, now=now)
