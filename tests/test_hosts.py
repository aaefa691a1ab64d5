"""Several hosts on one queue: workers with different host identities (``AUTOQUEUE_HOST``) on
one database, per-queue concurrency enforced by the database, a dead host's work finished by the
others after its lease, the leader's duties failing over, ``stop`` across hosts, ``--queues``,
the home identity, and ``db copy`` from SQLite to PostgreSQL. Real worker processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autoqueue.tasks.add import AddRequest
from autoqueue.tasks.control import stop_task

from .conftest import add_many, open_db, run_cli, stage_config, write_config
from .helpers.database import add_mixed, db_value, logged, queue_rows
from .helpers.journal import event, journal_events, starts_per_stage
from .helpers.processes import dead, start, wait_for
from .pgserver import PgServer

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and POSIX process names"),
]


def host(name: str, journal: Path) -> dict[str, str]:
    return {"AUTOQUEUE_HOST": name, "JOURNAL": str(journal)}


def max_overlap(events: list[dict[str, object]], queue: str) -> int:
    """The most items of ``queue`` whose stage programs ran at the same moment."""
    spans = sorted(
        (float(s["t"]), float(e["t"]))  # type: ignore[arg-type]
        for s, e in _pairs(events)
        if s["stage"] == queue
    )
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _pairs(events: list[dict[str, object]]) -> list[tuple[dict[str, object], dict[str, object]]]:
    begun: dict[int, dict[str, object]] = {}
    pairs = []
    for entry in events:
        if entry["event"] == "start":
            begun[int(entry["pid"])] = entry  # type: ignore[arg-type]
        elif entry["event"] == "end" and int(entry["pid"]) in begun:  # type: ignore[arg-type]
            pairs.append((begun.pop(int(entry["pid"])), entry))  # type: ignore[arg-type]
    return pairs


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def all_completed(home: Path, count: int) -> bool:
    rows = queue_rows(home)
    done = [r for r in rows if r["queue_type"] == "youtube" and r["status"] == "completed"]
    return len(done) == count


@pytest.mark.slow
def test_three_hosts_share_the_queue_and_the_database_holds_each_limit(
    home: Path, tmp_path: Path
) -> None:
    """Three workers as three hosts over 50 tasks, video allowed two at a time: every stage
    runs once per task, no queue ever has more items running than its limit, the work is
    spread over the hosts, and only one of them enqueued and recovered (the leader)."""
    write_config(home, stage_config(top="[queues.video]\nconcurrency = 2"))
    journal = tmp_path / "journal.jsonl"
    tasks = 50
    add_mixed(home, tasks, sleep_video=0.2)
    procs = [start(home, "worker", env=host(name, journal)) for name in ("a", "b", "c")]
    try:
        wait_for(lambda: all_completed(home, tasks), timeout=240, message="every task")
    finally:
        stop_all(procs)
    for proc in procs:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    events = journal_events(journal)
    assert set(starts_per_stage(journal).values()) == {1}
    assert len(starts_per_stage(journal)) == tasks * 3 + tasks // 2  # image only for crawl
    for queue in ("script", "image", "youtube"):
        assert max_overlap(events, queue) == 1, queue
    assert max_overlap(events, "video") == 2  # the limit, reached and never passed
    hosts = Counter(str(r["owner_host"]) for r in queue_rows(home))
    assert len(hosts) >= 2, hosts  # the work was spread
    assert {r["retry_count"] for r in queue_rows(home)} == {0}


@pytest.mark.slow
def test_a_dead_host_s_item_is_finished_by_another_after_its_lease(
    home: Path, tmp_path: Path
) -> None:
    """SIGKILL every process of host a (worker, supervisor, stage program) in the middle of a
    stage: host b leaves the item alone while a's lease holds (it cannot see a's processes),
    then runs it again once the lease has run out."""
    write_config(home, stage_config(top="[lease]\nseconds = 4\nheartbeat = 0.5"))
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home,
        [AddRequest(title="moves host", media_mode="upload", settings=["gate_video=1"])],
    )
    first = start(home, "worker", env=host("a", journal))
    began = wait_for(lambda: event(journal, "start", "video"), message="the video stage on host a")
    tree = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
    for proc in tree:
        proc.send_signal(signal.SIGKILL)
    first.communicate()
    killed_at = time.monotonic()
    # SIGKILL is delivered asynchronously: on a busy machine the stage program can still be
    # running for a moment after the signal was sent (a CI run saw it).
    wait_for(lambda: dead(int(began["pid"])), timeout=10, message="the stage program's death")  # type: ignore[arg-type]
    second = start(home, "worker", env=host("b", journal))
    try:
        wait_for(
            lambda: (
                len(
                    [
                        e
                        for e in journal_events(journal)
                        if e["event"] == "start" and e["stage"] == "video"
                    ]
                )
                == 2
            ),
            timeout=60,
            message="the video stage again, on host b",
        )
        assert time.monotonic() - killed_at >= 3  # not before host a's lease ran out
        (home / "tasks" / task_id / ".gate_video").touch()
        wait_for(lambda: all_completed(home, 1), timeout=60, message="the task")
    finally:
        stop_all([second])
    rows = {r["queue_type"]: r for r in queue_rows(home)}
    assert rows["video"]["owner_host"] == "b" and rows["video"]["retry_count"] == 0
    assert logged(home, "SELECT 1 FROM task_logs WHERE message LIKE '%lease of tick a:%expired%'")


@pytest.mark.slow
def test_when_the_leader_dies_another_host_takes_over_the_schedules(
    home: Path, tmp_path: Path
) -> None:
    """The leader enqueues due schedules; killed, its lock runs out and a follower takes the
    duty over: the next occurrence is enqueued once, by the new leader."""
    write_config(home, stage_config(top="[lease]\nseconds = 3\nheartbeat = 0.5"))
    assert run_cli(home, "init").returncode == 0
    journal = tmp_path / "journal.jsonl"
    leader = start(home, "worker", env=host("a", journal))
    wait_for(
        lambda: str(db_value(home, "SELECT locked_by FROM scheduler_lock") or "").startswith("a:"),
        message="host a to lead",
    )
    follower = start(home, "worker", env=host("b", journal))
    time.sleep(1.5)
    assert str(db_value(home, "SELECT locked_by FROM scheduler_lock")).startswith("a:")
    leader.send_signal(signal.SIGKILL)
    leader.communicate()
    in_a_few_seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8))
    result = run_cli(
        home,
        "add",
        "every day",
        "--at",
        in_a_few_seconds,
        "--tz",
        "UTC",
        "--repeat",
        "daily",
        "--media-mode",
        "upload",
    )
    assert result.returncode == 0, result.stderr
    task_id = result.stdout.strip()
    try:
        wait_for(
            lambda: str(db_value(home, "SELECT locked_by FROM scheduler_lock") or "").startswith(
                "b:"
            ),
            timeout=30,
            message="host b to lead",
        )
        wait_for(lambda: all_completed(home, 1), timeout=90, message="the scheduled run")
    finally:
        stop_all([follower])
    schedule_items = [r for r in queue_rows(home) if r["queue_type"] == "schedule"]
    assert len(schedule_items) == 1 and schedule_items[0]["task_id"] == task_id
    assert schedule_items[0]["owner_host"] == "b"
    next_run = db_value(home, "SELECT next_run_at FROM task_schedules")
    assert str(next_run) > in_a_few_seconds  # moved on to tomorrow's occurrence


def test_stop_from_another_host_reaches_the_stage_within_seconds(
    home: Path, tmp_path: Path
) -> None:
    """`autoqueue stop` on host b of a task whose stage runs on host a: b cannot kill a's
    processes and says so; a's worker sees the item stopped and kills its tree itself."""
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home, [AddRequest(title="far away", media_mode="upload", settings=["gate_video=1"])]
    )
    worker = start(home, "worker", env=host("a", journal))
    try:
        began = wait_for(lambda: event(journal, "start", "video"), message="the video stage")
        result = run_cli(home, "stop", task_id, "--json", env={"AUTOQUEUE_HOST": "b"})
        stopped_at = time.monotonic()
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["killed_processes"] == []
        assert any("runs on a" in line for line in answer["not_killed"])
        wait_for(lambda: dead(int(began["pid"])), timeout=10, message="host a to kill the stage")  # type: ignore[arg-type]
        assert time.monotonic() - stopped_at < 5
    finally:
        stop_all([worker])
    rows = {r["queue_type"]: r["status"] for r in queue_rows(home)}
    assert rows["video"] == "failed"


