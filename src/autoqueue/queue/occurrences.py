"""Due schedule occurrences enqueued, each exactly once (invariant 4), and the due times another
program stored in another form tidied first; a schedule that cannot be used is set aside."""

from __future__ import annotations

from datetime import datetime

from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.models import Schedule
from autoqueue.queue.policy import Policy
from autoqueue.queue.records import guarded_log, task_of
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import from_db, normalise_stored, to_db


def enqueue_due(conn: Connection, policy: Policy, now: datetime, batch: int = 200) -> int:
    """Enqueue every due schedule occurrence; returns how many runs were enqueued.

    One bad row never blocks the others: a schedule that cannot be read or stepped (a broken
    anchor, zone or repeat) is set aside with a log row saying why, and the round goes on.
    """
    tidy_times(conn, now)
    stamp = to_db(now)
    enqueued = 0
    seen: set[int] = set()
    while True:
        due = [row for row in schedules_repo.due_rows(conn, stamp, batch) if row[0] not in seen]
        if not due:
            return enqueued
        for schedule_id, task_id, next_run_at in due:
            seen.add(schedule_id)
            try:
                with transaction(conn):
                    fresh = schedules_repo.get(conn, schedule_id)
                    if fresh is None or not fresh.is_active or fresh.next_run_at != next_run_at:
                        continue
                    if enqueue_occurrence(conn, fresh, policy, now) is not None:
                        enqueued += 1
            except (ValueError, LookupError) as exc:  # pydantic's ValidationError is a ValueError
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                why = _("it cannot be read: {reason}").format(reason=reason)
                _set_aside_schedule(conn, schedule_id, task_id, why, stamp)


def enqueue_occurrence(
    conn: Connection, schedule: Schedule, policy: Policy, now: datetime
) -> int | None:
    """Enqueue the due occurrence of ``schedule`` and advance it, exactly once (invariant 4).

    Call inside a transaction. The compare-and-set on ``next_run_at`` makes a second tick that
    read the same due schedule do nothing; the unique (schedule_id, occurrence_at) index backs it.
    Returns the new schedule item's id, or None when nothing was enqueued.
    """
    due_text = schedule.next_run_at
    if due_text is None:
        return None
    step = Recurrence.of(schedule).advance(from_db(due_text), now)
    next_text = None if step.next_run_at is None else to_db(step.next_run_at)
    if not schedules_repo.advance(conn, schedule.id, expected=due_text, next_run_at=next_text):
        return None
    stamp = to_db(now)
    task = task_of(conn, schedule.task_id)
    base = {"scheduleId": schedule.id, "occurrence": due_text, "nextRunAt": next_text}
    # A run that has not left its schedule stage stands for this occurrence too. Beside a
    # second run, one still starting could be put back to wait (a retry, a dead tick's item
    # recovered): two runs of one task waiting, both to run.
    unstarted = queue_repo.unstarted_run(conn, task.id)
    if unstarted is not None:
        logs_repo.add(
            conn,
            task.id,
            LogLevel.WARN,
            _(
                "occurrence {due_text} UTC coalesced: a run of this task is already waiting "
                "or starting"
            ).format(due_text=due_text),
            now=stamp,
            queue_id=unstarted.id,
            queue_type=QueueType.SCHEDULE,
            action=ActionType.SKIP,
            metadata=base,
        )
        return None
    item_id = queue_repo.insert(
        conn,
        task_id=task.id,
        schedule_id=schedule.id,
        queue_type=QueueType.SCHEDULE,
        max_retry=policy.max_retry_for(task),
        now=stamp,
        occurrence_at=due_text,
    )
    if step.missed:
        logs_repo.add(
            conn,
            task.id,
            LogLevel.WARN,
            _("{missed} missed occurrence(s) coalesced into this run").format(missed=step.missed),
            now=stamp,
            queue_id=item_id,
            queue_type=QueueType.SCHEDULE,
            action=ActionType.SKIP,
            metadata={**base, "missed": step.missed},
        )
    logs_repo.add(
        conn,
        task.id,
        LogLevel.INFO,
        _("run enqueued for {due} UTC; next run {next} UTC").format(due=due_text, next=next_text)
        if next_text
        else _("run enqueued for {due} UTC").format(due=due_text),
        now=stamp,
        queue_id=item_id,
        queue_type=QueueType.SCHEDULE,
        metadata=base,
    )
    return item_id


def tidy_times(conn: Connection, now: datetime) -> None:
    """Rewrite due times that another program stored in another form (JavaScript ``...T...Z``
    text, epoch numbers) as SQLite's own UTC text, which alone compares correctly as a string;
    an active schedule whose next run is no time at all is set aside (deactivated, with a log
    row), and so is a waiting item's unreadable retry time (cleared: it runs now)."""
    stamp = to_db(now)
    for row in schedules_repo.odd_next_runs(conn):
        raw = row["next_run_at"]
        try:
            fixed = normalise_stored(raw) if raw is not None else None
        except ValueError:
            fixed = None
        if fixed is None:
            why = (
                _("it has no next run time")
                if raw is None
                else _("its next run {raw!r} is not a time").format(raw=raw)
            )
            _set_aside_schedule(conn, row["id"], row["task_id"], why, stamp)
            continue
        with transaction(conn):
            if schedules_repo.set_next_run(conn, row["id"], expected=raw, next_run_at=fixed):
                guarded_log(
                    conn,
                    row["task_id"],
                    LogLevel.INFO,
                    _("schedule {id}: next run {raw!r} read as {fixed} UTC").format(
                        id=row["id"], raw=raw, fixed=fixed
                    ),
                    stamp,
                )
    for row in queue_repo.odd_retry_times(conn):
        raw = row["next_retry_at"]
        try:
            retry_at = normalise_stored(raw)
        except ValueError:
            retry_at = None
        with transaction(conn):
            if queue_repo.set_retry_time(conn, row["id"], expected=raw, next_retry_at=retry_at):
                guarded_log(
                    conn,
                    row["task_id"],
                    LogLevel.WARN if retry_at is None else LogLevel.INFO,
                    _retry_time_text(row["id"], raw, retry_at),
                    stamp,
                    queue_id=row["id"],
                )


def _retry_time_text(item_id: int, raw: object, retry_at: str | None) -> str:
    """The log row of a retry time rewritten (or cleared: the item runs now)."""
    if retry_at is None:
        return _("queue item {id}: retry time {raw!r} is not a time: ready now").format(
            id=item_id, raw=raw
        )
    return _("queue item {id}: retry time {raw!r} read as {retry_at} UTC").format(
        id=item_id, raw=raw, retry_at=retry_at
    )


def _set_aside_schedule(
    conn: Connection, schedule_id: int, task_id: str, why: str, stamp: str
) -> None:
    """Deactivate a schedule autoqueue cannot use, with an error log row saying ``why``."""
    with transaction(conn):
        if schedules_repo.deactivate(conn, schedule_id):
            guarded_log(
                conn,
                task_id,
                LogLevel.ERROR,
                _("schedule {schedule_id} set aside (deactivated): {why}").format(
                    schedule_id=schedule_id, why=why
                ),
                stamp,
                action=ActionType.SKIP,
            )
