"""The queue engine's transitions, each one transaction (invariant 2). Every function takes ``now``.

claim → (stage runs, outside any transaction) → complete (+ next stage + log + contents sync)
or fail (retry with backoff, or failed). Completion and failure only apply while the item is
still ``processing`` under the claim token of the tick that runs it, so a ``stop`` or a recovery
that happened meanwhile is never overwritten (invariant 6).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autoqueue import failpoints
from autoqueue.config import Config
from autoqueue.errors import ParkStageError, StageError
from autoqueue.i18n import _, queue_label
from autoqueue.layout import THUMBNAIL, VIDEO
from autoqueue.models import (
    ActionType,
    LogLevel,
    QueueItem,
    QueueType,
    Schedule,
    Task,
)
from autoqueue.owner import Owner
from autoqueue.queue.pipeline import GiveUp, Park, Retry, decide_failure, next_queue
from autoqueue.queue.scheduling import Recurrence
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.repo.queue import UnreadableRow
from autoqueue.stages.base import StageLog, StageResult
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import from_db, normalise_stored, to_db


@dataclass(frozen=True)
class Policy:
    """Retry and lease settings, from ``autoqueue.toml``."""

    delays: tuple[float, ...] = (5, 10, 30)
    max_retry: int = 3
    lease_seconds: float = 300
    max_crashes: int = 3
    slots: tuple[tuple[QueueType, int], ...] = ()  # per-queue concurrency above 1

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


def _task(conn: Connection, task_id: str) -> Task:
    task = tasks_repo.get(conn, task_id)
    if task is None:  # foreign keys make this unreachable short of manual edits
        raise LookupError(_("task {task_id} vanished").format(task_id=task_id))
    return task


# -- claim -------------------------------------------------------------------------------------


def claim_next(
    conn: Connection,
    queue_type: QueueType,
    owner: Owner,
    policy: Policy,
    now: datetime,
    *,
    token: str | None = None,
    resent: bool = False,
) -> QueueItem | None:
    """The claim: atomically take the oldest ready item of ``queue_type``, if the queue has a
    free slot (README "How a tick works", step 4).

    ``token``: the claim token to take it with (a new one by default). ``resent``: a claim under
    that token was sent before and its answer lost (the connection went with its COMMIT); the
    item it took, if it committed, is this claim's, rather than one more left processing."""
    with transaction(conn):
        if resent and token is not None:
            taken = queue_repo.claimed(conn, queue_type, token)
            if taken is not None:
                return taken
        return _claim(conn, queue_type, owner, policy, now, token=token)


def _claim(
    conn: Connection,
    queue_type: QueueType,
    owner: Owner,
    policy: Policy,
    now: datetime,
    *,
    token: str | None = None,
) -> QueueItem | None:
    """The claim, inside the caller's write transaction. A row that cannot be read is set aside
    (failed, with a log row saying why) and the next one is tried: one bad row written by
    another program never blocks the queue."""
    while True:
        try:
            item = queue_repo.claim(
                conn,
                queue_type,
                owner=owner,
                token=token or secrets.token_hex(16),
                lease_until=policy.lease_until(now),
                now=to_db(now),
                slots=policy.concurrency(queue_type),
            )
        except db_errors.IntegrityError:
            # The partial unique index caught a second item in one slot: another claim won.
            # SQLite undid just that statement; the caller's transaction goes on. (PostgreSQL
            # never gets here: queue_repo.claim gives the slot up inside a savepoint.)
            return None
        except UnreadableRow as bad:
            set_aside_item(conn, bad, to_db(now))
            continue
        if item is not None:
            failpoints.hit("claim", queue_type.value)
        return item