def test_a_stage_stopped_from_another_host_whose_supervisor_then_dies_is_killed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped on host b, and its supervisor SIGKILLed on host a (the OOM killer) before a's
    worker looked at the item again: the worker finds the attempt ended without a record and the
    item stopped, and kills what the supervisor can no longer kill (its program)."""
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home, [AddRequest(title="far away", media_mode="upload", settings=["gate_video=1"])]
    )
    worker = start(home, "worker", env=host("a", journal))
    try:
        began = wait_for(lambda: event(journal, "start", "video"), message="the video stage")
        # The program runs before its supervisor's pid is recorded (a moment later, by the tick).
        supervisor = int(
            wait_for(
                lambda: db_value(
                    home, "SELECT stage_pid FROM task_queue WHERE status = 'processing'"
                ),
                message="the supervisor's pid recorded",
            )
        )
        monkeypatch.setenv("AUTOQUEUE_HOST", "b")
        workspace = Workspace.load(home)
        conn = workspace.connect()
        try:
            stopped = stop_task(workspace, conn, task_id, utcnow())
        finally:
            conn.close()
        psutil.Process(supervisor).kill()
        stopped_at = time.monotonic()
        assert stopped.killed_processes == [] and stopped.not_killed
        wait_for(lambda: dead(int(began["pid"])), timeout=10, message="host a to kill the stage")  # type: ignore[arg-type]
        assert time.monotonic() - stopped_at < 5
    finally:
        stop_all([worker])
    rows = {r["queue_type"]: r["status"] for r in queue_rows(home)}
    assert rows["video"] == "failed"


def test_a_worker_takes_only_its_queues(home: Path, tmp_path: Path) -> None:
    """`--queues video` on one host and the rest on another: each stage ran where it was
    sent."""
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    add_many(home, [AddRequest(title=f"t{n}", media_mode="upload") for n in range(3)])
    procs = [
        start(home, "worker", "--queues", "video", env=host("render", journal)),
        start(home, "worker", "--queues", "schedule,script,youtube", env=host("office", journal)),
    ]
    try:
        wait_for(lambda: all_completed(home, 3), timeout=120, message="every task")
    finally:
        stop_all(procs)
    where = defaultdict(set)
    for row in queue_rows(home):
        where[row["queue_type"]].add(row["owner_host"])
    assert where["video"] == {"render"}
    assert where["script"] == where["youtube"] == where["schedule"] == {"office"}


def test_a_worker_refuses_a_home_that_is_not_the_database_s(
    home: Path, tmp_path: Path, backend: str
) -> None:
    write_config(home, stage_config())
    assert run_cli(home, "init").returncode == 0
    other = tmp_path / "other-home"
    other.mkdir()
    write_config(other, stage_config())
    db_args = [] if backend == "postgresql" else ["--db", str(home / "autoqueue.db")]
    result = subprocess.run(
        [sys.executable, "-m", "autoqueue", "--home", str(other), *db_args, "tick", "--drain"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not the one database" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    # Given the home's identity (a shared folder mounted on another host), it runs.
    (other / "autoqueue.id").write_text((home / "autoqueue.id").read_text())
    again = subprocess.run(
        [sys.executable, "-m", "autoqueue", "--home", str(other), *db_args, "tick", "--drain"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr


@pytest.mark.postgresql_only
@pytest.mark.slow
def test_db_copy_moves_a_sqlite_home_to_postgresql(
    home: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite home with history (completed runs, a failure, logs, contents) copied into an
    empty PostgreSQL database: every row is there, the counts and checksums match, and the
    queue goes on from it; a second copy into it is refused."""
    monkeypatch.delenv("AUTOQUEUE_DB")
    write_config(home, stage_config(max_retry=0))
    add_many(home, [AddRequest(title=f"t{n}", media_mode="upload") for n in range(3)])
    add_many(home, [AddRequest(title="broken", settings=["fail_script=permanent"])])
    assert run_cli(home, "tick", "--drain").returncode == 0
    sqlite_rows = queue_rows(home)
    result = run_cli(home, "db", "copy", "--to", pg_url, "--json")
    assert result.returncode == 0, result.stderr
    copied = json.loads(result.stdout)
    assert copied["rows"]["task_queue"] == len(sqlite_rows)
    assert copied["rows"]["task_logs"] > 20
    monkeypatch.setenv("AUTOQUEUE_DB", pg_url)
    pg_rows = queue_rows(home)
    assert [dict(r) for r in pg_rows] == [dict(r) for r in sqlite_rows]
    # The queue goes on: a new task on PostgreSQL gets the next ids and runs.
    [new] = add_many(home, [AddRequest(title="after the move", media_mode="upload")])
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert max(r["id"] for r in queue_rows(home)) > max(r["id"] for r in sqlite_rows)
    assert all_completed(home, 4)
    conn = open_db(home)
    try:
        assert conn.execute("SELECT count(*) FROM tasks WHERE id = ?", (new,)).fetchone()[0] == 1
    finally:
        conn.close()
    monkeypatch.delenv("AUTOQUEUE_DB")
    refused = run_cli(home, "db", "copy", "--to", pg_url)
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_concurrency_lets_one_worker_run_two_items_of_a_queue(home: Path, tmp_path: Path) -> None:
    """`[queues.video] concurrency = 2`: one drain runs two video items at once (two threads,
    two slots), never three."""
    write_config(home, stage_config(top="[queues.video]\nconcurrency = 2"))
    journal = tmp_path / "journal.jsonl"
    add_many(
        home,
        [
            AddRequest(title=f"t{n}", media_mode="upload", settings=["sleep_video=1"])
            for n in range(4)
        ],
    )
    result = run_cli(home, "tick", "--drain", env={"JOURNAL": str(journal)})
    assert result.returncode == 0, result.stderr
    assert all_completed(home, 4)
    assert max_overlap(journal_events(journal), "video") == 2


