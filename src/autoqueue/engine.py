"""The queue engine's transitions, each one transaction (invariant 2). Every function takes ``now``.

claim → (stage runs, outside any transaction) → complete (+ next stage + log + contents sync)
or fail (retry with backoff, or failed). Completion and failure only apply while the item is
still ``processing`` under the claim token of the tick that runs it, so a ``stop`` or a recovery
that happened meanwhile is never overwritten (invariant 6).
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autoqueue import failpoints, processes
from autoqueue.config import Config
from autoqueue.db import transaction
from autoqueue.errors import ParkStageError, StageError
from autoqueue.layout import THUMBNAIL, VIDEO
from autoqueue.models import (
    ActionType,
    LogLevel,
    QueueItem,
    QueueType,
    RepeatType,
    Schedule,
    Task,
)
from autoqueue.pipeline import GiveUp, Park, Retry, decide_failure, next_queue
from autoqueue.processes import ProcessInfo
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.repo.queue import Owner
from autoqueue.scheduling import advance
from autoqueue.stages.base import StageResult
from autoqueue.timeutil import from_db, to_db, zone


@dataclass(frozen=True)
class Policy:
    """Retry and lease settings, from ``autoqueue.toml``."""

    delays: tuple[float, ...] = (5, 10, 30)
    max_retry: int = 3
    lease_seconds: float = 300

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        return cls(
            delays=tuple(config.retry.delays),
            max_retry=config.retry.max_retry,
            lease_seconds=config.lease.seconds,
        )

    def lease_until(self, now: datetime) -> str:
        return to_db(now + timedelta(seconds=self.lease_seconds))

    def max_retry_for(self, task: Task) -> int:
        """A task's own ``--max-retry`` wins over the configured default."""
        value = task.settings.get("maxRetry")
        return value if isinstance(value, int) and value >= 0 else self.max_retry


def _task(conn: sqlite3.Connection, task_id: str) -> Task:
    task = tasks_repo.get(conn, task_id)
    if task is None:  # foreign keys make this unreachable short of manual edits
        raise LookupError(f"task {task_id} vanished")
    return task


# -- claim -------------------------------------------------------------------------------------


def claim_next(
    conn: sqlite3.Connection, queue_type: QueueType, owner: Owner, policy: Policy, now: datetime
) -> QueueItem | None:
    """Seed 4.1: atomically take the oldest ready item of ``queue_type``, if none is processing."""
    with transaction(conn):
        return _claim(conn, queue_type, owner, policy, now)


def _claim(
    conn: sqlite3.Connection, queue_type: QueueType, owner: Owner, policy: Policy, now: datetime
) -> QueueItem | None:
    """The claim, inside the caller's write transaction."""
    try:
        item = queue_repo.claim(
            conn,
            queue_type,
            owner=owner,
            token=secrets.token_hex(16),
            lease_until=policy.lease_until(now),
            now=to_db(now),
        )
    except sqlite3.IntegrityError:
        # The partial unique index caught a second processing item: another claim won. SQLite
        # undid just that statement; the caller's transaction goes on.
        return None
    if item is not None:
        failpoints.hit("claim", queue_type.value)
    return item


def record_start(
    conn: sqlite3.Connection,
    item: QueueItem,
    info: ProcessInfo,
    now: datetime,
    message: str,
    *,
    track: bool = True,
) -> bool:
    """Log a ``start`` row with the pid and process name; with ``track``, also record the stage
    program (pid, start time, name) on the item, so that stop and recovery can kill its tree.
    In-process stages are not tracked: the process running them is the tick itself."""
    assert item.claim_token is not None
    with transaction(conn):
        if track and not queue_repo.set_stage_process(
            conn, item.id, item.claim_token, pid=info.pid, started=info.started, name=info.name
        ):
            return False
        log_item(
            conn,
            item,
            LogLevel.INFO,
            message,
            stamp=to_db(now),
            action=ActionType.START,
            pid=info.pid,
            process_name=info.name,
            metadata={"attempt": item.retry_count + 1},
        )
    return True


# -- complete ----------------------------------------------------------------------------------


def complete_item(
    conn: sqlite3.Connection, item: QueueItem, result: StageResult, policy: Policy, now: datetime
) -> bool:
    """Seed 4.2: complete + insert the next stage + log + contents sync, in one transaction.

    Returns False (and changes nothing) when the item is no longer ours.
    """
    with transaction(conn):
        return _complete(conn, item, result, policy, now)


def _complete(
    conn: sqlite3.Connection, item: QueueItem, result: StageResult, policy: Policy, now: datetime
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
        f"{item.queue_type.value} done → {following.value} waiting"
        if following
        else f"{item.queue_type.value} done → run complete",
        stamp=stamp,
        action=ActionType.COMPLETE,
        metadata=result.details or None,
    )
    return True