def set_aside_item(conn: Connection, bad: UnreadableRow, stamp: str) -> None:
    """Fail a queue row that cannot be read, with a log row naming the bad value. Call inside
    a write transaction."""
    message = _("queue item {id} set aside: it cannot be read ({reason})").format(
        id=bad.item_id, reason=bad.reason
    )
    queue_repo.set_aside(conn, bad.item_id, message, stamp, bad.columns)
    _guarded_log(
        conn,
        bad.task_id,
        LogLevel.ERROR,
        f"❌ {message}",
        stamp,
        action=ActionType.FAIL,
        queue_id=bad.item_id,
        queue_type=QueueType(bad.queue_type) if bad.queue_type in set(QueueType) else None,
    )


def record_start(
    conn: Connection, item: QueueItem, *, pid: int, name: str, message: str, now: datetime
) -> None:
    """Log a ``start`` row for a stage the tick runs itself (the internal schedule stage)."""
    with transaction(conn):
        log_item(
            conn,
            item,
            LogLevel.INFO,
            message,
            stamp=to_db(now),
            action=ActionType.START,
            pid=pid,
            process_name=name,
            metadata={"attempt": item.retry_count + 1},
        )


# -- attempts ----------------------------------------------------------------------------------


def begin_attempt(
    conn: Connection, item: QueueItem, *, token: str, attempt_no: int, program: str
) -> bool:
    """Record the attempt about to start, before any of its processes exists, so that a tick
    dying at any later point leaves a token to find them by. False: the item is no longer ours."""
    assert item.claim_token is not None
    with transaction(conn):
        return queue_repo.begin_attempt(
            conn,
            item.id,
            item.claim_token,
            attempt_token=token,
            attempt_no=attempt_no,
            program=program,
        )


def record_supervisor(
    conn: Connection, item: QueueItem, *, pid: int, started: float, name: str
) -> bool:
    """Record the attempt's supervisor (pid and start time), which stop and recovery look for."""
    assert item.claim_token is not None
    with transaction(conn):
        return queue_repo.set_stage_process(
            conn, item.id, item.claim_token, pid=pid, started=started, name=name
        )


def copy_output(
    conn: Connection,
    item: QueueItem,
    entries: list[tuple[str, StageLog]],
    offset: int,
) -> bool:
    """Log an attempt's entries (each with the time it was written) and record how far its
    output file has been copied, in one transaction, so that no entry is logged twice or lost
    whichever tick copies it. False: the item is no longer ours (nothing written)."""
    assert item.claim_token is not None
    with transaction(conn):
        if not queue_repo.set_output_offset(conn, item.id, item.claim_token, offset):
            return False
        for stamp, entry in entries:
            log_item(
                conn,
                item,
                entry.level,
                entry.message,
                stamp=stamp,
                action=entry.action,
                pid=entry.pid,
                process_name=entry.process_name,
                metadata=entry.metadata,
            )
    return True


def adopt_item(
    conn: Connection,
    item: QueueItem,
    owner: Owner,
    policy: Policy,
    now: datetime,
    message: str,
) -> QueueItem | None:
    """Take over a processing item whose tick died while its attempt runs on: ``owner`` now
    renews its lease and records its result. None: the item is no longer processing."""
    assert item.claim_token is not None
    with transaction(conn):
        adopted = queue_repo.adopt(
            conn,
            item.id,
            item.claim_token,
            new_token=secrets.token_hex(16),
            owner=owner,
            lease_until=policy.lease_until(now),
        )
        if adopted is not None:
            log_item(
                conn, adopted, LogLevel.WARN, message, stamp=to_db(now), action=ActionType.START
            )
    return adopted


