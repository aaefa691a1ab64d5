"""What a user does to a task's runs: stop (with its kill after the commit), pause, resume,
delete and retry."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autoqueue.errors import SupersededError, UsageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType, RepeatType
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import reads
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import state as state_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.tasks.views import ScheduleView, TaskState, get_task, schedule_view, task_state
from autoqueue.timeutil import to_db
from autoqueue.workspace import Workspace

# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopResult:
    task_id: str
    stopped_processing: int
    deleted_waiting: int
    deactivated_schedules: int
    killed_processes: list[dict[str, Any]]
    not_killed: list[str]


def stop_task(workspace: Workspace, conn: Connection, text: str, now: datetime) -> StopResult:
    """Stop a task (docs/running.md "What happens on stop"): the database changes in one
    transaction, then everything the task's running attempt started is killed: its supervisor's tree
    (recorded pid + start time) and every process carrying the attempt's secret token, daemons
    that detached themselves included. Nothing is matched by name: the user's own browser or
    other renders are never touched."""
    from autoqueue.attempt import processes
    from autoqueue.queue import stop

    task = get_task(conn, text)
    stopped = stop.stop_task(
        conn,
        task.id,
        error=_("stopped by the user"),
        log_message=_("🛑 task stopped by the user"),
        now=now,
    )
    killed: list[dict[str, Any]] = []
    not_killed: list[str] = []
    host = processes.this_host()
    for target in stopped.stopped:
        if target.token is None and not target.pid:
            continue
        if target.host != host:
            not_killed.append(
                f"{target.name or 'the stage'} of item {target.queue_id} runs on {target.host}; "
                "autoqueue there stops it when it sees the item stopped"
            )
            continue
        root = (target.pid, target.started) if target.pid and target.started else None
        for info in processes.kill_attempt(target.token, root):
            killed.append({"name": info.name, "pid": info.pid, "queue_id": target.queue_id})
    with transaction(conn):
        logs_repo.set_metadata(
            conn,
            stopped.log_id,
            {
                "stopped_processing": len(stopped.stopped),
                "deleted_waiting": stopped.deleted_waiting,
                "deactivated_schedules": stopped.deactivated_schedules,
                "killedProcesses": killed,
                "reason": "user_request",
            },
        )
    return StopResult(
        task_id=task.id,
        stopped_processing=len(stopped.stopped),
        deleted_waiting=stopped.deleted_waiting,
        deactivated_schedules=stopped.deactivated_schedules,
        killed_processes=killed,
        not_killed=not_killed,
    )


# -- pause and resume --------------------------------------------------------------------------


def pause_task(conn: Connection, text: str, now: datetime) -> int:
    """Turn the task's schedules off, keeping when each would run next; a run in flight goes
    on (``stop`` ends it). Returns how many schedules were paused."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        paused = schedules_repo.deactivate_for_task(conn, task.id)
        if not paused:
            raise UsageError(_("task {id} has no active schedule to pause").format(id=task.id))
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("⏸ paused: {paused} schedule(s) off until `autoqueue resume`").format(paused=paused),
            now=stamp,
            action=ActionType.PAUSE,
            metadata={"paused": paused},
        )
    return paused