def complete_and_claim(
    conn: sqlite3.Connection,
    item: QueueItem,
    result: StageResult,
    policy: Policy,
    now: datetime,
    owner: Owner,
) -> tuple[bool, QueueItem | None]:
    """Complete ``item`` and claim the next item of its queue in one transaction.

    A draining worker pays one commit (one fsync) per transition instead of two.
    """
    with transaction(conn):
        completed = _complete(conn, item, result, policy, now)
        following = _claim(conn, item.queue_type, owner, policy, now)
    return completed, following


def _sync_contents(
    conn: sqlite3.Connection, task: Task, item: QueueItem, result: StageResult, stamp: str
) -> None:
    """Seed 13.3: the contents row of the current run follows the pipeline."""
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
                    f"previous run's files kept in {archived.folder}",
                    {"moved": list(archived.moved)},
                )
        # A new run starts without a content; the script stage creates it.
        tasks_repo.set_content_id(conn, task.id, None, stamp)
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
        log(f"📝 script saved → contents.{content_id}", None)
    elif item.queue_type is QueueType.VIDEO and result.video_path and result.thumbnail_path:
        if task.content_id:
            contents_repo.set_video(
                conn,
                task.content_id,
                video_path=result.video_path,
                thumbnail_path=result.thumbnail_path,
                now=stamp,
            )
        log(f"🎬 video saved → {result.video_path}", None)
    elif item.queue_type is QueueType.YOUTUBE:
        if result.youtube_url:
            tasks_repo.set_youtube_url(conn, task.id, result.youtube_url, stamp)
        if task.content_id:
            contents_repo.finish_run(conn, task.content_id, result.youtube_url, stamp)
        tasks_repo.set_last_error(conn, task.id, None, stamp)


def log_item(
    conn: sqlite3.Connection,
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
    conn: sqlite3.Connection, task_id: str, item: QueueItem, stamp: str
) -> Callable[[str, dict[str, object] | None], None]:
    def log(message: str, metadata: dict[str, object] | None) -> None:
        log_item(conn, item, LogLevel.INFO, message, stamp=stamp, metadata=metadata)

    return log


# -- fail --------------------------------------------------------------------------------------


def fail_item(
    conn: sqlite3.Connection,
    item: QueueItem,
    error: StageError,
    policy: Policy,
    now: datetime,
    *,
    retry_now: bool = False,
) -> Retry | GiveUp | Park | None:
    """Seed 5.2: a transient failure waits and retries; a permanent one, or one past
    ``max_retry``, marks the item failed with ``tasks.last_error`` and the run's content failed.

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
                f"⏸ waiting until {to_db(decision.until)} UTC (no retry spent): {message}",
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
                f"⚠ failed, retry {decision.attempt}/{decision.max_retry} "
                f"in {delay:g} s: {message}",
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
        reason = "max retries exceeded" if decision.exhausted else "permanent error"
        log_item(
            conn,
            item,
            LogLevel.ERROR,
            f"❌ failed ({reason}): {message}",
            stamp=stamp,
            action=ActionType.FAIL,
            metadata={"retryCount": item.retry_count, "maxRetry": item.max_retry, "error": message},
        )
        return decision


def mark_task_failed(conn: sqlite3.Connection, task_id: str, message: str, stamp: str) -> None:
    """``tasks.last_error`` and the current run's content marked failed (seed 13.3)."""
    tasks_repo.set_last_error(conn, task_id, message, stamp)
    task = _task(conn, task_id)
    if task.content_id:
        contents_repo.set_failed(conn, task.content_id, message, stamp)


# -- crash recovery ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recovered:
    item: QueueItem
    reason: str
    outcome: Retry | GiveUp | Park
    killed: tuple[ProcessInfo, ...]


def orphan_reason(item: QueueItem, owner: Owner, now: datetime) -> str | None:
    """Why a processing item no longer has a live owner, or None while it does."""
    if (
        item.owner_host == owner.host
        and item.owner_pid == owner.pid
        and (item.owner_started == owner.started)
    ):
        return None
    holder = f"{item.owner_host}:{item.owner_pid}"
    if item.owner_host == owner.host and (
        item.owner_pid is None or not processes.is_alive(item.owner_pid, item.owner_started)
    ):
        return f"its tick {holder} died"
    if item.lease_expires_at is None or from_db(item.lease_expires_at) <= now:
        return f"the lease of tick {holder} expired"
    return None