def lose_item(
    conn: Connection, item: QueueItem, reason: str, policy: Policy, now: datetime
) -> Retry | GiveUp | None:
    """An attempt vanished without recording how it ended (autoqueue's own processes died, not
    the stage): back to waiting at once without spending a stage retry, unless that happened
    ``max_crashes`` times in a row. None: the item is no longer ours."""
    assert item.claim_token is not None
    stamp = to_db(now)
    lost = item.crash_count + 1
    with transaction(conn):
        if lost < policy.max_crashes:
            if not _back_to_waiting_now(conn, item, reason, stamp, crash_count=lost):
                return None
            log_item(
                conn,
                item,
                LogLevel.WARN,
                _("↩ {reason}: run again (lost {lost}/{max_crashes}; no retry spent)").format(
                    reason=reason, lost=lost, max_crashes=policy.max_crashes
                ),
                stamp=stamp,
                action=ActionType.RETRY,
                metadata={"crashCount": lost, "maxCrashes": policy.max_crashes, "error": reason},
            )
            return Retry(
                attempt=item.retry_count,
                max_retry=item.max_retry,
                delay=0.0,
                next_retry_at=now,
            )
        message = _(
            "{reason}; autoqueue lost this stage {lost} times in a row without a recorded "
            "exit (retry.max_crashes), so it stops trying: see the attempts/ folder of the task "
            "and `autoqueue logs`"
        ).format(reason=reason, lost=lost)
        if not queue_repo.fail(conn, item.id, item.claim_token, message, stamp):
            return None
        queue_repo.set_crash_count(conn, item.id, lost)  # the record of the losses
        mark_task_failed(conn, item.task_id, message, stamp)
        log_item(
            conn,
            item,
            LogLevel.ERROR,
            _("❌ failed (crash budget spent): {message}").format(message=message),
            stamp=stamp,
            action=ActionType.FAIL,
            metadata={"crashCount": lost, "maxCrashes": policy.max_crashes},
        )
    return GiveUp(exhausted=True)


# -- complete ----------------------------------------------------------------------------------


def complete_item(
    conn: Connection, item: QueueItem, result: StageResult, policy: Policy, now: datetime
) -> bool:
    """Complete + insert the next stage + log + contents sync, in one transaction (README "How
    a tick works").

    Returns False (and changes nothing) when the item is no longer ours.
    """
    with transaction(conn):
        return _complete(conn, item, result, policy, now)


def _complete(
    conn: Connection, item: QueueItem, result: StageResult, policy: Policy, now: datetime
) -> bool:
    """The completion, inside the caller's write transaction."""
    assert item.claim_token is not None
    stamp = to_db(now)
    if not queue_repo.complete(conn, item.id, item.claim_token, stamp):
        return False
    task = _task(conn, item.task_id)
    following = next_queue(item.queue_type, task.media_mode)
    if following is not None:
        queue_repo.insert(
            conn,
            task_id=task.id,
            schedule_id=item.schedule_id,
            queue_type=following,
            max_retry=policy.max_retry_for(task),
            now=stamp,
        )
    _sync_contents(conn, task, item, result, stamp)
    failpoints.hit("complete", item.queue_type.value)
    log_item(
        conn,
        item,
        LogLevel.INFO,
        _done_text(item.queue_type, following),
        stamp=stamp,
        action=ActionType.COMPLETE,
        metadata=result.details or None,
    )
    return True


def complete_and_claim(
    conn: Connection,
    item: QueueItem,
    result: StageResult,
    policy: Policy,
    now: datetime,
    owner: Owner,
    *,
    token: str | None = None,
    resent: bool = False,
) -> tuple[bool, QueueItem | None]:
    """Complete ``item`` and claim the next item of its queue in one transaction.

    A draining worker pays one commit (one fsync) per transition instead of two. ``token`` and
    ``resent`` are claim_next's: when the item a lost answer's claim took is found, that
    transaction committed, the completion with it.
    """
    with transaction(conn):
        if resent and token is not None:
            taken = queue_repo.claimed(conn, item.queue_type, token)
            if taken is not None:
                return True, taken
        completed = _complete(conn, item, result, policy, now)
        following = _claim(conn, item.queue_type, owner, policy, now, token=token)
    return completed, following


