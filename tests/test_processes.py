"""Process control with real process trees: hold-then-release, identity, tree kills."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autoqueue import processes

SLEEP_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def test_a_spawned_program_runs_nothing_until_released(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
    popen, info = processes.spawn(argv, cwd=tmp_path, env=os.environ)
    time.sleep(0.5)
    assert not marker.exists()
    assert info.pid == popen.pid and info.started > 0
    assert info.name == Path(sys.executable).name
    processes.release(popen)
    assert popen.wait(timeout=30) == 0
    assert marker.read_text() == "x"


def test_an_abandoned_program_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    popen, _ = processes.spawn(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"], cwd=tmp_path, env=os.environ
    )
    processes.abandon(popen)
    assert popen.returncode == 0 and not marker.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="exec keeps the pid only on POSIX")
def test_the_recorded_identity_is_the_program_itself(tmp_path: Path) -> None:
    popen, info = processes.spawn(
        [sys.executable, "-c", "import os; print(os.getpid())"], cwd=tmp_path, env=os.environ
    )
    processes.release(popen)
    assert popen.stdout is not None
    assert int(popen.stdout.read()) == info.pid
    popen.wait(timeout=30)


def test_a_program_that_cannot_start_exits_65_with_the_reason(tmp_path: Path) -> None:
    popen, _ = processes.spawn(["surely-not-installed-anywhere"], cwd=tmp_path, env=os.environ)
    processes.release(popen)
    assert popen.stderr is not None
    err = popen.stderr.read()
    assert popen.wait(timeout=30) == 65
    assert b"cannot start 'surely-not-installed-anywhere'" in err


def test_kill_tree_kills_the_program_and_its_children(tmp_path: Path) -> None:
    popen, info = processes.spawn(
        [sys.executable, "-c", SLEEP_WITH_CHILD], cwd=tmp_path, env=os.environ
    )
    processes.release(popen)
    assert popen.stdout is not None
    child_pid = int(popen.stdout.readline())
    killed = processes.kill_tree(info.pid, info.started, grace=5)
    assert {p.pid for p in killed} == {info.pid, child_pid}
    popen.wait(timeout=10)
    assert not processes.is_alive(child_pid, None)


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
def test_kill_tree_finds_orphaned_grandchildren_by_session(tmp_path: Path) -> None:
    # The program starts a child and exits at once: the child is re-parented, not a child any more.
    script = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
    )
    popen, info = processes.spawn([sys.executable, "-c", script], cwd=tmp_path, env=os.environ)
    processes.release(popen)
    assert popen.stdout is not None
    orphan = int(popen.stdout.readline())
    popen.wait(timeout=10)
    assert processes.is_alive(orphan, None)
    killed = processes.kill_tree(info.pid, info.started, grace=5)
    assert orphan in {p.pid for p in killed}
    assert not processes.is_alive(orphan, None)


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        started = psutil.Process(bystander.pid).create_time()
        # Same pid, different start time: some other program now has the number.
        assert processes.kill_tree(bystander.pid, started - 100, grace=1) == []
        assert processes.is_alive(bystander.pid, started)
        assert not processes.is_alive(bystander.pid, started - 100)
    finally:
        bystander.kill()
        bystander.wait()