# -- the database going away -------------------------------------------------------------------


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PgServer]:
    """A PostgreSQL server of the test's own, which it may stop and start again (the session's
    server serves the other tests), with an empty database in AUTOQUEUE_DB."""
    folder = Path(tempfile.mkdtemp(prefix="autoqueue-pg-outage-"))
    folder.chmod(0o755)
    server = PgServer(folder)
    server.start()
    try:
        server.create_database("outage")
        monkeypatch.setenv("AUTOQUEUE_DB", server.url("outage"))
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_logged(home: Path, log: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """A worker whose stderr goes to ``log``, to be read while it runs."""
    with log.open("w", encoding="utf-8") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def said(log: Path, words: str) -> bool:
    return words in log.read_text(encoding="utf-8")


@pytest.mark.postgresql_only
def test_a_worker_rides_out_a_database_restart(
    home: Path, tmp_path: Path, own_server: PgServer
) -> None:
    """The server stops while a stage runs, the stage ends while it is down, and the server
    comes back: the worker kept following the attempt, said once that the database went and
    once that it is back, and recorded the stage's end exactly once (no retry, no rerun)."""
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home, [AddRequest(title="outage", media_mode="upload", settings=["gate_video=1"])]
    )
    log = tmp_path / "worker.err"
    worker = start_logged(home, log, "worker", env=host("a", journal))
    try:
        wait_for(lambda: event(journal, "start", "video"), message="the video stage")
        own_server.halt()
        wait_for(lambda: said(log, "cannot be reached"), timeout=20, message="the outage line")
        (home / "tasks" / task_id / ".gate_video").touch()  # the stage ends while it is down
        wait_for(lambda: event(journal, "end", "video"), message="the stage's end")
        time.sleep(3)
        assert worker.poll() is None, log.read_text(encoding="utf-8")
        own_server.resume()
        wait_for(lambda: said(log, "is back"), timeout=30, message="the line saying it is back")
        wait_for(lambda: all_completed(home, 1), timeout=60, message="the task")
    finally:
        stop_all([worker])
    assert worker.returncode == 0, log.read_text(encoding="utf-8")
    lines = log.read_text(encoding="utf-8").strip().splitlines()
    assert lines[2:] == ["stopping: no stage is running"], lines  # (the test's SIGTERM)
    assert lines[0].startswith("warning: the database cannot be reached (") and "600 s" in lines[0]
    assert lines[1].startswith("warning: the database is back, after")
    assert set(starts_per_stage(journal).values()) == {1}
    rows = queue_rows(home)
    assert {r["status"] for r in rows} == {"completed"} and {r["retry_count"] for r in rows} == {0}
    completions = logged(
        home,
        "SELECT count(*) FROM task_logs WHERE queue_type = 'video' AND action_type = 'complete'",
    )
    assert completions[0][0] == 1