def _sync_contents(
    conn: Connection, task: Task, item: QueueItem, result: StageResult, stamp: str
) -> None:
    """The contents row of the current run follows the pipeline: made when its script is
    written, given the video's paths, marked published with the YouTube URL (README
    "Concepts")."""
    log = _logger(conn, task.id, item, stamp)
    if item.queue_type is QueueType.SCHEDULE:
        archived = result.archived
        if archived is not None:
            task_prefix = f"tasks/{task.id}/"
            if archived.content_id is not None:
                for name in (VIDEO, THUMBNAIL):
                    contents_repo.relocate(
                        conn,
                        archived.content_id,
                        old=task_prefix + name,
                        new=f"{archived.folder}/{name}",
                        now=stamp,
                    )
            if archived.moved:
                log(
                    _("previous run's files kept in {folder}").format(folder=archived.folder),
                    {"moved": list(archived.moved)},
                )
        # A new run starts without a content; the script stage creates it.
        tasks_repo.set_content_id(conn, task.id, None, stamp)
        # The earlier runs' files were just archived: their failed items must never run again
        # (an old youtube item would upload this run's video).
        queue_repo.supersede_failed(conn, task.id, stamp)
    elif item.queue_type is QueueType.SCRIPT and result.script_text is not None:
        content_id = str(uuid.uuid4())
        contents_repo.insert_script(
            conn,
            content_id=content_id,
            user_id=task.user_id,
            format=task.type.value,
            title=task.title,
            content=result.script_text,
            task_id=task.id,
            now=stamp,
        )
        tasks_repo.set_content_id(conn, task.id, content_id, stamp)
        # A person reads the title; the id stays in the metadata for scripts and `contents`.
        log(
            _("📝 script saved: “{title}”").format(title=task.title),
            {"content_id": content_id},
        )
    elif item.queue_type is QueueType.VIDEO and result.video_path and result.thumbnail_path:
        if task.content_id:
            contents_repo.set_video(
                conn,
                task.content_id,
                video_path=result.video_path,
                thumbnail_path=result.thumbnail_path,
                now=stamp,
            )
        log(_("🎬 video saved → {video_path}").format(video_path=result.video_path), None)
    elif item.queue_type is QueueType.YOUTUBE:
        if result.youtube_url:
            tasks_repo.set_youtube_url(conn, task.id, result.youtube_url, stamp)
        if task.content_id:
            contents_repo.finish_run(
                conn, task.content_id, result.youtube_url, stamp, result.video_sha256
            )
        tasks_repo.set_last_error(conn, task.id, None, stamp)
        tasks_repo.set_last_run(conn, task.id, stamp)


def log_item(
    conn: Connection,
    item: QueueItem,
    level: LogLevel,
    message: str,
    *,
    stamp: str,
    action: ActionType | None = None,
    metadata: dict[str, Any] | None = None,
    pid: int | None = None,
    process_name: str | None = None,
) -> int:
    """A log row about one queue item (its task, id and queue type filled in)."""
    return logs_repo.add(
        conn,
        item.task_id,
        level,
        message,
        now=stamp,
        queue_id=item.id,
        queue_type=item.queue_type,
        action=action,
        pid=pid,
        process_name=process_name,
        metadata=metadata,
    )


def _logger(
    conn: Connection, task_id: str, item: QueueItem, stamp: str
) -> Callable[[str, dict[str, object] | None], None]:
    def log(message: str, metadata: dict[str, object] | None) -> None:
        log_item(conn, item, LogLevel.INFO, message, stamp=stamp, metadata=metadata)

    return log


# -- fail --------------------------------------------------------------------------------------


