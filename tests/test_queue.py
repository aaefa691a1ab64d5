"""The queue's transitions (autoqueue.queue) on a real database, with a controlled clock."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from autoqueue.attempt import processes
from autoqueue.attempt.runner import Runner
from autoqueue.errors import PermanentStageError, TransientStageError, UsageError
from autoqueue.kinds import QueueStatus, QueueType
from autoqueue.owner import Owner
from autoqueue.queue import records
from autoqueue.queue.claims import claim_next
from autoqueue.queue.occurrences import enqueue_due, enqueue_occurrence
from autoqueue.queue.outcomes import complete_and_claim, complete_item, fail_item
from autoqueue.queue.pipeline import GiveUp, Retry
from autoqueue.queue.policy import Policy
from autoqueue.repo import claim as claim_repo
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.stages.base import Archived, StageResult
from autoqueue.store import db
from autoqueue.store.db import Connection, transaction
from autoqueue.tasks.control import pause_task, resume_task, retry_task, stop_task
from autoqueue.tasks.views import list_tasks
from autoqueue.timeutil import to_db, utcnow
from autoqueue.worker import recovery
from autoqueue.worker import tick as tick_module
from autoqueue.worker.tick import Worker
from autoqueue.workspace import Workspace

from .conftest import NOW, add
from .helpers.processes import dead_owner

POLICY = Policy(delays=(5, 10, 30), max_retry=3, lease_seconds=300)


@pytest.fixture
def owner() -> Owner:
    return processes.current_owner()


def statuses(conn: Connection, task_id: str) -> list[tuple[str, str]]:
    return [(q.queue_type.value, q.status.value) for q in queue_repo.for_task(conn, task_id)]


def claim(conn: Connection, queue_type: QueueType, owner: Owner, now=NOW):  # type: ignore[no-untyped-def]
    return claim_next(conn, queue_type, owner, POLICY, now)


def test_add_enqueues_a_due_task_at_once(workspace: Workspace, conn: Connection) -> None:
    task_id = add(workspace, conn)
    assert statuses(conn, task_id) == [("schedule", "waiting")]
    schedule = schedules_repo.for_task(conn, task_id)[0]
    assert not schedule.is_active and schedule.next_run_at is None  # 'once' is used up


def test_claim_takes_the_oldest_ready_item_by_created_at_then_id(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    later = add(workspace, conn, "later", now=NOW + timedelta(seconds=5))
    first = add(workspace, conn, "first", now=NOW)
    second = add(workspace, conn, "second", now=NOW)
    order = []
    for _ in range(3):
        item = claim(conn, QueueType.SCHEDULE, owner, NOW + timedelta(seconds=10))
        assert item is not None and item.status is QueueStatus.PROCESSING
        order.append(item.task_id)
        assert complete_item(conn, item, StageResult(), POLICY, NOW + timedelta(seconds=10))
    assert order == [first, second, later]


def test_only_one_item_per_queue_type_processes(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    add(workspace, conn, "a")
    add(workspace, conn, "b")
    assert claim(conn, QueueType.SCHEDULE, owner) is not None
    assert claim(conn, QueueType.SCHEDULE, owner) is None


def test_claim_respects_next_retry_at(workspace: Workspace, conn: Connection, owner: Owner) -> None:
    add(workspace, conn)
    item = claim(conn, QueueType.SCHEDULE, owner)
    assert item is not None
    outcome = fail_item(conn, item, TransientStageError("flaky"), POLICY, NOW)
    assert isinstance(outcome, Retry) and outcome.delay == 5
    assert claim(conn, QueueType.SCHEDULE, owner, NOW + timedelta(seconds=4)) is None
    again = claim(conn, QueueType.SCHEDULE, owner, NOW + timedelta(seconds=5))
    assert again is not None and again.retry_count == 1


def run_stage(conn, owner, queue_type, result=None, now=NOW):  # type: ignore[no-untyped-def]
    item = claim(conn, queue_type, owner, now)
    assert item is not None, f"nothing to claim in {queue_type}"
    assert complete_item(conn, item, result or StageResult(), POLICY, now)
    return item


def test_crawl_goes_through_image_and_contents_follow_the_run(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, "크롤링 영상", media_mode="crawl", user="u1")
    run_stage(conn, owner, QueueType.SCHEDULE)
    run_stage(
        conn,
        owner,
        QueueType.SCRIPT,
        StageResult(script_text='{"title": "t", "scenes": [{"text": "a"}]}'),
    )
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.content_id is not None
    content = contents_repo.get(conn, task.content_id)
    assert content is not None
    assert (content.type, content.status, content.progress, content.user_id) == (
        "script",
        "completed",
        100,
        "u1",
    )
    assert content.content is not None and content.content.startswith('{"title"')
    # The log row names the title a person knows; the id is in its metadata.
    [(message, metadata)] = conn.execute(
        "SELECT message, metadata FROM task_logs WHERE message LIKE '%script saved%'"
    ).fetchall()
    assert "크롤링 영상" in message and "contents." not in message
    assert json.loads(metadata) == {"content_id": task.content_id}
    run_stage(conn, owner, QueueType.IMAGE)
    run_stage(
        conn,
        owner,
        QueueType.VIDEO,
        StageResult(
            video_path=f"tasks/{task_id}/output.mp4",
            thumbnail_path=f"tasks/{task_id}/thumbnail.jpg",
        ),
    )
    content = contents_repo.get(conn, task.content_id)
    assert (
        content is not None
        and content.type == "video"
        and content.video_path == f"tasks/{task_id}/output.mp4"
    )
    run_stage(conn, owner, QueueType.YOUTUBE, StageResult(youtube_url="https://youtu.be/abc"))
    content = contents_repo.get(conn, task.content_id)
    assert (
        content is not None and content.published and content.youtube_url == "https://youtu.be/abc"
    )
    assert tasks_repo.get(conn, task_id).youtube_url == "https://youtu.be/abc"  # type: ignore[union-attr]
    assert statuses(conn, task_id) == [
        ("schedule", "completed"),
        ("script", "completed"),
        ("image", "completed"),
        ("video", "completed"),
        ("youtube", "completed"),
    ]
    messages = [
        r["message"]
        for r in conn.execute(
            "SELECT message FROM task_logs WHERE action_type = 'complete' ORDER BY id"
        )
    ]
    assert messages[:2] == ["schedule done → script waiting", "script done → image waiting"]


def test_a_youtube_stage_without_a_url_does_not_mark_the_content_published(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, media_mode="upload")
    run_stage(conn, owner, QueueType.SCHEDULE)
    run_stage(conn, owner, QueueType.SCRIPT, StageResult(script_text="{}"))
    run_stage(conn, owner, QueueType.VIDEO)
    run_stage(conn, owner, QueueType.YOUTUBE)
    content_id = tasks_repo.get(conn, task_id).content_id  # type: ignore[union-attr]
    content = contents_repo.get(conn, str(content_id))
    assert content is not None and (content.status, content.published, content.youtube_url) == (
        "completed",
        False,
        None,
    )


def test_upload_mode_skips_the_image_queue(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, media_mode="upload")
    run_stage(conn, owner, QueueType.SCHEDULE)
    run_stage(conn, owner, QueueType.SCRIPT)
    assert statuses(conn, task_id)[-1] == ("video", "waiting")


def test_complete_is_one_transaction(
    workspace: Workspace, conn: Connection, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = add(workspace, conn)
    item = claim(conn, QueueType.SCHEDULE, owner)
    assert item is not None

    def broken(*args: object, **kwargs: object) -> None:
        raise db.PgOperationalError("disk I/O error")

    monkeypatch.setattr(records.logs_repo, "add", broken)
    with pytest.raises(db.OperationalError):
        complete_item(conn, item, StageResult(), POLICY, NOW)
    # Neither the completion nor the next stage's insert survived the failed log write.
    assert statuses(conn, task_id) == [("schedule", "processing")]


def test_transient_failures_use_the_budget_then_fail(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, max_retry=2)
    now = NOW
    outcomes = []
    for _ in range(3):
        item = claim(conn, QueueType.SCHEDULE, owner, now)
        assert item is not None
        outcomes.append(fail_item(conn, item, TransientStageError("503 from API"), POLICY, now))
        now += timedelta(minutes=1)
    assert [type(o) for o in outcomes] == [Retry, Retry, GiveUp]
    assert statuses(conn, task_id) == [("schedule", "failed")]
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.last_error == "503 from API"
    levels = [
        r["level"]
        for r in conn.execute(
            "SELECT level FROM task_logs WHERE action_type IN ('retry', 'fail') ORDER BY id"
        )
    ]
    assert levels == ["warn", "warn", "error"]


def test_permanent_failure_fails_at_once_and_marks_the_content(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn)
    run_stage(conn, owner, QueueType.SCHEDULE)
    run_stage(conn, owner, QueueType.SCRIPT, StageResult(script_text="{}"))
    item = claim(conn, QueueType.IMAGE, owner)
    assert item is not None
    assert fail_item(
        conn, item, PermanentStageError("no crawler configured"), POLICY, NOW
    ) == GiveUp(exhausted=False)
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.content_id is not None
    content = contents_repo.get(conn, task.content_id)
    assert content is not None and (content.status, content.error) == (
        "failed",
        "no crawler configured",
    )


def test_a_stopped_item_is_not_resurrected_by_its_tick(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn)
    item = claim(conn, QueueType.SCHEDULE, owner)
    assert item is not None
    # Someone else (a stop) fails the item while the stage runs.
    with transaction(conn):
        conn.execute(
            "UPDATE task_queue SET status = 'failed', error_message = 'stopped' WHERE id = ?",
            (item.id,),
        )
    assert not complete_item(conn, item, StageResult(), POLICY, NOW)
    assert fail_item(conn, item, TransientStageError("x"), POLICY, NOW) is None
    assert statuses(conn, task_id) == [("schedule", "failed")]


def test_a_recovered_item_claimed_again_is_not_completed_by_the_old_claim(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    add(workspace, conn)
    old = claim(conn, QueueType.SCHEDULE, owner)
    assert old is not None
    with transaction(conn):
        conn.execute("UPDATE task_queue SET status = 'waiting' WHERE id = ?", (old.id,))
    new = claim(conn, QueueType.SCHEDULE, owner)
    assert new is not None and new.claim_token != old.claim_token
    assert not complete_item(conn, old, StageResult(), POLICY, NOW)
    assert complete_item(conn, new, StageResult(), POLICY, NOW)


def recover(workspace: Workspace, conn: Connection, owner: Owner, now=NOW):  # type: ignore[no-untyped-def]
    runner = Runner(workspace, conn, owner, POLICY, lambda: now)
    return recovery.recover_orphans(runner, now)


def test_an_item_of_a_dead_tick_that_started_no_attempt_runs_again_without_a_retry(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn)
    ghost = dead_owner()
    item = claim_next(conn, QueueType.SCHEDULE, ghost, POLICY, NOW)
    assert item is not None
    found = recover(workspace, conn, owner, NOW + timedelta(seconds=1))
    assert [r.item.id for r in found.recovered] == [item.id] and found.adopted == []
    assert "died" in found.recovered[0].reason
    fresh = queue_repo.get(conn, item.id)
    assert fresh is not None
    assert (fresh.status, fresh.retry_count, fresh.crash_count) == (QueueStatus.WAITING, 0, 1)
    log = conn.execute(
        "SELECT * FROM task_logs WHERE task_id = ? AND action_type = 'retry'", (task_id,)
    ).fetchone()
    assert "recovered" in log["message"] and "no retry spent" in log["message"]


def test_the_crash_budget_fails_an_item_lost_too_often_in_a_row(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, max_retry=5)
    for lost in range(1, POLICY.max_crashes + 1):
        item = claim_next(conn, QueueType.SCHEDULE, dead_owner(), POLICY, NOW)
        assert item is not None and item.crash_count == lost - 1
        recover(workspace, conn, owner)
    fresh = queue_repo.for_task(conn, task_id)[0]
    assert (fresh.status, fresh.retry_count, fresh.crash_count) == (QueueStatus.FAILED, 0, 3)
    assert "lost this stage 3 times in a row" in str(fresh.error_message)
    assert "retry.max_crashes" in str(tasks_repo.get(conn, task_id).last_error)  # type: ignore[union-attr]
    # The retry button gives it a fresh crash budget too.
    retry_task(conn, task_id, NOW)
    again = queue_repo.for_task(conn, task_id)[0]
    assert (again.status, again.retry_count, again.crash_count) == (QueueStatus.WAITING, 0, 0)


def test_a_recorded_end_resets_the_crash_budget(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    add(workspace, conn)
    item = claim_next(conn, QueueType.SCHEDULE, dead_owner(), POLICY, NOW)
    assert item is not None
    recover(workspace, conn, owner)
    again = claim(conn, QueueType.SCHEDULE, owner)
    assert again is not None and again.crash_count == 1
    fail_item(conn, again, TransientStageError("flaky"), POLICY, NOW)
    after = queue_repo.get(conn, again.id)
    assert after is not None and (after.retry_count, after.crash_count) == (1, 0)


def test_a_live_tick_keeps_its_items(workspace: Workspace, conn: Connection, owner: Owner) -> None:
    add(workspace, conn)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alive = Owner(owner.host, sleeper.pid, processes.psutil.Process(sleeper.pid).create_time())
        item = claim_next(conn, QueueType.SCHEDULE, alive, POLICY, NOW)
        assert item is not None
        assert recover(workspace, conn, owner, NOW + timedelta(seconds=299)).recovered == []
        # Past its lease, even a live owner is presumed hung and its item recovered.
        assert len(recover(workspace, conn, owner, NOW + timedelta(seconds=301)).recovered) == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_drain_ends_as_a_whole_and_leaves_nothing_it_started_half_done(
    workspace: Workspace, conn: Connection, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two drains side by side (CI saw it on PostgreSQL): the other tick holds the script slot,
    this tick's video thread finds nothing to do anywhere and leaves; then the other tick's
    script ends, and this tick's script thread, still looking, took the next script and left
    its video waiting with no thread to run it. A drain now ends as a whole: once one of its
    threads finds the round idle, none of them claims again; whatever it did claim, it runs
    to the end. The moment is made certain by stepping in at the idle check itself: the other
    tick's script ends just as the video thread finds the round idle."""
    first, second = (add(workspace, conn, t, media_mode="upload") for t in ("first", "second"))
    Worker(Workspace.load(workspace.home), queues=[QueueType.SCHEDULE]).run(drain=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = Owner(owner.host, sleeper.pid, processes.psutil.Process(sleeper.pid).create_time())
        held = claim_next(conn, QueueType.SCRIPT, other, POLICY, utcnow())  # the other tick's
        assert held is not None and held.task_id == first
        video_left = threading.Event()
        real = claim_repo.claimable_exists

        def idle_check(conn_: Connection, now: str, queue_types, slots=None) -> bool:  # type: ignore[no-untyped-def]
            video = threading.current_thread().name.startswith("queue-video")
            if not video and not video_left.is_set():
                return True  # the other threads keep looking until the video one finds it idle
            found = real(conn_, now, queue_types, slots)
            if video and not found and not video_left.is_set():
                other_conn = workspace.connect()  # the other tick's script ends: a slot frees
                try:
                    fail_item(other_conn, held, PermanentStageError("gone"), POLICY, utcnow())
                finally:
                    other_conn.close()
                video_left.set()
            return found

        monkeypatch.setattr(claim_repo, "claimable_exists", idle_check)
        report = Worker(Workspace.load(workspace.home)).run(drain=True, max_seconds=60)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert report.error is None, report.error
    assert video_left.is_set(), "the video thread never found the round idle"
    touched = {p.task_id for p in report.processed}
    for task_id in touched:  # what it took, it took to the end: no stage of it left waiting
        assert all(s != "waiting" for _, s in statuses(conn, task_id)), statuses(conn, task_id)
    monkeypatch.setattr(claim_repo, "claimable_exists", real)
    Worker(Workspace.load(workspace.home)).run(drain=True, max_seconds=60)
    stages = ("schedule", "script", "video", "youtube")
    assert statuses(conn, second) == [(q, "completed") for q in stages]


def test_a_claim_whose_answer_was_lost_keeps_the_round_open_until_it_is_sent_again(
    workspace: Workspace, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim commits but its answer is lost with the connection; the thread sends it again
    under the same token and finds the item it took. Meanwhile the round is busy, not idle: a
    sibling thread that found it idle then would end it, the claim would never be sent again,
    and the script would stay processing under a live worker that never runs it."""
    task_id = add(workspace, conn, "answer lost", media_mode="upload")
    Worker(Workspace.load(workspace.home), queues=[QueueType.SCHEDULE]).run(drain=True)
    sibling_looked = threading.Event()
    real_claim, real_exists = tick_module.claim_next, claim_repo.claimable_exists
    lost: list[int] = []

    def claim_then_lose_the_answer(*args, **kwargs):  # type: ignore[no-untyped-def]
        item = real_claim(*args, **kwargs)
        if item is not None and not lost:
            lost.append(item.id)
            raise db.PgUnreachableError("server closed the connection unexpectedly")
        return item

    def idle_check(*args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        sibling_looked.set()
        return real_exists(*args, **kwargs)

    worker = Worker(Workspace.load(workspace.home))
    # once the lost answer is seen, give the other threads time to look at the round
    monkeypatch.setattr(worker.link, "check", lambda now: sibling_looked.wait(1.5))
    monkeypatch.setattr(tick_module, "claim_next", claim_then_lose_the_answer)
    monkeypatch.setattr(claim_repo, "claimable_exists", idle_check)
    report = worker.run(drain=True, max_seconds=60)
    assert report.error is None, report.error
    assert lost, "no claim was made to lose its answer"
    stages = ("schedule", "script", "video", "youtube")
    assert statuses(conn, task_id) == [(q, "completed") for q in stages]


def test_items_of_another_host_are_recovered_only_after_the_lease(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    add(workspace, conn)
    remote = Owner("some-other-host", 4242, 1.0)
    item = claim_next(conn, QueueType.SCHEDULE, remote, POLICY, NOW)
    assert item is not None
    assert recover(workspace, conn, owner, NOW + timedelta(seconds=100)).recovered == []
    found = recover(workspace, conn, owner, NOW + timedelta(seconds=300))
    assert "lease" in found.recovered[0].reason


@pytest.mark.sqlite_only  # PostgreSQL's column types refuse such a value
def test_an_unreadable_row_is_set_aside_and_the_queue_goes_on(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    bad = add(workspace, conn, "bad", now=NOW - timedelta(seconds=5))
    good = add(workspace, conn, "good")
    with transaction(conn):
        conn.execute("UPDATE task_queue SET retry_count = 'many' WHERE task_id = ?", (bad,))
    item = claim(conn, QueueType.SCHEDULE, owner)
    assert item is not None and item.task_id == good
    [aside] = queue_repo.for_task(conn, bad)  # readable again, for show and the listings
    assert aside.status is QueueStatus.FAILED and aside.retry_count == 0
    assert "retry_count = 'many'" in str(aside.error_message)
    log = conn.execute(
        "SELECT level, message FROM task_logs WHERE task_id = ? AND action_type = 'fail'", (bad,)
    ).fetchone()
    assert log["level"] == "error" and "set aside" in log["message"]


def test_recurring_occurrence_is_enqueued_exactly_once(
    workspace: Workspace, conn: Connection
) -> None:
    task_id = add(workspace, conn, at="2026-11-27 09:00", repeat="daily", tz="Asia/Seoul")
    schedule = schedules_repo.for_task(conn, task_id)[0]
    assert schedule.next_run_at == "2026-11-27 00:00:00"
    due = NOW + timedelta(days=1)
    # Two ticks read the same due schedule; only the first enqueues.
    stale = schedules_repo.get(conn, schedule.id)
    assert stale is not None
    with transaction(conn):
        assert enqueue_occurrence(conn, stale, POLICY, due) is not None
    with transaction(conn):
        assert enqueue_occurrence(conn, stale, POLICY, due) is None
    assert statuses(conn, task_id) == [("schedule", "waiting")]
    fresh = schedules_repo.get(conn, schedule.id)
    assert fresh is not None and fresh.is_active and fresh.next_run_at == "2026-11-28 00:00:00"


def test_the_unique_occurrence_index_backs_the_compare_and_set(
    workspace: Workspace, conn: Connection
) -> None:
    task_id = add(workspace, conn)
    item = queue_repo.for_task(conn, task_id)[0]
    with pytest.raises(db.IntegrityError):
        queue_repo.insert(
            conn,
            task_id=task_id,
            schedule_id=item.schedule_id,
            queue_type=QueueType.SCHEDULE,
            max_retry=3,
            now=to_db(NOW),
            occurrence_at=item.occurrence_at,
        )


def test_downtime_coalesces_missed_runs_and_keeps_the_schedule_alive(
    workspace: Workspace, conn: Connection
) -> None:
    task_id = add(workspace, conn, at="2026-11-27 09:00", repeat="daily", tz="Asia/Seoul")
    four_days_later = NOW + timedelta(days=4, hours=1)
    assert enqueue_due(conn, POLICY, four_days_later) == 1
    assert enqueue_due(conn, POLICY, four_days_later) == 0
    schedule = schedules_repo.for_task(conn, task_id)[0]
    assert schedule.is_active and schedule.next_run_at == "2026-12-01 00:00:00"
    skip = conn.execute("SELECT * FROM task_logs WHERE action_type = 'skip'").fetchone()
    assert skip["message"] == "3 missed occurrence(s) coalesced into this run"


def test_a_due_occurrence_while_a_run_waits_is_coalesced(
    workspace: Workspace, conn: Connection
) -> None:
    task_id = add(workspace, conn, repeat="daily")  # first run now, waiting
    assert enqueue_due(conn, POLICY, NOW + timedelta(days=1)) == 0
    assert statuses(conn, task_id) == [("schedule", "waiting")]
    assert (
        conn.execute("SELECT count(*) FROM task_logs WHERE action_type = 'skip'").fetchone()[0] == 1
    )


def test_an_occurrence_due_while_a_run_starts_is_coalesced_into_it(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    """A daily task's run is still in its schedule stage when the next occurrence comes due
    (the run is late by a whole period). Had a second run been enqueued, the first one's
    schedule stage failing for a moment (a retry) or its tick dying (recovery) would put it
    back beside it: two runs of one task waiting, both to run. The hypothesis state machine
    (tests/test_fuzz.py) found it: the new occurrence joins the run that has not started."""
    task_id = add(workspace, conn, repeat="daily")
    starting = claim(conn, QueueType.SCHEDULE, owner)
    assert starting is not None
    later = NOW + timedelta(days=2)
    assert enqueue_due(conn, POLICY, later) == 0
    fail_item(conn, starting, TransientStageError("busy for a moment"), POLICY, later)
    assert statuses(conn, task_id) == [("schedule", "waiting")]
    [skip] = conn.execute(
        "SELECT message, queue_id FROM task_logs WHERE action_type = 'skip' AND task_id = ?",
        (task_id,),
    ).fetchall()
    assert "coalesced" in skip[0] and skip[1] == starting.id  # the run that took it in
    # and a run that did leave its schedule stage still lets the next one wait its turn
    schedule = schedules_repo.for_task(conn, task_id)[0]
    assert schedule.is_active and schedule.next_run_at is not None
    retried = claim(conn, QueueType.SCHEDULE, owner, later + timedelta(seconds=5))
    assert retried is not None
    assert complete_item(conn, retried, StageResult(), POLICY, later + timedelta(seconds=5))
    assert enqueue_due(conn, POLICY, later + timedelta(days=1)) == 1
    assert statuses(conn, task_id) == [
        ("schedule", "completed"),
        ("script", "waiting"),
        ("schedule", "waiting"),
    ]


def test_two_runs_of_one_task_never_start_side_by_side(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    """With two schedule slots, a second run of a task (two left waiting by an older version)
    still waits while the first is in its schedule stage: they would share one folder."""
    task_id = add(workspace, conn, repeat="daily")
    schedule = schedules_repo.for_task(conn, task_id)[0]
    queue_repo.insert(
        conn,
        task_id=task_id,
        schedule_id=schedule.id,
        queue_type=QueueType.SCHEDULE,
        max_retry=3,
        now=to_db(NOW),
        occurrence_at=to_db(NOW + timedelta(days=1)),
    )
    two = Policy(delays=(5,), max_retry=3, lease_seconds=300, slots=((QueueType.SCHEDULE, 2),))
    first = claim_next(conn, QueueType.SCHEDULE, owner, two, NOW)
    assert first is not None
    assert not claim_repo.claimable_exists(conn, to_db(NOW), {QueueType.SCHEDULE}, dict(two.slots))
    assert claim_next(conn, QueueType.SCHEDULE, owner, two, NOW) is None
    assert complete_item(conn, first, StageResult(), two, NOW)
    assert claim_next(conn, QueueType.SCHEDULE, owner, two, NOW) is None  # now behind its script


def test_a_new_run_waits_while_the_previous_run_is_in_flight(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, repeat="daily")
    run_stage(conn, owner, QueueType.SCHEDULE)  # run 1 now waits in the script queue
    assert enqueue_due(conn, POLICY, NOW + timedelta(days=1)) == 1
    assert claim(conn, QueueType.SCHEDULE, owner, NOW + timedelta(days=1)) is None
    # and a tick does not wait for it as if it could be taken
    later = to_db(NOW + timedelta(days=1))
    assert not claim_repo.claimable_exists(conn, later, {QueueType.SCHEDULE})
    run_stage(conn, owner, QueueType.SCRIPT, StageResult(script_text="{}"), NOW + timedelta(days=1))
    run_stage(conn, owner, QueueType.IMAGE, now=NOW + timedelta(days=1))
    run_stage(conn, owner, QueueType.VIDEO, now=NOW + timedelta(days=1))
    run_stage(conn, owner, QueueType.YOUTUBE, now=NOW + timedelta(days=1))
    assert claim_repo.claimable_exists(conn, later, {QueueType.SCHEDULE})
    assert claim(conn, QueueType.SCHEDULE, owner, NOW + timedelta(days=1)) is not None
    assert ("schedule", "processing") in statuses(conn, task_id)


def test_a_new_run_points_the_old_content_at_its_archived_files(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    task_id = add(workspace, conn, repeat="daily")
    run_stage(conn, owner, QueueType.SCHEDULE)
    run_stage(conn, owner, QueueType.SCRIPT, StageResult(script_text="{}"))
    run_stage(conn, owner, QueueType.IMAGE)
    prefix = f"tasks/{task_id}/"
    run_stage(
        conn,
        owner,
        QueueType.VIDEO,
        StageResult(video_path=prefix + "output.mp4", thumbnail_path=prefix + "thumbnail.jpg"),
    )
    run_stage(conn, owner, QueueType.YOUTUBE)
    first_content = tasks_repo.get(conn, task_id).content_id  # type: ignore[union-attr]
    assert first_content is not None
    enqueue_due(conn, POLICY, NOW + timedelta(days=1))
    folder = f"{prefix}runs/{first_content}"
    run_stage(
        conn,
        owner,
        QueueType.SCHEDULE,
        StageResult(
            archived=Archived(
                folder=folder, moved=("output.mp4", "thumbnail.jpg"), content_id=first_content
            )
        ),
        NOW + timedelta(days=1),
    )
    old = contents_repo.get(conn, first_content)
    assert (
        old is not None
        and old.video_path == f"{folder}/output.mp4"
        and old.thumbnail_path == f"{folder}/thumbnail.jpg"
    )
    assert tasks_repo.get(conn, task_id).content_id is None  # type: ignore[union-attr]
    run_stage(conn, owner, QueueType.SCRIPT, StageResult(script_text="{}"), NOW + timedelta(days=1))
    assert len(contents_repo.list_contents(conn, task_id=task_id, limit=10)) == 2


@pytest.mark.sqlite_only
def test_a_draining_worker_compiles_each_statement_once(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    """SQLite re-prepares a statement on every bind when a bound value decides whether a partial
    index applies (queue_type, status). The claim used to bind the queue type and so compiled
    its query anew for every transition. sqlite_stmt (SQLITE_ENABLE_STMTVTAB, in Debian's and
    most distributions' SQLite) counts re-prepares per cached statement."""
    try:
        conn.execute("SELECT reprep FROM sqlite_stmt").fetchall()
    except db.OperationalError:
        pytest.skip("this SQLite is built without the sqlite_stmt table")
    for n in range(3):
        add(workspace, conn, f"t{n}")
    done = 0
    for queue_type in QueueType:
        item = claim(conn, queue_type, owner)
        while item is not None:
            _, item = complete_and_claim(conn, item, StageResult(), POLICY, NOW, owner)
            done += 1
        assert not claim_repo.claimable_exists(conn, to_db(NOW), {queue_type})
    assert done == 3 * 5
    statements = conn.execute("SELECT sql, reprep, run FROM sqlite_stmt").fetchall()
    hot = [row for row in statements if "task_queue" in row[0] and row[2] > 1]
    assert any("SELECT q.id FROM task_queue" in row[0] for row in hot)  # the claim ran here
    assert [row[0] for row in hot if row[1] > 0] == []


def test_a_paused_daily_task_misses_nothing_twice_and_resumes_from_now(
    workspace: Workspace, conn: Connection
) -> None:
    """pause turns the schedule off (no run while paused); resume turns it on at the first
    occurrence from the moment of resuming, in the schedule's own zone (days missed while paused
    are not made up); a stopped task comes back the same way."""
    policy = Policy()
    task_id = add(workspace, conn, "daily", repeat="daily", at="2026-11-27 09:00", tz="Asia/Seoul")
    assert pause_task(conn, task_id[:8], NOW) == 1
    assert list_tasks(conn)[0].state == "paused"
    three_days = NOW + timedelta(days=3)
    assert enqueue_due(conn, policy, three_days) == 0
    with pytest.raises(UsageError, match="no active schedule"):
        pause_task(conn, task_id, NOW)
    [schedule] = resume_task(conn, task_id, three_days)
    # Resumed on Nov 29 at 21:00 Seoul time: the next 09:00 there is Nov 30.
    assert (schedule.active, schedule.next_run_local) == (True, "2026-11-30 09:00")
    assert list_tasks(conn)[0].state == "waiting"
    with pytest.raises(UsageError, match="its schedules are on"):
        resume_task(conn, task_id, three_days)
    assert enqueue_due(conn, policy, three_days + timedelta(hours=12)) == 1
    # A stop (its waiting run dropped, the schedule off) is resumed the same way.
    stop_task(workspace, conn, task_id, three_days + timedelta(hours=13))
    assert list_tasks(conn)[0].state == "paused"
    [schedule] = resume_task(conn, task_id, three_days + timedelta(days=1))
    assert schedule.active and schedule.next_run_local == "2026-12-01 09:00"


def test_pause_and_resume_are_logged_as_themselves(workspace: Workspace, conn: Connection) -> None:
    """Not as `stop` and `retry`: the log viewer's --action pause / resume finds them."""
    from autoqueue.kinds import ActionType
    from autoqueue.repo import logs as logs_repo

    task_id = add(workspace, conn, "daily", repeat="daily", at="2026-11-27 09:00")
    pause_task(conn, task_id, NOW)
    resume_task(conn, task_id, NOW + timedelta(days=1))
    actions = [
        row[0]
        for row in conn.execute(
            "SELECT action_type FROM task_logs WHERE message LIKE '%paused%' "
            "OR message LIKE '%resumed%' ORDER BY id"
        ).fetchall()
    ]
    assert actions == ["pause", "resume"]
    for action in (ActionType.PAUSE, ActionType.RESUME):
        [entry] = logs_repo.query(conn, logs_repo.LogFilter(task_id=task_id, action=action))
        assert entry.action_type is action


def test_a_finished_once_task_has_nothing_to_resume_and_a_stopped_one_runs_again(
    workspace: Workspace, conn: Connection, owner: Owner
) -> None:
    done = add(workspace, conn, "once", media_mode="upload")
    for queue_type in (QueueType.SCHEDULE, QueueType.SCRIPT, QueueType.VIDEO, QueueType.YOUTUBE):
        item = claim_next(conn, queue_type, owner, Policy(), NOW)
        assert item is not None
        complete_item(
            conn, item, StageResult(script_text="{}", youtube_url="https://youtu.be/x"),
            Policy(), NOW,
        )  # fmt: skip
    with pytest.raises(UsageError, match="finished its run"):
        resume_task(conn, done, NOW)
    stopped = add(workspace, conn, "stopped before it ran")
    stop_task(workspace, conn, stopped, NOW)
    states = {t.id: t.state for t in list_tasks(conn)}
    assert (states[done], states[stopped]) == ("done", "paused")
    [schedule] = resume_task(conn, stopped, NOW + timedelta(minutes=5))
    assert schedule.next_run_at == to_db(NOW + timedelta(minutes=5))
    assert enqueue_due(conn, Policy(), NOW + timedelta(minutes=5)) == 1
