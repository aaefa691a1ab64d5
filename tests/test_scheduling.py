"""Next-run maths: DST, month ends, leap days, coalescing. All pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoqueue.kinds import RepeatType
from autoqueue.queue.recurrence import advance, occurrence
from autoqueue.timeutil import localize

# Recurrence arithmetic only: no database, so one run rather than one per backend.
pytestmark = pytest.mark.no_db

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SEOUL = ZoneInfo("Asia/Seoul")


def runs(anchor: datetime, tz: ZoneInfo, repeat: RepeatType, count: int) -> list[datetime]:
    """Follow a schedule for ``count`` runs, enqueuing each exactly when it is due."""
    due = localize(anchor, tz)
    seen = []
    for _ in range(count):
        seen.append(due.astimezone(tz))
        step = advance(anchor=anchor, tz=tz, repeat=repeat, due=due, now=due)
        assert step.next_run_at is not None and step.missed == 0
        due = step.next_run_at
    return seen


def test_daily_keeps_wall_clock_across_spring_forward() -> None:
    seen = runs(datetime(2026, 3, 7, 9, 0), NEW_YORK, RepeatType.DAILY, 3)
    assert [(d.day, d.hour, d.minute) for d in seen] == [(7, 9, 0), (8, 9, 0), (9, 9, 0)]
    # The UTC instant moves by the hour the clocks moved.
    assert [d.astimezone(UTC).hour for d in seen] == [14, 13, 13]


def test_daily_keeps_wall_clock_across_fall_back() -> None:
    seen = runs(datetime(2026, 10, 24, 9, 30), BERLIN, RepeatType.DAILY, 3)
    assert [(d.day, d.hour) for d in seen] == [(24, 9), (25, 9), (26, 9)]
    assert [d.astimezone(UTC).hour for d in seen] == [7, 8, 8]


def test_time_in_the_spring_forward_gap_runs_after_the_gap() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; it runs at 03:30 that day only.
    seen = runs(datetime(2026, 3, 7, 2, 30), NEW_YORK, RepeatType.DAILY, 3)
    assert [(d.day, d.hour, d.minute) for d in seen] == [(7, 2, 30), (8, 3, 30), (9, 2, 30)]


def test_ambiguous_fall_back_time_runs_once_at_the_first_occurrence() -> None:
    seen = runs(datetime(2026, 10, 31, 1, 30), NEW_YORK, RepeatType.DAILY, 3)
    assert [d.astimezone(UTC) for d in seen] == [
        datetime(2026, 10, 31, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first of the two
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
    ]


def test_monthly_keeps_the_anchor_day_through_short_months() -> None:
    seen = runs(datetime(2026, 1, 31, 10, 0), SEOUL, RepeatType.MONTHLY, 5)
    assert [(d.month, d.day) for d in seen] == [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31)]


def test_monthly_on_the_29th_meets_a_leap_day() -> None:
    seen = runs(datetime(2027, 12, 29, 8, 0), SEOUL, RepeatType.MONTHLY, 4)
    assert [(d.year, d.month, d.day) for d in seen] == [
        (2027, 12, 29),
        (2028, 1, 29),
        (2028, 2, 29),
        (2028, 3, 29),
    ]


def test_weekly_steps_seven_days() -> None:
    seen = runs(datetime(2026, 11, 2, 18, 0), SEOUL, RepeatType.WEEKLY, 3)
    assert [d.day for d in seen] == [2, 9, 16]


def test_missed_occurrences_coalesce_into_one_run() -> None:
    anchor = datetime(2026, 11, 1, 9, 0)
    due = localize(anchor, SEOUL)
    now = due + timedelta(days=4, hours=1)  # down for four days
    step = advance(anchor=anchor, tz=SEOUL, repeat=RepeatType.DAILY, due=due, now=now)
    assert step.missed == 4
    assert step.next_run_at == localize(datetime(2026, 11, 6, 9, 0), SEOUL)


def test_once_has_no_next_run() -> None:
    due = localize(datetime(2026, 11, 1, 9, 0), SEOUL)
    step = advance(
        anchor=datetime(2026, 11, 1, 9, 0), tz=SEOUL, repeat=RepeatType.ONCE, due=due, now=due
    )
    assert step.next_run_at is None and step.missed == 0


@settings(max_examples=300, deadline=None)
@given(
    anchor=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    repeat=st.sampled_from([RepeatType.DAILY, RepeatType.WEEKLY, RepeatType.MONTHLY]),
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    tz=st.sampled_from([NEW_YORK, BERLIN, SEOUL, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]),
)
def test_next_run_is_the_first_occurrence_after_now(
    anchor: datetime, repeat: RepeatType, delay: timedelta, tz: ZoneInfo
) -> None:
    anchor = anchor.replace(second=0, microsecond=0)
    due = localize(anchor, tz)
    now = due + delay
    step = advance(anchor=anchor, tz=tz, repeat=repeat, due=due, now=now)
    assert step.next_run_at is not None
    assert step.next_run_at > now
    # It is an occurrence of the schedule, and the one before it is not after now.
    index = step.missed + 1
    assert step.next_run_at == localize(occurrence(anchor, repeat, index), tz)
    assert localize(occurrence(anchor, repeat, index - 1), tz) <= now


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, ZoneInfo("Asia/Seoul"), ZoneInfo("America/New_York")])
    )
)
@settings(max_examples=300)
def test_stored_text_is_sqlites_own_utc_form(moment: datetime) -> None:
    """to_db writes what SQLite's datetime() writes for the same instant, whole seconds, so that
    string comparison with CURRENT_TIMESTAMP is correct; from_db reads it back."""
    import sqlite3

    from autoqueue.timeutil import from_db, to_db

    utc = moment.astimezone(UTC)
    text = to_db(moment)
    expected = (
        sqlite3.connect(":memory:")
        .execute("SELECT datetime(?, 'unixepoch')", (int(utc.replace(microsecond=0).timestamp()),))
        .fetchone()[0]
    )
    assert text == expected
    assert from_db(text) == utc.replace(microsecond=0)