def fail_item(
    conn: Connection,
    item: QueueItem,
    error: StageError,
    policy: Policy,
    now: datetime,
    *,
    retry_now: bool = False,
) -> Retry | GiveUp | Park | None:
    """A transient failure waits and retries; a permanent one, or one past ``max_retry``,
    marks the item failed with ``tasks.last_error`` and the run's content failed (README
    "Failures and retries").

    Returns None (and changes nothing) when the item is no longer ours.
    """
    assert item.claim_token is not None
    decision = decide_failure(
        retry_count=item.retry_count,
        max_retry=item.max_retry,
        permanent=error.permanent,
        delays=policy.delays,
        now=now,
        park_until=error.until if isinstance(error, ParkStageError) else None,
    )
    message = str(error) or type(error).__name__
    stamp = to_db(now)
    with transaction(conn):
        if isinstance(decision, Park):
            if not queue_repo.retry_later(
                conn,
                item.id,
                item.claim_token,
                retry_count=item.retry_count,
                next_retry_at=to_db(decision.until),
                error=message,
                now=stamp,
            ):
                return None
            log_item(
                conn,
                item,
                LogLevel.WARN,
                _("⏸ waiting until {until} UTC (no retry spent): {message}").format(
                    until=to_db(decision.until), message=message
                ),
                stamp=stamp,
                action=ActionType.RETRY,
                metadata={"parkedUntil": to_db(decision.until), "error": message},
            )
            return decision
        if isinstance(decision, Retry):
            when = now if retry_now else decision.next_retry_at
            if not queue_repo.retry_later(
                conn,
                item.id,
                item.claim_token,
                retry_count=decision.attempt,
                next_retry_at=to_db(when),
                error=message,
                now=stamp,
            ):
                return None
            delay = 0.0 if retry_now else decision.delay
            log_item(
                conn,
                item,
                LogLevel.WARN,
                _("⚠ failed, retry {attempt}/{max_retry} in {delay:g} s: {message}").format(
                    attempt=decision.attempt,
                    max_retry=decision.max_retry,
                    delay=delay,
                    message=message,
                ),
                stamp=stamp,
                action=ActionType.RETRY,
                metadata={
                    "retryCount": decision.attempt,
                    "maxRetry": decision.max_retry,
                    "error": message,
                    "nextRetryAt": to_db(when),
                },
            )
            return decision
        if not queue_repo.fail(conn, item.id, item.claim_token, message, stamp):
            return None
        mark_task_failed(conn, item.task_id, message, stamp)
        reason = _("max retries exceeded") if decision.exhausted else _("permanent error")
        log_item(
            conn,
            item,
            LogLevel.ERROR,
            _("❌ failed ({reason}): {message}").format(reason=reason, message=message),
            stamp=stamp,
            action=ActionType.FAIL,
            metadata={"retryCount": item.retry_count, "maxRetry": item.max_retry, "error": message},
        )
        return decision


def _done_text(queue: QueueType, following: QueueType | None) -> str:
    """The completion's log row, ``script done → image waiting``, in the writer's language."""
    if following is None:
        return _("{queue} done → run complete").format(queue=queue_label(queue.value))
    return _("{queue} done → {next} waiting").format(
        queue=queue_label(queue.value), next=queue_label(following.value)
    )


def mark_task_failed(conn: Connection, task_id: str, message: str, stamp: str) -> None:
    """``tasks.last_error`` and the current run's content marked failed (README "Failures and
    retries")."""
    tasks_repo.set_last_error(conn, task_id, message, stamp)
    task = _task(conn, task_id)
    if task.content_id:
        contents_repo.set_failed(conn, task.content_id, message, stamp)


