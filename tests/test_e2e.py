"""End to end: real `autoqueue tick` processes, concurrent ticks, racing claimers, a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autoqueue.tasks.add import AddRequest

from .conftest import PROGRAMS, add_many, has_db, open_db, run_cli, stage_config, write_config
from .helpers.database import queue_rows
from .helpers.journal import assert_no_overlap_per_queue, journal_events


def add_tasks(home: Path, count: int, *extra: str) -> list[str]:
    if not has_db(home):
        assert run_cli(home, "init").returncode == 0
    ids = []
    for n in range(count):
        result = run_cli(
            home, "add", f"영상 {n}", "--media-mode", "crawl" if n % 2 else "upload", *extra
        )
        assert result.returncode == 0, result.stderr
        ids.append(result.stdout.strip())
    return ids


@pytest.mark.slow
def test_one_cron_tick_moves_a_fresh_task_through_every_stage(home: Path) -> None:
    write_config(home, stage_config())
    [task_id] = add_tasks(home, 1, "--media-mode", "crawl")
    result = run_cli(home, "tick")
    assert result.returncode == 0, result.stderr
    rows = [(r["queue_type"], r["status"]) for r in queue_rows(home)]
    assert rows == [(q, "completed") for q in ("schedule", "script", "image", "video", "youtube")]
    assert f"youtube  {task_id} completed" in result.stdout


@pytest.mark.slow
def test_racing_claimers_never_hold_two_items_of_one_queue(home: Path, tmp_path: Path) -> None:
    """Invariant 1 holds in the database itself, with no scheduler lock to help."""
    write_config(home, stage_config())
    add_many(
        home,
        [
            AddRequest(title=f"영상 {n}", media_mode="crawl" if n % 2 else "upload")
            for n in range(15)
        ],
    )
    journal = tmp_path / "claims.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    claimers = [
        subprocess.Popen(
            [sys.executable, str(PROGRAMS / "claimer.py"), str(home), str(journal), "60"], env=env
        )
        for _ in range(4)
    ]
    for claimer in claimers:
        assert claimer.wait(timeout=120) == 0
    events = journal_events(journal)
    assert all(e["ok"] for e in events)
    assert all(e["processing_seen"] == 1 for e in events)
    assert len({e["pid"] for e in events}) > 1, "the claimers did not race"
    items = [e["item"] for e in events]
    assert len(items) == len(set(items)), "an item was claimed twice"
    assert_no_overlap_per_queue(events, "start", "end")
    rows = queue_rows(home)
    assert {r["status"] for r in rows} == {"completed"}
    assert sum(1 for r in rows if r["queue_type"] == "youtube") == 15


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.slow
def test_a_vanished_attempt_has_its_orphans_killed_and_runs_again(
    home: Path, tmp_path: Path
) -> None:
    """The tick and the attempt's supervisor are both SIGKILLed (what a crash of the machine's
    OOM killer might do), leaving the stage program and its child running with no one to record
    them. The next tick kills those orphans (found by the attempt's token) and runs the stage
    again, without spending a retry."""
    write_config(home, stage_config())
    journal = tmp_path / "journal.jsonl"
    [task_id] = add_tasks(
        home, 1, "--media-mode", "upload", "--set", "child_video=1", "--set", "child_seconds=60"
    )
    env = {**os.environ, "JOURNAL": str(journal)}
    tick = subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    child_pid = None
    while time.monotonic() < deadline and child_pid is None:
        child_pid = next(
            (e["child_pid"] for e in journal_events(journal) if e.get("event") == "child"), None
        )
        time.sleep(0.1)
    assert child_pid is not None, "the video stage never started its child"
    start = next(
        e for e in journal_events(journal) if e["stage"] == "video" and e["event"] == "start"
    )
    stage_pid, supervisor_pid = start["pid"], start["ppid"]
    os.kill(tick.pid, signal.SIGKILL)
    os.kill(supervisor_pid, signal.SIGKILL)
    tick.wait()
    assert psutil.pid_exists(stage_pid) and psutil.pid_exists(child_pid)  # orphans still running
    # The next tick must not wait for a lease: the owner is dead on this host.
    began = time.monotonic()
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60", env={"JOURNAL": str(journal)})
    assert time.monotonic() - began < 30
    assert result.returncode == 0, result.stderr
    assert "recovered video item" in result.stdout
    for pid in (stage_pid, child_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    video_starts = [
        e for e in journal_events(journal) if e["stage"] == "video" and e["event"] == "start"
    ]
    assert len(video_starts) == 2  # the vanished attempt, then the rerun
    rows = {r["queue_type"]: r for r in queue_rows(home)}
    assert rows["video"]["status"] == "completed"
    assert (rows["video"]["retry_count"], rows["video"]["crash_count"]) == (0, 0)
    assert rows["youtube"]["status"] == "completed"
    conn = open_db(home)
    lost = conn.execute(
        "SELECT message FROM task_logs WHERE task_id = ? AND message LIKE '%no retry spent%'",
        (task_id,),
    ).fetchone()
    conn.close()
    assert "left no record" in lost[0] and "lost 1/3" in lost[0]
    assert f"(pid {stage_pid})" in lost[0] and f"(pid {child_pid})" in lost[0]


def test_logs_follow_prints_new_rows_as_they_come(home: Path) -> None:
    assert run_cli(home, "init").returncode == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "logs", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        time.sleep(1.0)
        assert run_cli(home, "add", "따라가기").returncode == 0
        first = json.loads(follower.stdout.readline()) if follower.stdout else {}
        assert first["message"] == "task added: 따라가기"
    finally:
        follower.terminate()
        follower.wait(timeout=10)
