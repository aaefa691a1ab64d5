"""One stage attempt, seen from the tick: start its supervisor, follow it, apply how it ended.

The attempt runs in a supervisor process of its own (autoqueue.attempt.supervisor) that outlives the
tick. The tick copies the attempt's log entries into ``task_logs`` as they come, kills the
attempt when its item is stopped or the worker shuts down, and, once the supervisor has
recorded how the attempt ended, applies that result (complete, or fail by the usual rules).
A tick that finds an attempt of a dead tick adopts it through :meth:`Runner.follow`, or applies
its result if it has ended (autoqueue.worker.recovery). Only an attempt that vanished with no record
runs again, and that spends no stage retry (``lose_item``: the crash budget).

Every database write here is retried while another process holds the write lock
(``db.retry_busy``); each is guarded by the claim token, so a retry never applies twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from autoqueue import failpoints, i18n
from autoqueue.attempt import files as attempt_files
from autoqueue.attempt import processes
from autoqueue.attempt.outcome import Ended, Outcome, error_of, result_of
from autoqueue.attempt.running import BACKSTOP_SECONDS, Attempt
from autoqueue.errors import (
    StageError,
    TransientStageError,
)
from autoqueue.i18n import _
from autoqueue.models import QueueItem, Schedule, Task
from autoqueue.owner import Owner
from autoqueue.queue.attempts import begin_attempt, copy_output, record_start, record_supervisor
from autoqueue.queue.outcomes import (
    complete_and_claim,
    complete_item,
    fail_item,
    lose_item,
    requeue_item,
)
from autoqueue.queue.pipeline import GiveUp, Park, Retry
from autoqueue.queue.policy import Policy
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.command import contract_env, expand_argv, task_payload
from autoqueue.stages.outputs import check_outputs
from autoqueue.stages.registry import missing_command, run_handler
from autoqueue.store import db as db_errors
from autoqueue.store.db import Connection, is_busy, is_unreachable, retry_busy, short_wait
from autoqueue.store.link import Link
from autoqueue.timeutil import from_db, to_db
from autoqueue.workspace import Workspace

T = TypeVar("T")

POLL_SECONDS = 0.1
CLAIM_CHECK_SECONDS = 1.0


class Claim(StrEnum):
    """Whose a processing item is, as seen by the tick following its attempt."""

    OURS = "ours"
    TAKEN = "taken"  # another tick adopted the attempt (this one hung past its lease)
    GONE = "gone"  # stopped, or no longer processing


TAKEN_OVER = "taken over by another tick, which follows the stage now"


class Runner:
    """Starts, follows and finishes attempts on one database connection (one queue worker's).

    ``aborted`` says when the worker is shutting down past its grace period: the running attempt
    is then killed and its item requeued without spending a retry. ``stopping`` says when it
    takes no new work: a completion then claims no next item, whatever was asked at the start.
    ``link``: the worker's view of a PostgreSQL server; while the server is away, writes wait
    for it and the attempt is followed all the same, for as long as the link's outage budget.
    """

    def __init__(
        self,
        workspace: Workspace,
        conn: Connection,
        owner: Owner,
        policy: Policy,
        clock: Callable[[], datetime],
        *,
        aborted: Callable[[], bool] = lambda: False,
        stopping: Callable[[], bool] = lambda: False,
        link: Link | None = None,
    ) -> None:
        self.workspace = workspace
        self.conn = conn
        self.owner = owner
        self.policy = policy
        self.clock = clock
        self.aborted = aborted
        self.stopping = stopping
        self.link = link

    def write(self, what: str, operation: Callable[[], T]) -> T:
        """A database write, retried while another process holds the write lock, for as long
        as a lease lasts (then DatabaseBusyError: the attempt's record stays for the next tick),
        and while the server is away, for the link's outage budget."""
        return retry_busy(operation, patience=self.policy.lease_seconds, what=what, link=self.link)

    def _later(self, exc: BaseException) -> bool:
        """Whether a read or write that is simply tried again in a moment may wait: the
        database is busy, or its server is away (within the outage budget: past it, this
        raises DatabaseUnreachableError, and the attempt runs on for the next worker)."""
        if self.link is not None and is_unreachable(exc):
            self.link.check(time.monotonic())
            return True
        return is_busy(exc)

    # -- starting ---------------------------------------------------------------------------

    def context(self, item: QueueItem) -> tuple[Task, Schedule | None]:
        """The item's task and schedule (ValueError when another program broke their rows)."""
        task = tasks_repo.get(self.conn, item.task_id)
        if task is None:
            raise ValueError(_("its task {task_id} is gone").format(task_id=item.task_id))
        schedule = (
            schedules_repo.get(self.conn, item.schedule_id)
            if item.schedule_id is not None
            else None
        )
        return task, schedule

    def start(self, item: QueueItem, task: Task, schedule: Schedule | None) -> Attempt | Ended:
        """Record a new attempt, write its folder and start its supervisor."""
        config = self.workspace.config
        stage = config.stage(item.queue_type)
        handler = config.handler(item.queue_type)
        ctx = StageContext(workspace=self.workspace, task=task, schedule=schedule, item=item)
        if handler == "command" and stage.command is None:
            return self.fail(item, missing_command(ctx))
        attempt_no = item.attempt_no + 1
        token = secrets.token_hex(16)
        folder = attempt_files.attempt_dir(ctx.task_dir, item.id, item.queue_type.value, attempt_no)
        argv = None
        if handler == "command" and stage.command:
            argv = expand_argv(stage.command, self.workspace.home)
        program = Path(argv[0]).name if argv else handler
        if not self.write(
            "starting an attempt",
            lambda: begin_attempt(
                self.conn, item, token=token, attempt_no=attempt_no, program=program
            ),
        ):
            return Ended(Outcome.STOPPED, "no longer ours when it was to start")
        item = item.model_copy(
            update={"attempt_token": token, "attempt_no": attempt_no, "output_offset": 0}
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            spec = self._spec(dataclasses.replace(ctx, item=item), handler, folder, argv)
            # Not fsynced: a spec lost to a power cut goes with the attempt it was for.
            attempt_files.write_whole(
                folder / attempt_files.SPEC, json.dumps(spec, ensure_ascii=False, default=str)
            )
            popen, info = processes.start_detached(
                [sys.executable, "-m", "autoqueue.attempt.supervisor", str(folder)],
                cwd=folder,
                env={**os.environ, **self._database_env(), processes.ATTEMPT_ENV: token},
                log=folder / attempt_files.SUPERVISOR_LOG,
            )
        except OSError as exc:
            return self.fail(item, TransientStageError(f"cannot start the attempt: {exc}"))
        attempt = Attempt(item, folder, token, stage.timeout, info, popen)
        if not self.write(
            "recording the attempt's supervisor",
            lambda: record_supervisor(
                self.conn, item, pid=info.pid, started=info.started, name=program
            ),
        ):
            attempt.kill()
            return Ended(Outcome.STOPPED, "no longer ours when it started")
        attempt.item = item.model_copy(
            update={"stage_pid": info.pid, "stage_started": info.started}
        )
        return attempt

    def _database_env(self) -> dict[str, str]:
        url = self.workspace.db_url
        return {} if url is None else {"AUTOQUEUE_DB": url}

    def _spec(
        self, ctx: StageContext, handler: str, folder: Path, argv: list[str] | None
    ) -> dict[str, Any]:
        item = ctx.item
        stage = self.workspace.config.stage(item.queue_type)
        spec: dict[str, Any] = {
            "home": str(self.workspace.home),
            # A PostgreSQL URL may hold a password: it reaches the supervisor in its environment
            # (AUTOQUEUE_DB), never in a file.
            "db": None if self.workspace.db_url is not None else str(self.workspace.db_path),
            "queue_type": item.queue_type.value,
            "language": i18n.current(),  # the stage's log lines in the user's language
            "handler": handler,
            "attempt": ctx.attempt,
            "timeout": stage.timeout,
            "max_log_lines": stage.max_log_lines,
            "item": item.model_dump(mode="json"),
            "task": ctx.task.model_dump(mode="json"),
            "schedule": None if ctx.schedule is None else ctx.schedule.model_dump(mode="json"),
        }
        if argv is not None:
            task_json = folder / attempt_files.TASK_JSON
            task_json.write_text(
                json.dumps(task_payload(ctx), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            ctx.task_dir.mkdir(parents=True, exist_ok=True)
            spec["argv"] = argv
            spec["cwd"] = str(ctx.task_dir)
            spec["env"] = contract_env(ctx, task_json)
        return spec

    # -- following --------------------------------------------------------------------------

    def follow(self, attempt: Attempt, *, chain: bool = False) -> Ended:
        """Wait for the attempt to end, copying its log entries, then apply its result.

        Kills it when its item stops being ours (a stop) or the worker aborts (requeued), and
        when its supervisor overruns every timeout (it hung: a transient failure)."""
        next_check = time.monotonic() + CLAIM_CHECK_SECONDS
        while attempt.running():
            self.copy(attempt)
            if self.aborted():
                return self._interrupt(attempt)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CLAIM_CHECK_SECONDS
                claim = self._claim(attempt.item)
                if claim is Claim.TAKEN:
                    return Ended(Outcome.STOPPED, TAKEN_OVER)
                if claim is Claim.GONE:
                    killed = attempt.kill()
                    names = ", ".join(f"{p.name} (pid {p.pid})" for p in killed)
                    return Ended(
                        Outcome.STOPPED,
                        "stopped while it ran" + (f": killed {names}" if names else ""),
                    )
                if attempt.overdue():
                    attempt.kill()
                    self.copy_all(attempt)
                    return self.fail(
                        attempt.item,
                        TransientStageError(
                            f"timed out: its supervisor ran {attempt.timeout:g} s + "
                            f"{BACKSTOP_SECONDS:g} s and was killed"
                        ),
                    )
            attempt.wait(POLL_SECONDS)
        return self.finish(attempt, chain=chain)

    def _interrupt(self, attempt: Attempt) -> Ended:
        """The worker is shutting down past its grace period: kill the attempt and put its item
        back to waiting without spending a retry."""
        if self._claim(attempt.item) is Claim.TAKEN:
            return Ended(Outcome.STOPPED, TAKEN_OVER)  # the other tick follows it now
        attempt.kill()
        self.copy_all(attempt)
        reason = "interrupted: autoqueue was shut down while the stage ran"
        if self.write(
            "requeueing",
            lambda: requeue_item(self.conn, attempt.item, reason, self.clock()),
        ):
            return Ended(Outcome.REQUEUED, reason)
        return Ended(Outcome.STOPPED, "no longer ours when it was interrupted")

    def finish(self, attempt: Attempt, *, chain: bool = False) -> Ended:
        """The supervisor has exited: copy what is left of its output and apply its result, or
        count the attempt as lost when it recorded none."""
        self.copy_all(attempt)
        record = attempt_files.read_result(attempt.folder)
        if record is None:
            claim = self._claim(attempt.item)
            if claim is Claim.TAKEN:
                return Ended(Outcome.STOPPED, TAKEN_OVER)  # the other tick kills what it left
            if claim is Claim.GONE:
                # Stopped, and its supervisor died before it could kill the program (a stop on
                # another host only changed the database): what it left is this tick's to kill.
                attempt.kill()
                return Ended(Outcome.STOPPED, "stopped while it ran")
            killed = attempt.kill()  # whatever it left: a rerun must not run beside it
            reason = (
                f"attempt {attempt.item.attempt_no} of the {attempt.item.queue_type.value} stage "
                "ended without recording how (its supervisor was killed)"
            )
            if killed:
                reason += f"; killed {len(killed)} process(es) it left"
            return self.lose(attempt.item, reason)
        failpoints.hit("after_stage", attempt.item.queue_type.value)
        return self.apply(attempt.item, record, chain=chain)

    def _claim(self, item: QueueItem) -> Claim:
        """Whether ``item`` is still ours, was taken over by another tick (which adopted its
        attempt: leave it be), or is gone (stopped: kill what it runs)."""
        try:
            state = queue_repo.claim_state(self.conn, item.id)
        except db_errors.OperationalError as exc:
            if self._later(exc):
                return Claim.OURS  # cannot tell now; asked again in a second
            raise
        if state is None or state[0] != "processing":
            return Claim.GONE
        return Claim.OURS if state[1] == item.claim_token else Claim.TAKEN

    def copy(self, attempt: Attempt) -> bool:
        """Copy the attempt's new log entries into task_logs (one transaction with the offset).
        False when there was nothing new, or the database is busy (the entries wait)."""
        try:
            with short_wait(self.conn):
                return self._copy_slice(attempt, patient=False)
        except db_errors.OperationalError as exc:
            if self._later(exc):
                return False  # the entries wait in the file; copy_all waits them out
            raise

    def copy_all(self, attempt: Attempt) -> None:
        """Copy every entry left, waiting out a busy database (see write)."""
        while self._copy_slice(attempt, patient=True):
            pass

    def _copy_slice(self, attempt: Attempt, *, patient: bool) -> bool:
        """Copy the next slice of the output file; False when there is nothing new."""
        entries, offset = attempt_files.read_entries(attempt.folder, attempt.item.output_offset)
        if offset == attempt.item.output_offset:
            return False
        stamp = to_db(self.clock())
        logged = [(self._stamp(entry, stamp), StageLog.from_entry(entry)) for entry in entries]

        def copy() -> bool:
            return copy_output(self.conn, attempt.item, logged, offset)

        if patient:
            self.write("logging the stage's output", copy)
        else:
            copy()
        attempt.item = attempt.item.model_copy(update={"output_offset": offset})
        return True

    @staticmethod
    def _stamp(entry: dict[str, Any], default: str) -> str:
        try:
            return to_db(from_db(str(entry["at"])))
        except (KeyError, ValueError):
            return default

    # -- ending -----------------------------------------------------------------------------

    def apply(self, item: QueueItem, record: dict[str, Any], *, chain: bool = False) -> Ended:
        """Apply a recorded result: the outputs are checked, then the item completes (with the
        next stage enqueued), or fails by the usual rules."""
        if isinstance(record.get("error"), dict):
            return self.fail(item, error_of(record["error"]))
        task_dir = self.workspace.task_dir(item.task_id)
        try:
            result = check_outputs(item.queue_type, task_dir, self.workspace, result_of(record))
        except StageError as exc:
            return self.fail(item, exc)
        return self.complete(item, result, chain=chain)

    def schedule_stage(
        self, item: QueueItem, task: Task, schedule: Schedule | None, *, chain: bool
    ) -> Ended:
        """The internal schedule stage, in the tick's own process (no attempt, no supervisor):
        quick, and idempotent if a crash makes it run again (it only moves the previous run's
        files aside)."""
        self.write(
            "logging the start",
            lambda: record_start(
                self.conn,
                item,
                pid=os.getpid(),
                name="autoqueue",
                message=_("▶ run started: preparing the task folder"),
                now=self.clock(),
            ),
        )

        def log(*entries: StageLog) -> None:
            stamp = to_db(self.clock())
            self.write(
                "logging",
                lambda: copy_output(
                    self.conn, item, [(stamp, entry) for entry in entries], item.output_offset
                ),
            )

        ctx = StageContext(
            workspace=self.workspace, task=task, schedule=schedule, item=item, log=log
        )
        try:
            result = check_outputs(item.queue_type, ctx.task_dir, self.workspace, run_handler(ctx))
        except StageError as exc:
            return self.fail(item, exc)
        except OSError as exc:
            return self.fail(item, TransientStageError(f"cannot prepare the task folder: {exc}"))
        return self.complete(item, result, chain=chain)

    def complete(self, item: QueueItem, result: StageResult, *, chain: bool = False) -> Ended:
        following: QueueItem | None = None
        token = secrets.token_hex(16)  # the next item's claim, the same if this is sent again
        sent = False

        def complete() -> bool:
            nonlocal following, sent
            now = self.clock()
            # A stop that came while the stage ran counts, unless a claim was sent already:
            # its answer may have been lost, and the item it took must not be left behind.
            if sent or (chain and not self.stopping()):
                resent, sent = sent, True
                done, following = complete_and_claim(
                    self.conn,
                    item,
                    result,
                    self.policy,
                    now,
                    self.owner,
                    token=token,
                    resent=resent,
                )
                return done
            return complete_item(self.conn, item, result, self.policy, now)

        if self.write("recording the completion", complete):
            return Ended(Outcome.COMPLETED, following=following)
        return Ended(Outcome.STOPPED, "no longer ours when it finished", following=following)

    def fail(self, item: QueueItem, error: StageError) -> Ended:
        decision = self.write(
            "recording the failure",
            lambda: fail_item(self.conn, item, error, self.policy, self.clock()),
        )
        detail = str(error)
        if isinstance(decision, Retry):
            return Ended(Outcome.RETRY, detail)
        if isinstance(decision, GiveUp):
            return Ended(Outcome.FAILED, detail)
        if isinstance(decision, Park):
            return Ended(Outcome.PARKED, detail)
        return Ended(Outcome.STOPPED, "no longer ours when it failed")

    def lose(self, item: QueueItem, reason: str) -> Ended:
        decision = self.write(
            "recording a lost attempt",
            lambda: lose_item(self.conn, item, reason, self.policy, self.clock()),
        )
        if isinstance(decision, GiveUp):
            return Ended(Outcome.FAILED, reason)
        if decision is None:
            return Ended(Outcome.STOPPED, "no longer ours when it was lost")
        return Ended(Outcome.LOST, reason)
