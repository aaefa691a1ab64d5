"""``stop``'s database half (docs/running.md "What happens on stop"), one transaction, and the
attempts it leaves to kill after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from autoqueue.kinds import ActionType, LogLevel
from autoqueue.queue.records import mark_task_failed
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import to_db


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
    """``stop``'s database half, in one transaction (docs/running.md "What happens on stop"):
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