@pytest.mark.postgresql_only
def test_a_worker_gives_up_after_the_outage_budget(
    home: Path, tmp_path: Path, own_server: PgServer
) -> None:
    """`[worker] outage = 2`: a server that stays away longer ends the worker, exit 1, with
    one readable line after the one that said the database went; the stage runs on under its
    supervisor (the next worker adopts it)."""
    write_config(home, stage_config(top="[worker]\noutage = 2"))
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home, [AddRequest(title="gone", media_mode="upload", settings=["gate_video=1"])]
    )
    log = tmp_path / "worker.err"
    worker = start_logged(home, log, "worker", env=host("a", journal))
    try:
        began = wait_for(lambda: event(journal, "start", "video"), message="the video stage")
        own_server.halt()
        worker.communicate(timeout=60)
        assert worker.returncode == 1
        assert not dead(int(began["pid"]))  # type: ignore[arg-type]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        (home / "tasks" / task_id / ".gate_video").touch()
        own_server.resume()
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("warning: the database cannot be reached")
    assert lines[1].startswith("error: the database could not be reached for 2 s ([worker] outage)")


def test_a_worker_restarted_on_the_same_host_recovers_its_predecessor_s_items_at_once(
    home: Path, tmp_path: Path
) -> None:
    """Host a's worker is SIGKILLed mid-stage (its attempt's supervisor lives on) while host b
    leads with a 300 s lease. The worker started again on host a does not lead, yet it sees
    the dead predecessor (same host, its pid and start time gone) and adopts the attempt within
    seconds, not after the lease; the stage ran once."""
    write_config(home, stage_config(top="[lease]\nseconds = 300\nheartbeat = 1"))
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_many(
        home, [AddRequest(title="restart", media_mode="upload", settings=["gate_video=1"])]
    )
    leader = start(home, "worker", "--queues", "youtube", env=host("b", journal))
    procs = [leader]
    try:
        wait_for(
            lambda: str(db_value(home, "SELECT locked_by FROM scheduler_lock") or "").startswith(
                "b:"
            ),
            message="host b to lead",
        )
        first = start(home, "worker", env=host("a", journal))
        procs.append(first)
        began = wait_for(lambda: event(journal, "start", "video"), message="the video stage")
        first.send_signal(signal.SIGKILL)
        first.communicate()
        assert not dead(int(began["pid"]))  # type: ignore[arg-type]
        restarted = time.monotonic()
        second = start(home, "worker", env=host("a", journal))
        procs.append(second)
        adopted = "SELECT 1 FROM task_logs WHERE message LIKE ?"
        wait_for(
            lambda: logged(home, adopted, f"%adopted: its tick a:{first.pid} died%"),
            timeout=30,
            message="host a's new worker to adopt the attempt",
        )
        assert time.monotonic() - restarted < 20  # seconds, not the 300 s lease
        assert str(db_value(home, "SELECT locked_by FROM scheduler_lock")).startswith("b:")
        (home / "tasks" / task_id / ".gate_video").touch()
        wait_for(lambda: all_completed(home, 1), timeout=60, message="the task")
    finally:
        stop_all(procs)
    rows = {r["queue_type"]: r for r in queue_rows(home)}
    assert rows["video"]["owner_host"] == "a" and rows["video"]["owner_pid"] == second.pid
    assert rows["video"]["retry_count"] == 0 and rows["video"]["crash_count"] == 0
    assert starts_per_stage(journal)[(task_id, "video")] == 1
