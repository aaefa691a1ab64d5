"""The reliability suite: torture, crashes at every point of a tick, stop with decoys, worker
shutdown. Real processes, real process trees, one real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil
import pytest

from .conftest import run_cli, stage_config, write_config
from .test_e2e import assert_no_overlap_per_queue, journal_events, queue_rows

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and POSIX process names"),
]


def db_value(home: Path, sql: str, *params: object) -> object:
    conn = sqlite3.connect(home / "autoqueue.db")
    try:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


def add(home: Path, *args: str) -> str:
    result = run_cli(home, "add", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def start(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 60, message: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_torture_concurrent_drains_over_many_tasks(home: Path, tmp_path: Path) -> None:
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    tasks = 50
    for n in range(tasks):
        mode = "crawl" if n % 2 else "upload"
        add(
            home,
            f"task {n}",
            "--media-mode",
            mode,
            "--set",
            "sleep_video=0.05",
            "--set",
            "sleep_script=0.02",
        )
    env = {"JOURNAL": str(journal)}
    deadline = time.monotonic() + 240
    procs: list[subprocess.Popen[str]] = []
    while time.monotonic() < deadline:
        procs = [p for p in procs if p.poll() is None or p.returncode != 0]
        for proc in procs:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        while len(procs) < 4:
            procs.append(start(home, "tick", "--drain", "--max-seconds", "10", env=env))
        if (
            db_value(
                home,
                "SELECT count(*) FROM task_queue WHERE queue_type = 'youtube' AND status = 'completed'",
            )
            == tasks
        ):
            break
        time.sleep(0.2)
    for proc in procs:
        proc.wait(timeout=60)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    rows = queue_rows(home)
    assert {r["status"] for r in rows} == {"completed"}
    assert sum(1 for r in rows if r["queue_type"] == "youtube") == tasks
    events = journal_events(journal)
    starts = [e for e in events if e["event"] == "start"]
    ends = {(e["task"], e["stage"]): e for e in events if e["event"] == "end"}
    counts: dict[tuple[object, object], int] = defaultdict(int)
    for event in starts:
        counts[(event["task"], event["stage"])] += 1
    assert set(counts.values()) == {1}, "a stage ran more than once for a task"
    assert len(counts) == tasks * 3 + tasks // 2  # script, video, youtube; image for crawl
    spans = [
        {"queue": e["stage"], "start": e["t"], "end": ends[(e["task"], e["stage"])]["t"]}
        for e in starts
    ]
    assert_no_overlap_per_queue(spans, "start", "end")
    overlapping = sum(
        1
        for a in spans
        for b in spans
        if a["queue"] < b["queue"] and a["start"] < b["end"] and b["start"] < a["end"]
    )
    assert overlapping > 0, "different queues never ran at the same time"
    assert db_value(home, "PRAGMA integrity_check") == "ok"


@pytest.mark.parametrize(
    ("failpoint", "recovered"),
    [
        ("claim:video", False),  # the claim transaction dies: rolled back, nothing to recover
        ("after_stage:video", True),  # the program finished, the tick died before recording it
        ("complete:video", True),  # the completing transaction dies before its commit
    ],
)
def test_a_tick_killed_at_any_point_loses_nothing(
    home: Path, tmp_path: Path, failpoint: str, recovered: bool
) -> None:
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    task_id = add(home, "crash", "--media-mode", "upload")
    env = {"JOURNAL": str(journal)}
    crashed = run_cli(home, "tick", "--drain", env={**env, "AUTOQUEUE_FAILPOINT": failpoint})
    assert crashed.returncode == -signal.SIGKILL
    video = next(r for r in queue_rows(home) if r["queue_type"] == "video")
    assert video["status"] == ("processing" if recovered else "waiting")
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60", env=env)
    assert result.returncode == 0, result.stderr
    assert ("recovered video item" in result.stdout) is recovered
    rows = {r["queue_type"]: r for r in queue_rows(home)}
    assert all(r["status"] == "completed" for r in rows.values()), rows
    assert rows["video"]["retry_count"] == (1 if recovered else 0)
    video_runs = [
        e for e in journal_events(journal) if e["stage"] == "video" and e["event"] == "start"
    ]
    assert len(video_runs) == (2 if recovered else 1)
    assert db_value(home, "SELECT youtube_url FROM tasks WHERE id = ?", task_id)


def test_a_tick_killed_during_a_stage_with_children(home: Path, tmp_path: Path) -> None:
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    add(home, "crash", "--media-mode", "crawl", "--set", "child_image=1")
    tick = start(home, "tick", "--drain", env={"JOURNAL": str(journal)})
    child = wait_for(
        lambda: next((e for e in journal_events(journal) if e["event"] == "child"), None),
        message="the child",
    )
    tick.send_signal(signal.SIGKILL)
    tick.wait()
    assert not dead(child["pid"]) and not dead(child["child_pid"])
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60", env={"JOURNAL": str(journal)})
    assert result.returncode == 0, result.stderr
    assert dead(child["pid"]) and dead(child["child_pid"])
    assert {r["status"] for r in queue_rows(home)} == {"completed"}


def make_decoy(bin_dir: Path, name: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / name
    link.symlink_to(Path(sys.executable).resolve())
    return link


def test_stop_kills_the_task_tree_and_spares_look_alikes(home: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    decoys = {}
    for name in ("ffmpeg", "chrome", "image_crawler"):
        program = make_decoy(bin_dir, name)
        decoys[name] = subprocess.Popen([str(program), "-c", "import time; time.sleep(600)"])
    write_config(home, stage_config(programs={"image": (bin_dir / "image_crawler").as_posix()}))
    journal = tmp_path / "journal.jsonl"
    try:
        for name, decoy in decoys.items():
            assert psutil.Process(decoy.pid).name() == name
        task_id = add(
            home, "stop me", "--media-mode", "crawl", "--repeat", "daily", "--set", "child_image=1"
        )
        tick = start(home, "tick", "--drain", env={"JOURNAL": str(journal)})
        child = wait_for(
            lambda: next((e for e in journal_events(journal) if e["event"] == "child"), None),
            message="the crawler's child",
        )
        assert psutil.Process(child["pid"]).name() == "image_crawler"
        result = run_cli(home, "stop", task_id, "--json")
        assert result.returncode == 0, result.stderr
        stopped = json.loads(result.stdout)
        assert stopped["stopped_processing"] == 1 and stopped["deactivated_schedules"] == 1
        assert {p["pid"] for p in stopped["killed_processes"]} == {child["pid"], child["child_pid"]}
        assert dead(child["pid"]) and dead(child["child_pid"])
        for name, decoy in decoys.items():
            assert decoy.poll() is None, f"stop killed the user's {name}"
        _, err = tick.communicate(timeout=60)
        assert tick.returncode == 0, err
        image = next(r for r in queue_rows(home) if r["queue_type"] == "image")
        assert image["status"] == "failed"
        assert image["error_message"] in ("stopped by the user", "사용자가 작업을 중지했습니다")
        assert not any(r["queue_type"] == "video" for r in queue_rows(home)), (
            "the stopped run went on"
        )
        assert (
            db_value(home, "SELECT is_active FROM task_schedules WHERE task_id = ?", task_id) == 0
        )
        log = json.loads(
            str(db_value(home, "SELECT metadata FROM task_logs WHERE action_type = 'stop'"))
        )
        assert {p["pid"] for p in log["killedProcesses"]} == {child["pid"], child["child_pid"]}
    finally:
        for decoy in decoys.values():
            decoy.kill()
            decoy.wait()


def test_stop_with_nothing_running_still_deactivates_the_schedules(home: Path) -> None:
    write_config(home, stage_config())
    task_id = add(home, "later", "--at", "2099-01-01 09:00", "--repeat", "weekly")
    result = run_cli(home, "stop", task_id)
    assert result.returncode == 0, result.stderr
    assert (
        "stopped 0 processing item(s), deleted 0 waiting item(s), deactivated 1 schedule(s)"
        in result.stdout
    )
    assert "no process of this task was running" in result.stdout
    assert db_value(home, "SELECT is_active FROM task_schedules") == 0


def test_stop_speaks_korean_when_asked(home: Path) -> None:
    write_config(home, stage_config(top='language = "ko"'))
    task_id = add(home, "한국어")
    assert run_cli(home, "stop", task_id).returncode == 0
    assert db_value(home, "SELECT last_error FROM tasks") == "사용자가 작업을 중지했습니다"
    assert (
        db_value(home, "SELECT message FROM task_logs WHERE action_type = 'stop'")
        == "🛑 사용자에 의해 작업이 중지되었습니다"
    )
    assert task_id


def test_worker_finishes_the_running_stage_on_sigterm(home: Path, tmp_path: Path) -> None:
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    add(home, "graceful", "--media-mode", "upload", "--set", "sleep_video=1.5")
    worker = start(home, "worker", "--grace", "30", env={"JOURNAL": str(journal)})
    wait_for(
        lambda: any(e["stage"] == "video" for e in journal_events(journal)),
        message="the video stage",
    )
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    rows = {r["queue_type"]: r for r in queue_rows(home)}
    assert rows["video"]["status"] == "completed"
    assert rows["youtube"]["status"] == "waiting"  # no new claims after the signal
    assert db_value(home, "SELECT locked_by FROM scheduler_lock") is None


def test_worker_requeues_a_stage_that_outlives_the_grace_period(home: Path, tmp_path: Path) -> None:
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    add(home, "slow", "--media-mode", "upload", "--set", "sleep_video=120")
    worker = start(home, "worker", "--grace", "1", env={"JOURNAL": str(journal)})
    event = wait_for(
        lambda: next((e for e in journal_events(journal) if e["stage"] == "video"), None),
        message="video",
    )
    began = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert time.monotonic() - began < 20
    assert dead(event["pid"])
    video = next(r for r in queue_rows(home) if r["queue_type"] == "video")
    assert (video["status"], video["retry_count"]) == ("waiting", 0)
    assert db_value(home, "SELECT locked_by FROM scheduler_lock") is None


def test_the_heartbeat_keeps_a_long_stage_from_being_taken_for_dead(
    home: Path, tmp_path: Path
) -> None:
    """With a 2 s lease, a 4 s stage would be recovered by a tick on another host; the heartbeat
    (every 0.5 s) keeps renewing the lease, so it never is."""
    from autoqueue import engine
    from autoqueue.repo.queue import Owner
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    write_config(home, stage_config(top="[lease]\nseconds = 2\nheartbeat = 0.5"))
    journal = tmp_path / "journal.jsonl"
    add(home, "long", "--media-mode", "upload", "--set", "sleep_video=4")
    tick = start(home, "tick", "--drain", env={"JOURNAL": str(journal)})
    wait_for(lambda: any(e["stage"] == "video" for e in journal_events(journal)), message="video")
    conn = Workspace.load(home).connect()
    elsewhere = Owner("another-host", 1, 1.0)
    policy = engine.Policy(lease_seconds=2)
    leases = set()
    try:
        while tick.poll() is None:
            assert engine.recover_orphans(conn, elsewhere, policy, utcnow()) == []
            lease = conn.execute(
                "SELECT lease_expires_at FROM task_queue WHERE status = 'processing'"
            ).fetchone()
            if lease is not None:
                leases.add(lease[0])
            time.sleep(0.3)
    finally:
        conn.close()
    assert tick.returncode == 0
    assert len(leases) >= 3, "the lease was not renewed"
    assert {r["status"] for r in queue_rows(home)} == {"completed"}