# -- schedules ---------------------------------------------------------------------------------


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
    task = _task(conn, schedule.task_id)
    base = {"scheduleId": schedule.id, "occurrence": due_text, "nextRunAt": next_text}
    if queue_repo.waiting_schedule_item(conn, task.id) is not None:
        logs_repo.add(
            conn,
            task.id,
            LogLevel.WARN,
            _("occurrence {due_text} UTC coalesced: a run of this task is already waiting").format(
                due_text=due_text
            ),
            now=stamp,
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
                _guarded_log(
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
                _guarded_log(
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


def _guarded_log(
    conn: Connection,
    task_id: str,
    level: LogLevel,
    message: str,
    stamp: str,
    *,
    action: ActionType | None = None,
    queue_id: int | None = None,
    queue_type: QueueType | None = None,
) -> None:
    """A log row about a row another program may have broken: skipped if its task is gone."""
    with db_errors.savepoint(conn, "guarded_log", undo_on=db_errors.IntegrityError):
        logs_repo.add(
            conn,
            task_id,
            level,
            message,
            now=stamp,
            action=action,
            queue_id=queue_id,
            queue_type=queue_type,
        )


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


def _set_aside_schedule(
    conn: Connection, schedule_id: int, task_id: str, why: str, stamp: str
) -> None:
    """Deactivate a schedule autoqueue cannot use, with an error log row saying ``why``."""
    with transaction(conn):
        if schedules_repo.deactivate(conn, schedule_id):
            _guarded_log(
                conn,
                task_id,
                LogLevel.ERROR,
                _("schedule {schedule_id} set aside (deactivated): {why}").format(
                    schedule_id=schedule_id, why=why
                ),
                stamp,
                action=ActionType.SKIP,
            )


# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillTarget:
    """What a stopped item's attempt may have left running, to be killed after the commit."""

    queue_id: int
    host: str | None
    pid: int | None
    started: float | None
    name: str | None
    token: str | None


@dataclass(frozen=True)
class Stopped:
    """What ``stop`` changed, and the attempts left to kill."""

    stopped: tuple[KillTarget, ...]
    deleted_waiting: int
    deactivated_schedules: int
    log_id: int


def stop_task(
    conn: Connection, task_id: str, *, error: str, log_message: str, now: datetime
) -> Stopped:
    """``stop``'s database half, in one transaction (README "What happens on stop"):
    processing items failed, waiting items deleted, ``tasks.last_error``, schedules
    deactivated, the run's content failed, a ``stop`` log row.

    The tick running a stopped item finds it no longer claimed and records nothing over it.
    """
    stamp = to_db(now)
    with transaction(conn):
        stopped = [
            KillTarget(
                queue_id=row["id"],
                host=row["owner_host"],
                pid=row["stage_pid"],
                started=row["stage_started"],
                name=row["stage_process_name"],
                token=row["attempt_token"],
            )
            for row in queue_repo.stop_processes(conn, task_id)
        ]
        queue_repo.stop_processing(conn, task_id, error, stamp)
        deleted = queue_repo.delete_waiting(conn, task_id)
        deactivated = schedules_repo.deactivate_for_task(conn, task_id)
        mark_task_failed(conn, task_id, error, stamp)
        log_id = logs_repo.add(
            conn,
            task_id,
            LogLevel.WARN,
            log_message,
            now=stamp,
            action=ActionType.STOP,
            metadata={
                "stopped_processing": len(stopped),
                "deleted_waiting": deleted,
                "deactivated_schedules": deactivated,
                "reason": "user_request",
            },
        )
    return Stopped(tuple(stopped), deleted, deactivated, log_id)


def _back_to_waiting_now(
    conn: Connection, item: QueueItem, reason: str, stamp: str, *, crash_count: int
) -> bool:
    """Back to waiting, ready at once, without spending a retry (under the claim)."""
    assert item.claim_token is not None
    return queue_repo.retry_later(
        conn,
        item.id,
        item.claim_token,
        retry_count=item.retry_count,
        next_retry_at=stamp,
        error=reason,
        now=stamp,
        crash_count=crash_count,
    )


def requeue_item(conn: Connection, item: QueueItem, reason: str, now: datetime) -> bool:
    """Put an interrupted item back to waiting without spending a retry (worker shutdown)."""
    assert item.claim_token is not None
    stamp = to_db(now)
    with transaction(conn):
        if not _back_to_waiting_now(conn, item, reason, stamp, crash_count=item.crash_count):
            return False
        log_item(
            conn,
            item,
            LogLevel.WARN,
            _("↩ {reason}: back to waiting (no retry spent)").format(reason=reason),
            stamp=stamp,
            action=ActionType.RETRY,
        )
    return True