def recover_orphans(
    conn: sqlite3.Connection, owner: Owner, policy: Policy, now: datetime
) -> list[Recovered]:
    """Put back items whose tick died (same host: pid + start time) or whose lease ran out.

    The stage program the dead tick started is killed first (same host only), so that a retry
    never runs beside an orphan writing to the same folder.
    """
    recovered: list[Recovered] = []
    for item in queue_repo.processing(conn):
        reason = orphan_reason(item, owner, now)
        if reason is None:
            continue
        killed: list[ProcessInfo] = []
        if item.stage_pid and item.stage_started and item.owner_host == owner.host:
            killed = processes.kill_tree(item.stage_pid, item.stage_started)
        error = StageError(f"recovered: {reason} while the {item.queue_type.value} stage ran")
        outcome = fail_item(conn, item, error, policy, now, retry_now=True)
        if outcome is None:
            continue
        if killed:
            with transaction(conn):
                log_item(
                    conn,
                    item,
                    LogLevel.WARN,
                    f"killed {len(killed)} orphaned stage process(es) left by the dead tick",
                    stamp=to_db(now),
                    action=ActionType.STOP,
                    metadata={"killedProcesses": [{"name": k.name, "pid": k.pid} for k in killed]},
                )
        recovered.append(Recovered(item, reason, outcome, tuple(killed)))
    return recovered


# -- schedules ---------------------------------------------------------------------------------


def schedule_anchor(schedule: Schedule) -> tuple[datetime, str]:
    """The wall-clock anchor (naive) and IANA zone of a schedule.

    Schedules from the seed's app carry no zone: they repeat in UTC from their first time.
    """
    config = schedule.repeat_config
    tz_name = str(config.get("tz") or "UTC")
    anchor_text = config.get("anchor")
    if isinstance(anchor_text, str):
        return datetime.fromisoformat(anchor_text), tz_name
    first = schedule.scheduled_time or schedule.next_run_at or schedule.created_at
    assert first is not None
    return from_db(first).astimezone(zone(tz_name)).replace(tzinfo=None), tz_name


def enqueue_occurrence(
    conn: sqlite3.Connection, schedule: Schedule, policy: Policy, now: datetime
) -> int | None:
    """Enqueue the due occurrence of ``schedule`` and advance it, exactly once (invariant 4).

    Call inside a transaction. The compare-and-set on ``next_run_at`` makes a second tick that
    read the same due schedule do nothing; the unique (schedule_id, occurrence_at) index backs it.
    Returns the new schedule item's id, or None when nothing was enqueued.
    """
    due_text = schedule.next_run_at
    if due_text is None:
        return None
    due = from_db(due_text)
    repeat = schedule.repeat_type or RepeatType.ONCE
    anchor, tz_name = schedule_anchor(schedule)
    step = advance(anchor=anchor, tz=zone(tz_name), repeat=repeat, due=due, now=now)
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
            f"occurrence {due_text} UTC coalesced: a run of this task is already waiting",
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
            f"{step.missed} missed occurrence(s) coalesced into this run",
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
        f"run enqueued for {due_text} UTC" + (f"; next run {next_text} UTC" if next_text else ""),
        now=stamp,
        queue_id=item_id,
        queue_type=QueueType.SCHEDULE,
        metadata=base,
    )
    return item_id


def enqueue_due(conn: sqlite3.Connection, policy: Policy, now: datetime, batch: int = 200) -> int:
    """Enqueue every due schedule occurrence; returns how many runs were enqueued."""
    enqueued = 0
    while True:
        due = schedules_repo.due(conn, to_db(now), batch)
        if not due:
            return enqueued
        progressed = False
        for schedule in due:
            with transaction(conn):
                fresh = schedules_repo.get(conn, schedule.id)
                if (
                    fresh is None
                    or not fresh.is_active
                    or fresh.next_run_at != schedule.next_run_at
                ):
                    continue
                progressed = True
                if enqueue_occurrence(conn, fresh, policy, now) is not None:
                    enqueued += 1
        if not progressed:
            return enqueued


# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stopped:
    """What ``stop`` changed, and the stage programs left to kill."""

    stopped: tuple[QueueItem, ...]
    deleted_waiting: int
    deactivated_schedules: int
    log_id: int


def stop_task(
    conn: sqlite3.Connection, task_id: str, *, error: str, log_message: str, now: datetime
) -> Stopped:
    """Seed 12.2 in one transaction: processing items failed, waiting items deleted,
    ``tasks.last_error``, schedules deactivated, the run's content failed, a ``stop`` log row.

    The tick running a stopped item finds it no longer claimed and records nothing over it.
    """
    stamp = to_db(now)
    with transaction(conn):
        stopped = queue_repo.stop_processing(conn, task_id, error, stamp)
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


def requeue_item(conn: sqlite3.Connection, item: QueueItem, reason: str, now: datetime) -> bool:
    """Put an interrupted item back to waiting without spending a retry (worker shutdown)."""
    assert item.claim_token is not None
    stamp = to_db(now)
    with transaction(conn):
        if not queue_repo.retry_later(
            conn,
            item.id,
            item.claim_token,
            retry_count=item.retry_count,
            next_retry_at=stamp,
            error=reason,
            now=stamp,
        ):
            return False
        log_item(
            conn,
            item,
            LogLevel.WARN,
            f"↩ {reason}: back to waiting (no retry spent)",
            stamp=stamp,
            action=ActionType.RETRY,
        )
    return True
