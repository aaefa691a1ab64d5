"""How a claimed item ends, each one transaction (invariant 2). Every function takes ``now``.

complete (+ next stage + log + contents sync) or fail (retry with backoff, or failed); lost (its
attempt vanished) or requeued (the worker stops). Each only applies while the item is still
``processing`` under the claim token of the tick that runs it, so a ``stop`` or a recovery that
happened meanwhile is never overwritten (invariant 6).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from autoqueue import failpoints
from autoqueue.errors import ParkStageError, StageError
from autoqueue.i18n import _, queue_label
from autoqueue.kinds import ActionType, EventKind, LogLevel, QueueType
from autoqueue.layout import THUMBNAIL, VIDEO
from autoqueue.models import QueueItem, Task
from autoqueue.owner import Owner
from autoqueue.queue.claims import claim_in_transaction
from autoqueue.queue.pipeline import GiveUp, Park, Retry, decide_failure, next_queue
from autoqueue.queue.policy import Policy
from autoqueue.queue.records import log_item, mark_task_failed, note_event, task_of
from autoqueue.repo import claim as claim_repo
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.stages.base import StageResult
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import to_db


def complete_item(
    conn: Connection, item: QueueItem, result: StageResult, policy: Policy, now: datetime
) -> bool:
    """Complete + insert the next stage + log + contents sync, in one transaction (docs/concepts.md
    "How a tick works").

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
    task = task_of(conn, item.task_id)
    following = next_queue(item.queue_type, task.media_mode)
    held = following is not None and policy.holds_for_review(task, following)
    if following is not None:
        queue_repo.insert(
            conn,
            task_id=task.id,
            schedule_id=item.schedule_id,
            queue_type=following,
            max_retry=policy.max_retry_for(task),
            now=stamp,
            review=held,
        )
    _sync_contents(conn, task, item, result, stamp)
    failpoints.hit("complete", item.queue_type.value)
    log_id = log_item(
        conn,
        item,
        LogLevel.INFO,
        _done_text(item.queue_type, following),
        stamp=stamp,
        action=ActionType.COMPLETE,
        metadata=result.details or None,
    )
    if item.queue_type is QueueType.YOUTUBE:
        note_event(
            conn,
            policy.events,
            EventKind.PUBLISHED,
            item,
            log_id=log_id,
            stamp=stamp,
            url=result.youtube_url,
        )
    if held:
        assert following is not None
        review_log = log_item(
            conn,
            item,
            LogLevel.INFO,
            _(
                "⏸ «{stage}» waits for review: `autoqueue approve {task}` or "
                "`autoqueue reject {task} --reason ...`"
            ).format(stage=queue_label(following.value), task=task.id[:8]),
            stamp=stamp,
            metadata={"review": "waiting", "before": following.value},
        )
        note_event(
            conn,
            policy.events,
            EventKind.REVIEW,
            item,
            log_id=review_log,
            stamp=stamp,
            command=f"autoqueue approve {task.id[:8]}  |  autoqueue reject {task.id[:8]} "
            "--reason ...",
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
            taken = claim_repo.claimed(conn, item.queue_type, token)
            if taken is not None:
                return True, taken
        completed = _complete(conn, item, result, policy, now)
        following = claim_in_transaction(conn, item.queue_type, owner, policy, now, token=token)
    return completed, following


def _sync_contents(
    conn: Connection, task: Task, item: QueueItem, result: StageResult, stamp: str
) -> None:
    """The contents row of the current run follows the pipeline: made when its script is
    written, given the video's paths, marked published with the YouTube URL (docs/concepts.md)."""
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


def _logger(
    conn: Connection, task_id: str, item: QueueItem, stamp: str
) -> Callable[[str, dict[str, object] | None], None]:
    def log(message: str, metadata: dict[str, object] | None) -> None:
        log_item(conn, item, LogLevel.INFO, message, stamp=stamp, metadata=metadata)

    return log


def _done_text(queue: QueueType, following: QueueType | None) -> str:
    """The completion's log row, ``script done → image waiting``, in the writer's language."""
    if following is None:
        return _("{queue} done → run complete").format(queue=queue_label(queue.value))
    return _("{queue} done → {next} waiting").format(
        queue=queue_label(queue.value), next=queue_label(following.value)
    )


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
    marks the item failed with ``tasks.last_error`` and the run's content failed (docs/concepts.md
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
            log_id = log_item(
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
            if isinstance(error, ParkStageError) and error.budget:  # a quota or a spend cap
                note_event(
                    conn,
                    policy.events,
                    EventKind.PARKED,
                    item,
                    log_id=log_id,
                    stamp=stamp,
                    error=message,
                    until=to_db(decision.until),
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
        log_id = log_item(
            conn,
            item,
            LogLevel.ERROR,
            _("❌ failed ({reason}): {message}").format(reason=reason, message=message),
            stamp=stamp,
            action=ActionType.FAIL,
            metadata={"retryCount": item.retry_count, "maxRetry": item.max_retry, "error": message},
        )
        note_event(
            conn,
            policy.events,
            EventKind.FAILED,
            item,
            log_id=log_id,
            stamp=stamp,
            error=message,
            reason="retries" if decision.exhausted else "permanent",
        )
        return decision


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
        log_id = log_item(
            conn,
            item,
            LogLevel.ERROR,
            _("❌ failed (crash budget spent): {message}").format(message=message),
            stamp=stamp,
            action=ActionType.FAIL,
            metadata={"crashCount": lost, "maxCrashes": policy.max_crashes},
        )
        note_event(
            conn,
            policy.events,
            EventKind.FAILED,
            item,
            log_id=log_id,
            stamp=stamp,
            error=message,
            reason="crashes",
        )
    return GiveUp(exhausted=True)


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
