"""Process control with real process trees: identity, tree kills, and the attempt token that
finds daemons which double-forked and called setsid."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autoqueue.attempt import processes

# Process trees only: no database, so one run rather than one per backend.
pytestmark = pytest.mark.no_db

SLEEP_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)

# Detaches a daemon the way a crawler detaching chrome does: fork, setsid, fork again, and the
# middle process exits, so the daemon is nobody's child and in a session of its own.
DOUBLE_FORK = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        print(os.getpid(), flush=True)\n"
    "        time.sleep(600)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
)


def token_env(token: str) -> dict[str, str]:
    return {**os.environ, processes.ATTEMPT_ENV: token}


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_started_program_has_its_identity(tmp_path: Path) -> None:
    popen, info = processes.start_program(
        [sys.executable, "-c", "import os; print(os.getpid())"], cwd=tmp_path, env=os.environ
    )
    assert popen.stdout is not None
    assert int(popen.stdout.read()) == info.pid
    assert info.started > 0 and info.name == Path(sys.executable).name
    popen.wait(timeout=30)


def test_a_program_that_cannot_start_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        processes.start_program(["surely-not-installed-anywhere"], cwd=tmp_path, env=os.environ)


def test_kill_attempt_kills_the_tree(tmp_path: Path) -> None:
    popen, info = processes.start_program(
        [sys.executable, "-c", SLEEP_WITH_CHILD], cwd=tmp_path, env=os.environ
    )
    assert popen.stdout is not None
    child_pid = int(popen.stdout.readline())
    killed = processes.kill_attempt(None, (info.pid, info.started), grace=5)
    assert {p.pid for p in killed} == {info.pid, child_pid}
    popen.wait(timeout=10)
    assert not processes.is_alive(child_pid, None)


@pytest.mark.skipif(sys.platform == "win32", reason="fork and setsid are POSIX")
def test_the_token_finds_a_double_forked_setsid_daemon(tmp_path: Path) -> None:
    popen, info = processes.start_program(
        [sys.executable, "-c", DOUBLE_FORK], cwd=tmp_path, env=token_env("t0k3n-a")
    )
    assert popen.stdout is not None
    daemon = int(popen.stdout.readline())
    popen.wait(timeout=10)
    assert processes.is_alive(daemon, None)
    # Its parent is gone and its session is its own: the tree of the program cannot find it.
    assert os.getsid(daemon) != info.pid
    assert psutil.Process(daemon).ppid() != info.pid
    assert [p.pid for p in processes.carriers("t0k3n-a")] == [daemon]
    killed = processes.kill_attempt("t0k3n-a", (info.pid, info.started), grace=5)
    assert [p.pid for p in killed] == [daemon]
    assert gone(daemon)


def test_another_token_and_look_alikes_are_left_alone(tmp_path: Path) -> None:
    mine = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], env=token_env("mine")
    )
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], env=token_env("other")
    )
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not processes.carriers("mine"):
            time.sleep(0.05)
        killed = processes.kill_attempt("mine", grace=5)
        assert [p.pid for p in killed] == [mine.pid]
        assert mine.wait(timeout=10) is not None
        assert other.poll() is None and plain.poll() is None
    finally:
        for proc in (mine, other, plain):
            proc.kill()
            proc.wait()


def test_exclude_spares_the_caller(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], env=token_env("spare")
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not processes.carriers("spare"):
            time.sleep(0.05)
        assert processes.kill_attempt("spare", exclude=[sleeper.pid], grace=1) == []
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="sessions are POSIX")
def test_kill_attempt_finds_orphaned_grandchildren_by_session(tmp_path: Path) -> None:
    # The program starts a child and exits at once: the child is re-parented, not a child any more.
    script = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
    )
    popen, info = processes.start_program(
        [sys.executable, "-c", script], cwd=tmp_path, env=os.environ
    )
    assert popen.stdout is not None
    orphan = int(popen.stdout.readline())
    popen.wait(timeout=10)
    assert processes.is_alive(orphan, None)
    killed = processes.kill_attempt(None, (info.pid, info.started), grace=5)
    assert orphan in {p.pid for p in killed}
    assert not processes.is_alive(orphan, None)


# Starts children one after another (each sleeps 10 minutes, every other one in a session of
# its own) and notes each one's pid: a kill at any moment catches it starting one.
SPAWNER = (
    "import subprocess, sys, time\n"
    "with open(sys.argv[1], 'a') as pids:\n"
    "    for n in range(300):\n"
    "        child = subprocess.Popen([sys.argv[2], '600'], start_new_session=n % 2 == 1)\n"
    "        pids.write(f'{child.pid}\\n')\n"
    "        pids.flush()\n"
    "        time.sleep(0.002)\n"
    "time.sleep(600)\n"
)


def kill_a_spawner_at_a_random_moment(tmp_path: Path, token: str, rng: random.Random) -> float:
    """One round: start the spawner under ``token``, kill its attempt at a random moment,
    and return how long everything it started took to be gone after the kill returned."""
    pids = tmp_path / f"{token}.pids"
    sleep = shutil.which("sleep")
    assert sleep is not None
    popen, info = processes.start_program(
        [sys.executable, "-c", SPAWNER, str(pids), sleep], cwd=tmp_path, env=token_env(token)
    )
    time.sleep(rng.uniform(0, 0.3))
    processes.kill_attempt(token, (info.pid, info.started))
    returned = time.monotonic()
    popen.wait(timeout=10)
    for pipe in (popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()  # what it left may hold the other end
    started = pids.read_text().split() if pids.exists() else []
    while time.monotonic() - returned < 5:
        if not processes.carriers(token) and all(gone(int(pid)) for pid in started):
            break
        time.sleep(0.05)
    return time.monotonic() - returned


@pytest.mark.skipif(sys.platform == "win32", reason="sessions and the sleep program are POSIX")
@pytest.mark.parametrize("rounds", [pytest.param(100, marks=pytest.mark.slow), 12])
def test_a_kill_at_any_moment_of_a_stage_starting_children_leaves_nothing(
    tmp_path: Path, rounds: int
) -> None:
    """A child started between the kill's look at the process table and its signals (or still
    being forked, or its environment not yet readable) escaped it. Every round, everything the
    attempt started is gone within 5 s of the kill, and nothing else is touched."""
    # A python sleeping, and the very same spawner outside autoqueue, with its children.
    decoy_pids = tmp_path / "decoy.pids"
    decoys = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]),
        subprocess.Popen([sys.executable, "-c", SPAWNER, str(decoy_pids), "sleep"]),
    ]
    rng = random.Random(rounds)
    tokens = [f"spawner-{os.getpid()}-{n}" for n in range(rounds)]
    try:
        late = {token: kill_a_spawner_at_a_random_moment(tmp_path, token, rng) for token in tokens}
        assert [token for token, seconds in late.items() if seconds >= 5] == []
        assert all(decoy.poll() is None for decoy in decoys), "a decoy was killed"
        assert not any(gone(int(pid)) for pid in decoy_pids.read_text().split())
    finally:
        for token in tokens:
            for proc in processes.carriers(token):
                proc.kill()
        for decoy in decoys:
            decoy.kill()
            decoy.wait()
        for pid in decoy_pids.read_text().split() if decoy_pids.exists() else []:
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(pid)).kill()


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        started = psutil.Process(bystander.pid).create_time()
        # Same pid, different start time: some other program now has the number.
        assert processes.kill_attempt(None, (bystander.pid, started - 100), grace=1) == []
        assert processes.is_alive(bystander.pid, started)
        assert not processes.is_alive(bystander.pid, started - 100)
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.no_db
def test_a_stage_reporting_every_chunk_is_logged_every_tenth() -> None:
    """An uploader printing `uploading 14/120` per chunk: the first, each tenth and the last
    become rows, not 120; other lines are untouched, and nothing counts as dropped."""
    import json

    from autoqueue.attempt.program import CommandOutput

    emitted: list[dict[str, object]] = []
    out = CommandOutput(emitted.extend, max_lines=1000)
    lines = [("stdout", "connecting")]
    for n in range(121):
        event = {"progress": {"current": n, "total": 120}, "message": f"uploading {n}/120"}
        lines.append(("stdout", json.dumps(event)))
    out.handle(lines)
    progress = [str(e["message"]) for e in emitted if e.get("action") == "progress"]
    assert progress[0] == "uploading 0/120" and progress[-1] == "uploading 120/120"
    assert len(progress) == 11
    assert [e["message"] for e in emitted if e.get("action") != "progress"] == ["connecting"]
    assert out.dropped_entry() is None


@pytest.mark.no_db
def test_progress_without_a_total_is_logged_at_most_every_30_seconds() -> None:
    from autoqueue.attempt.program import ProgressGate

    now = [0.0]
    gate = ProgressGate(clock=lambda: now[0])
    seen = []
    for second in range(0, 95, 5):
        now[0] = float(second)
        seen.append(gate.passes(second, None))
    assert [s for s, kept in zip(range(0, 95, 5), seen, strict=True) if kept] == [0, 30, 60, 90]