def resume_task(conn: Connection, text: str, now: datetime) -> list[ScheduleView]:
    """Turn a paused (or stopped) task's schedules back on. A recurring schedule runs next at
    its first occurrence from now (the ones missed while paused are not made up); a ``once``
    schedule keeps its time, or runs at the next tick when it had none left (a stopped run).
    A task that finished its only run has nothing to resume. Returns the schedules as
    ``tasks`` shows them."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        schedules = schedules_repo.for_task(conn, task.id)
        inactive = [s for s in schedules if not s.is_active]
        views = [schedule_view(s.model_dump(mode="json")) for s in schedules]
        summary = reads.task_summaries(conn, task.id).get(task.id)
        state = task_state(views, summary, task.last_run_at)
        if not inactive:
            raise UsageError(
                _(
                    "task {id} has nothing to resume: its schedules are on (`autoqueue retry` "
                    "runs a failed item again)"
                ).format(id=task.id)
            )
        if state is TaskState.DONE:
            raise UsageError(
                _(
                    "task {id} has nothing to resume: it finished its run (add it again to run "
                    "it once more)"
                ).format(id=task.id)
            )
        for schedule in inactive:
            recurrence = Recurrence.of(schedule)
            if recurrence.repeat is RepeatType.ONCE and schedule.next_run_at is not None:
                next_run = max(schedule.next_run_at, stamp)
            else:
                next_run = to_db(recurrence.next_from(now))
            schedules_repo.set_state(conn, schedule.id, active=True, next_run_at=next_run)
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("▶ resumed: {count} schedule(s) on again").format(count=len(inactive)),
            now=stamp,
            action=ActionType.RESUME,
        )
        tasks_repo.set_last_error(conn, task.id, None, stamp)
        return [
            schedule_view(s.model_dump(mode="json")) for s in schedules_repo.for_task(conn, task.id)
        ]


# -- delete ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    task_id: str
    rows: dict[str, int]
    files_removed: bool
    killed_processes: list[dict[str, Any]] = field(default_factory=list)


def delete_task(
    workspace: Workspace,
    conn: Connection,
    text: str,
    now: datetime,
    *,
    stop_first: bool = False,
    keep_files: bool = False,
) -> Deleted:
    """Delete a task: its schedules, queue items and log rows, and its folder unless
    ``keep_files``. Its contents stay as orphans (ARCHITECTURE.md "Deleting a task"). Refused
    while a stage of it runs, unless ``stop_first``: then it is stopped as `stop` does (its
    processes killed) before anything is deleted."""
    task = get_task(conn, text)
    killed: list[dict[str, Any]] = []
    if queue_repo.stop_processes(conn, task.id):
        if not stop_first:
            raise UsageError(
                _(
                    "task {id} has a stage running; `autoqueue delete {value} --stop` stops it "
                    "first"
                ).format(id=task.id, value=task.id[:8])
            )
        killed = stop_task(workspace, conn, task.id, now).killed_processes
    stamp = to_db(now)
    with transaction(conn):
        if queue_repo.stop_processes(conn, task.id):  # claimed again meanwhile
            raise UsageError(_("task {id} started a stage again; try again").format(id=task.id))
        rows = tasks_repo.delete(conn, task.id, files_removed=not keep_files, now=stamp)
    if not keep_files:
        shutil.rmtree(workspace.task_dir(task.id), ignore_errors=True)
    return Deleted(task.id, rows, not keep_files, killed)


# -- retry -------------------------------------------------------------------------------------


def retry_task(conn: Connection, text: str, now: datetime, *, reupload: bool = False) -> int:
    """The retry button (``autoqueue retry``): the task's most recent failed item goes back to
    waiting with a fresh retry budget. Older failed items belong to runs whose files were
    archived; they stay as history. Refused while the task has a run in flight, and when the
    newest failed item belongs to a run that a later run replaced. Returns the item id.

    ``reupload`` (youtube items only) forgets what the uploader knew of earlier attempts, so a
    new upload starts even when an earlier one may have reached YouTube."""
    task = get_task(conn, text)
    stamp = to_db(now)
    with transaction(conn):
        if queue_repo.active_count(conn, task.id):
            raise UsageError(
                _("task {id} has a run waiting or processing; nothing to retry").format(id=task.id)
            )
        item = queue_repo.latest_failed(conn, task.id)
        if item is None:
            raise UsageError(_("task {id} has no failed item to retry").format(id=task.id))
        if item.review_since is not None:
            raise UsageError(
                _(
                    "task {id} has nothing to retry: its {value} item was rejected in review, "
                    "and a rejected run is never published (its next scheduled run, or `add`, "
                    "makes a new one)"
                ).format(id=task.id, value=item.queue_type.value)
            )
        if queue_repo.is_superseded(conn, item):
            raise SupersededError(
                _(
                    "task {id} has nothing to retry: its failed {value} item belongs to an "
                    "earlier run that a later run replaced, and running it could publish a "
                    "video twice"
                ).format(id=task.id, value=item.queue_type.value)
            )
        if reupload:
            if item.queue_type is not QueueType.YOUTUBE:
                raise UsageError(
                    _(
                        "--reupload is for a failed youtube item; task {id}'s failed item is in "
                        "the {value} queue"
                    ).format(id=task.id, value=item.queue_type.value)
                )
            state_repo.clear(conn, item.id)
            # What the uploader reads: a file this task already published may go up again.
            state_repo.save(conn, item.id, {"reupload": True}, stamp)
        queue_repo.reset_for_retry(conn, item.id, stamp)
        tasks_repo.set_last_error(conn, task.id, None, stamp)
        logs_repo.add(
            conn,
            task.id,
            LogLevel.INFO,
            _("↻ retry requested: {value} back to waiting").format(value=item.queue_type.value),
            now=stamp,
            queue_id=item.id,
            queue_type=item.queue_type,
            action=ActionType.RETRY,
            metadata={
                "previousError": item.error_message,
                "previousRetryCount": item.retry_count,
                "reupload": reupload,
            },
        )
    return item.id
