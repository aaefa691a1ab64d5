"""Property-based tests: arbitrary command lines never crash autoqueue, and random sequences of
engine operations (add, claim, complete, fail, stop, retry, crash, time passing) keep every
invariant after every step."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from typer.testing import CliRunner

from autoqueue.attempt import processes
from autoqueue.attempt.runner import Runner
from autoqueue.cli.app import app
from autoqueue.errors import PermanentStageError, TransientStageError, UsageError
from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.queue.claims import claim_next
from autoqueue.queue.occurrences import enqueue_due
from autoqueue.queue.outcomes import complete_item, fail_item
from autoqueue.queue.policy import Policy
from autoqueue.queue.stop import stop_task
from autoqueue.repo import queue as queue_repo
from autoqueue.stages.base import StageResult
from autoqueue.tasks.add import AddRequest, add_task, prepare_add
from autoqueue.tasks.control import retry_task
from autoqueue.worker import recovery
from autoqueue.workspace import Workspace

from .conftest import NOW, open_db
from .helpers.processes import dead_owner

junk = st.text(max_size=12)
_TEMPLATE = tempfile.TemporaryDirectory()
_initialised: set[str] = set()


def initialised_home(home: Path) -> None:
    """What `autoqueue init` makes, copied from one made once (init runs hundreds of times
    here otherwise)."""
    template = Path(_TEMPLATE.name)
    if not (template / "autoqueue.db").exists():
        assert CliRunner().invoke(app, ["--home", str(template), "init"]).exit_code == 0
    shutil.copytree(template, home, dirs_exist_ok=True)
    url = os.environ.get("AUTOQUEUE_DB")
    if url:
        # PostgreSQL: one database for every example of the test (initialised by the first,
        # with the template home's identity), emptied between them.
        if url not in _initialised:
            assert CliRunner().invoke(app, ["--home", str(home), "init"]).exit_code == 0
            _initialised.add(url)
        conn = open_db(home)
        try:
            for table in ("task_logs", "stage_state", "task_queue", "task_schedules"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("UPDATE contents SET task_id = NULL")
            conn.execute("DELETE FROM tasks")
            conn.execute("DELETE FROM contents")
        finally:
            conn.close()


def choice(valid: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), junk)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(max_size=20),
    task_type=choice(["shortform", "longform", "product"]),
    media=choice(["crawl", "upload", "dalle3", "sora2"]),
    repeat=choice(["once", "daily", "weekly", "monthly"]),
    privacy=st.one_of(st.none(), choice(["public", "unlisted", "private"])),
    at=st.one_of(
        st.none(),
        st.sampled_from(["2030-01-01 09:00", "2020-02-29 23:59", "2030-01-01T09:00:00+09:00"]),
        junk,
    ),
    tz=st.one_of(st.none(), st.sampled_from(["Asia/Seoul", "America/New_York", "UTC"]), junk),
    max_retry=st.one_of(st.none(), st.integers(-3, 9).map(str), junk),
    product_info=st.one_of(
        st.none(), st.sampled_from(['{"name": "가습기"}', "[1, 2]", "null"]), junk
    ),
    sets=st.lists(st.one_of(st.sampled_from(["a=1", "voice=ko", 'x={"y": 2}']), junk), max_size=2),
)
def test_add_never_crashes_and_errors_leave_nothing(
    title: str,
    task_type: str,
    media: str,
    repeat: str,
    privacy: str | None,
    at: str | None,
    tz: str | None,
    max_retry: str | None,
    product_info: str | None,
    sets: list[str],
) -> None:
    args = ["add", "--", title] if title.startswith("-") else ["add", title]
    options = [
        ("--type", task_type),
        ("--media-mode", media),
        ("--repeat", repeat),
        ("--privacy", privacy),
        ("--at", at),
        ("--tz", tz),
        ("--max-retry", max_retry),
        ("--product-info", product_info),
    ]
    for flag, value in options:
        if value is not None:
            args += [flag, value]
    for pair in sets:
        args += ["--set", pair]
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        initialised_home(home)
        result = CliRunner().invoke(app, ["--home", str(home), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output
        conn = open_db(home)
        titles = [row[0] for row in conn.execute("SELECT title FROM tasks")]
        conn.close()
        assert titles == ([title.strip()] if result.exit_code == 0 else [])
        tasks = home / "tasks"
        assert result.exit_code == 0 or list(tasks.iterdir()) == []


GHOST = dead_owner()


class EngineMachine(RuleBasedStateMachine):
    """Drives the engine the way ticks, users and crashes would, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        home = Path(self.folder.name)
        (home / "autoqueue.toml").write_text('timezone = "UTC"\n[retry]\ndelays = [5]\n', "utf-8")
        self.workspace = Workspace.load(home)
        self.conn = self.workspace.connect()
        self.owner = processes.current_owner()
        self.policy = Policy(delays=(5,), max_retry=2, lease_seconds=60)
        self.now = NOW
        self.tasks: list[str] = []
        self.stopped: set[str] = set()
        self.claimed: list[QueueItem] = []

    def teardown(self) -> None:
        self.conn.close()
        self.folder.cleanup()

    @rule(
        media=st.sampled_from(["crawl", "upload"]),
        repeat=st.sampled_from(["once", "daily"]),
        max_retry=st.integers(0, 2),
    )
    def add(self, media: str, repeat: str, max_retry: int) -> None:
        request = AddRequest(
            title="t", media_mode=media, repeat=repeat, max_retry=max_retry, tz="UTC"
        )
        prepared = prepare_add(self.workspace, request, self.now)
        self.tasks.append(add_task(self.workspace, self.conn, prepared, self.now).task_id)

    @rule(queue_type=st.sampled_from(list(QueueType)))
    def claim(self, queue_type: QueueType) -> None:
        item = claim_next(self.conn, queue_type, self.owner, self.policy, self.now)
        if item is not None:
            self.claimed.append(item)

    @precondition(lambda self: self.claimed)
    @rule(index=st.integers(0, 10), outcome=st.sampled_from(["complete", "transient", "permanent"]))
    def finish(self, index: int, outcome: str) -> None:
        item = self.claimed.pop(index % len(self.claimed))
        still_ours = queue_repo.is_still_claimed(self.conn, item.id, str(item.claim_token))
        if outcome == "complete":
            done = complete_item(
                self.conn, item, StageResult(script_text="{}"), self.policy, self.now
            )
            assert done == still_ours
        else:
            error = TransientStageError("x") if outcome == "transient" else PermanentStageError("x")
            decision = fail_item(self.conn, item, error, self.policy, self.now)
            assert (decision is not None) == still_ours

    @precondition(lambda self: self.tasks)
    @rule(index=st.integers(0, 50))
    def stop(self, index: int) -> None:
        task_id = self.tasks[index % len(self.tasks)]
        stop_task(self.conn, task_id, error="stopped", log_message="stop", now=self.now)
        self.stopped.add(task_id)

    @precondition(lambda self: self.tasks)
    @rule(index=st.integers(0, 50))
    def retry(self, index: int) -> None:
        # Refused while a run is in flight or nothing failed; both are fine here.
        with contextlib.suppress(UsageError):
            retry_task(self.conn, self.tasks[index % len(self.tasks)], self.now)

    @rule(queue_type=st.sampled_from(list(QueueType)))
    def crash(self, queue_type: QueueType) -> None:
        """A tick claims an item and dies; the next tick recovers it."""
        claim_next(self.conn, queue_type, GHOST, self.policy, self.now)
        runner = Runner(self.workspace, self.conn, self.owner, self.policy, lambda: self.now)
        recovery.recover_orphans(runner, self.now)

    @rule(seconds=st.sampled_from([1, 6, 3600, 86400 * 2]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        enqueue_due(self.conn, self.policy, self.now)

    @invariant()
    def one_processing_item_per_queue(self) -> None:
        rows = self.conn.execute(
            "SELECT queue_type, count(*) FROM task_queue WHERE status = 'processing' GROUP BY queue_type"
        ).fetchall()
        assert all(count == 1 for _, count in rows)
        unowned = self.conn.execute(
            "SELECT count(*) FROM task_queue WHERE status = 'processing' AND (claim_token IS NULL OR owner_pid IS NULL)"
        ).fetchone()[0]
        assert unowned == 0

    @invariant()
    def one_run_in_flight_per_task(self) -> None:
        rows = self.conn.execute(
            "SELECT task_id, sum(queue_type != 'schedule'), sum(queue_type = 'schedule') "
            "FROM task_queue WHERE status IN ('waiting', 'processing') GROUP BY task_id"
        ).fetchall()
        for _, stages, runs in rows:  # one run in a later stage; one waiting or starting
            assert stages <= 1 and runs <= 1

    @invariant()
    def no_task_is_lost(self) -> None:
        for task_id in self.tasks:
            if task_id in self.stopped:
                continue
            active = self.conn.execute(
                "SELECT count(*) FROM task_queue WHERE task_id = ? AND status IN ('waiting', 'processing')",
                (task_id,),
            ).fetchone()[0]
            scheduled = self.conn.execute(
                "SELECT count(*) FROM task_schedules WHERE task_id = ? AND is_active = 1 AND next_run_at IS NOT NULL",
                (task_id,),
            ).fetchone()[0]
            last = self.conn.execute(
                "SELECT queue_type, status FROM task_queue WHERE task_id = ? ORDER BY id DESC LIMIT 1",
                (task_id,),
            ).fetchone()
            finished = last is not None and (
                last[1] == "failed" or tuple(last) == ("youtube", "completed")
            )
            assert active or scheduled or finished, (
                f"task {task_id} went nowhere: last item {last and tuple(last)}"
            )

    @invariant()
    def database_is_consistent(self) -> None:
        assert self.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert (
            self.conn.execute(
                "SELECT count(*) FROM task_queue WHERE status = 'completed' AND completed_at IS NULL"
            ).fetchone()[0]
            == 0
        )


EngineMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_state_machine = EngineMachine.TestCase


COMMANDS = st.sampled_from(["list", "show", "logs", "retry", "stop", "contents", "cleanup", "cron"])
ARGS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "--json",
                "--limit",
                "0",
                "5",
                "--level",
                "error",
                "--queue-type",
                "video",
                "--action",
                "stop",
                "--task",
                "--older-than",
                "30d",
                "--dry-run",
                "예약큐",
                "failed",
                "0b6ad2b4-4b0f-4ad4-9a57-6d5a1c2b7f10",
            ]
        ),
        junk,
    ),
    max_size=4,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=COMMANDS, args=ARGS)
def test_any_command_line_ends_in_a_clean_exit(command: str, args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        initialised_home(home)
        before = open_db(home).execute("SELECT count(*) FROM task_queue").fetchone()
        result = CliRunner().invoke(app, ["--home", str(home), command, *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert result.exit_code in (0, 1, 2), result.output
        assert "Traceback" not in result.output
        after = open_db(home).execute("SELECT count(*) FROM task_queue").fetchone()
        assert before == after
