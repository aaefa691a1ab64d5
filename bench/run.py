"""autoqueue's benchmarks: ``python bench/run.py`` prints a table and writes bench/RESULTS.md.

Every comparison is a ratio measured side by side in the same run (these machines are shared
and noisy), turn by turn; figures are medians with [min–max] over repeats, and each RESULTS file
names the commit it measured. Where autoqueue stands beside another tool, both do the same unit
of work through their real way of running it, and what still differs is said beside the ratio;
autoqueue's engine alone (no worker, no supervisor, no stage) is reported apart, labelled so.
``--quick`` is the smoke run CI does so that the benchmark never rots: toy sizes, figures that
mean nothing, no target judged, no RESULTS file unless ``--write`` is given. Peers (huey,
litequeue, persist-queue, MoviePy, Procrastinate) come from the ``bench`` extra:
``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SLEEP_STAGE = HERE / "programs" / "sleep_stage.py"


# -- reporting ---------------------------------------------------------------------------------


@dataclass
class Figure:
    section: str
    name: str
    samples: list[float]
    unit: str

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def text(self) -> str:
        low, high = min(self.samples), max(self.samples)
        if self.unit == "x":  # a ratio
            spread = f" [{low:.3g}–{high:.3g}]" if len(self.samples) > 1 else ""
            return f"{self.median:.3g}x{spread}"
        spread = f" [{low:.4g}–{high:.4g}]" if len(self.samples) > 1 else ""
        return f"{self.median:.4g} {self.unit}{spread}"


@dataclass
class Target:
    section: str
    goal: str
    measured: str
    met: bool


@dataclass
class Comparison:
    """autoqueue beside another tool on the same work: the ratio's median and range over the
    turns both took in the same run, and what still differs between the two."""

    section: str
    what: str
    ratio: Figure
    differs: str


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judged: bool = True  # a quick run's figures come from toy sizes: no target is judged on them

    def add(self, section: str, name: str, samples: list[float], unit: str) -> Figure:
        figure = Figure(section, name, samples, unit)
        self.figures.append(figure)
        print(f"  {section:12} {name:58} {figure.text()}", flush=True)
        return figure

    def target(self, section: str, goal: str, measured: str, met: bool) -> None:
        if not self.judged:
            return
        self.targets.append(Target(section, goal, measured, met))
        print(f"  {'MET' if met else 'MISSED':6} {goal}: {measured}", flush=True)

    def compare(
        self,
        section: str,
        what: str,
        ours: Figure,
        theirs: Figure,
        differs: str,
        *,
        higher: bool = True,
    ) -> Figure:
        """How many times faster autoqueue is (below 1: slower): ``ours`` over ``theirs`` for
        rates (``higher``), theirs over ours for times; turn by turn when both took the same
        turns (round_robin), else of the medians alone."""
        pairs = (
            zip(ours.samples, theirs.samples, strict=True)
            if len(ours.samples) == len(theirs.samples)
            else [(ours.median, theirs.median)]
        )
        ratios = [(a / b) if higher else (b / a) for a, b in pairs]
        figure = Figure(section, what, ratios, "x")
        self.comparisons.append(Comparison(section, figure.name, figure, differs))
        print(f"  {section:12} ratio: {figure.name}: {figure.text()}", flush=True)
        return figure


def round_robin(times: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each repeat runs every contender once, so a slow moment of this shared machine (the disk's
    commit rate, the CPU steal) falls on all of them alike instead of on one contender's block."""
    samples: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(times):
        for label, run in runs.items():
            samples[label].append(run())
    return samples


@contextmanager
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="aq-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def add_task(workspace: Any, conn: sqlite3.Connection, now: datetime, **request: Any) -> str:
    """Add one task as `autoqueue add` does (validate, then insert); returns its id."""
    try:
        from autoqueue.tasks.add import AddRequest, add_task, prepare_add
    except ImportError:  # a commit from before the package layout (bench --against)
        from autoqueue.service import (  # type: ignore[import-not-found,no-redef]
            AddRequest,
            add_task,
            prepare_add,
        )

    prepared = prepare_add(workspace, AddRequest(tz="UTC", **request), now)
    return add_task(workspace, conn, prepared, now).task_id


# -- 1. engine throughput ----------------------------------------------------------------------


def engine_transitions(folder: Path, tasks: int) -> float:
    """Transitions per second of the engine alone: N crawl tasks, added before the clock
    starts, moved through 5 stages by claim and complete-and-claim in a loop in this process
    (no worker, no supervisor, no stage program)."""
    import queues

    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    home = folder / f"engine-{time.monotonic_ns()}"
    home.mkdir()
    workspace = Workspace.load(home)
    conn = workspace.connect()
    now = utcnow()
    for n in range(tasks):
        add_task(workspace, conn, now, title=f"t{n}")
    started = time.perf_counter()
    done = queues.drain_engine(conn, now)
    elapsed = time.perf_counter() - started
    conn.close()
    assert done == tasks * 5, done
    return done / elapsed


def physical_commits(folder: Path, count: int) -> float:
    """Committed one-row transactions per second at autoqueue's settings (WAL, FULL)."""
    path = folder / f"commits-{time.monotonic_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (str(n),))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


# What each side guarantees that the others do not (the notes of the comparisons say it).
GUARANTEES = {
    "autoqueue": (
        "autoqueue runs every stage but the internal schedule one as a program under an attempt "
        "supervisor of its own (its own process group, a timeout, its process tree and every "
        "process carrying its token killed when it ends, its output logged), records each "
        "attempt's end exactly once (result.json written durably before the supervisor exits), "
        "and recovers from a worker or tick that dies (its running attempts adopted, its ended "
        "ones applied, a vanished one run again within a crash budget); each queue type runs at "
        "most its concurrency over every worker and host, and every transition keeps its "
        "history and log rows"
    ),
    "huey": (
        "huey runs each job as a function call in its consumer's thread, with no process of its "
        "own, and deletes the job from its queue when it takes it, so a consumer killed mid-job "
        "loses that job (at most once); it keeps each job's result for the caller to read and "
        "retries a job when its task says so"
    ),
    "loops": (
        "litequeue and persist-queue ship no worker: a job taken and not yet marked done stays "
        "in the queue (litequeue: locked, until the user's code looks at its lock time; "
        "persist-queue: unacked, back to ready when the queue is opened again), so the user's "
        "loop gets at least once, with no process isolation, timeout, retry or log"
    ),
    "procrastinate": (
        "Procrastinate runs each job as a coroutine (a sync task in a thread) in its worker's "
        "process, with no process of its own; it retries a job when its task says so, keeps "
        "each job's status and an events table, and leaves the jobs of a worker that died as "
        "they were until the user's code asks for the stalled ones (found by the workers' "
        "heartbeats) and retries them"
    ),
}


def section_throughput(report: Report, quick: bool, repeats: int) -> None:
    """The engine alone against the disk's commit rate (a target); then one unit of work, a
    task through five stages with every enqueue inside the clock, through autoqueue's worker
    and its engine alone, beside huey, litequeue and persist-queue running five chained no-op
    jobs per task (``queues.py``)."""
    sys.path.insert(0, str(HERE))
    import queues

    tasks = 40 if quick else 200
    items = tasks * 5
    engine_label = (
        f"engine loop alone (no worker, no supervisor, no stage): transitions/s, {tasks} tasks"
    )
    limit_label = "physical limit: WAL+FULL one-row commits/s"
    with scratch() as folder:
        samples = round_robin(
            # Its runs take half a second each and the target is a close call: three times the
            # repeats give steadier medians. Not in the quick run, a smoke test.
            repeats * (1 if quick else 3),
            {
                engine_label: lambda: engine_transitions(folder, tasks),
                limit_label: lambda: physical_commits(folder, items),
            },
        )
    ours = report.add("throughput", engine_label, samples[engine_label], "/s")
    limit = report.add("throughput", limit_label, samples[limit_label], "/s")
    share = [a / b for a, b in zip(ours.samples, limit.samples, strict=True)]
    report.target(
        "throughput",
        "engine alone ≥ 50% of the physical limit (1 commit per transition)",
        f"{ours.median / limit.median:.0%} of {limit.median:.0f}/s "
        f"[per turn {min(share):.0%}–{max(share):.0%}]",
        ours.median / limit.median >= 0.5,
    )

    few, many = (4, 20) if quick else (40, 400)
    worker_label = (
        f"autoqueue worker: tasks/s, {few} tasks × 5 stages, 4 of them supervised no-op programs"
    )
    alone_label = (
        f"engine loop alone (no worker, no supervisor, no stage): tasks/s, {many} tasks × 5 stages"
    )
    runs: dict[str, Callable[[Path], float]] = {
        worker_label: lambda f: queues.worker_tasks(f, few),
        alone_label: lambda f: queues.engine_tasks(f, many),
    }
    peers = {
        "huey": (f"huey consumer (1 worker thread): tasks/s, {many} tasks × 5 chained no-op jobs", queues.huey_tasks),
        "litequeue": (f"litequeue, its user's loop: tasks/s, {many} tasks × 5 chained no-op jobs", queues.litequeue_tasks),
        "persist-queue": (f"persist-queue, its user's loop: tasks/s, {many} tasks × 5 chained no-op jobs", queues.persistqueue_tasks),
    }  # fmt: skip
    for package, (label, run) in list(peers.items()):
        if not installed(package):
            report.notes.append(f"{package} is not installed (pip install -e '.[bench]'): skipped")
            del peers[package]
            continue
        runs[label] = lambda f, run=run: run(f, many)
    with scratch() as folder:
        samples = round_robin(
            repeats, {label: (lambda run=run: run(folder)) for label, run in runs.items()}
        )
    figures = {
        label: report.add("throughput", label, values, "/s") for label, values in samples.items()
    }
    worker, alone = figures[worker_label], figures[alone_label]
    for package, (label, _run) in peers.items():
        theirs = figures[label]
        report.compare(
            "throughput",
            f"autoqueue worker / {package}, tasks/s, a task through five stages",
            worker, theirs,
            "autoqueue runs each of four stages as a supervised subprocess (an attempt "
            "supervisor, Python, starting /bin/sh) and records it exactly once; "
            f"{package}'s job is a function call in "
            + ("its consumer's thread" if package == "huey" else "its user's loop")
            + "; see the guarantees in the notes",
        )  # fmt: skip
        report.compare(
            "throughput",
            f"engine loop alone / {package}, tasks/s, a task through five stages",
            alone, theirs,
            "the engine alone is not autoqueue's worker: no stage runs and nothing is "
            f"supervised; it claims and completes in one process, where {package}'s worker "
            "runs in a process of its own beside the process that enqueues",
        )  # fmt: skip
    report.notes.append(
        f"throughput, one unit of work: the clock runs from the first enqueue to the last job "
        f"done, every enqueue inside it; each worker (autoqueue worker, huey's consumer, the "
        f"litequeue and persist-queue loops) is a process of its own, started and idle before "
        f"the clock (autoqueue's idle worker looks for work every 0.2 s on SQLite, huey's "
        f"consumer every 0.1 s and more as it stays idle, the loops every {queues.IDLE} s); "
        f"every queue on SQLite with synchronous=FULL. autoqueue's tasks are added by the "
        f"function `autoqueue add` calls, in the benchmark's process (the command's start-up is "
        f"not counted). The number of tasks differs ({few} through autoqueue's worker, {many} "
        f"elsewhere) so that each run lasts seconds. What each side guarantees that the others "
        f"do not: {GUARANTEES['autoqueue']}; {GUARANTEES['huey']}; {GUARANTEES['loops']}."
    )
    report.notes.append(
        "the earlier throughput target, 'ahead of huey, litequeue, persist-queue at equal "
        "durability', is withdrawn: it set the engine's claim-and-complete loop against one "
        "enqueue, dequeue and ack of each library, which is neither the same unit of work nor "
        "autoqueue's way of running it; both comparisons are above, without a target"
    )


# -- 2. scale ----------------------------------------------------------------------------------


PAGE = 500  # queue rows in the "empty" database: enough for every listing to fill its page


def build_history(path: Path, history: int, logs: int, waiting: int) -> str:
    """A database with ``history`` completed queue rows, ``logs`` log rows and ``waiting`` waiting
    video items, written fast (synchronous off while building). Returns a task id to query."""
    from autoqueue.store import sqlite

    sqlite.connect(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    tasks = max(history // 5, 1)
    conn.executemany(
        "INSERT INTO tasks (id, title, type, settings, created_at, updated_at) "
        "VALUES (?, 'history', 'shortform', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
        ((f"00000000-0000-4000-8000-{n:012d}",) for n in range(tasks)),
    )
    stages = ("schedule", "script", "image", "video", "youtube")
    conn.executemany(
        "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at, completed_at) "
        "VALUES (?, ?, 'completed', ?, ?, ?)",
        (
            (
                f"00000000-0000-4000-8000-{(n // 5) % tasks:012d}",
                stages[n % 5],
                f"2025-{1 + n % 12:02d}-01 00:00:00",
                "2025-06-01 00:00:00",
                f"2025-{1 + n % 12:02d}-02 00:00:00",
            )
            for n in range(history)
        ),
    )
    conn.executemany(
        "INSERT INTO task_logs (task_id, level, message, created_at) VALUES (?, 'info', 'history', '2025-01-01 00:00:00')",
        ((f"00000000-0000-4000-8000-{n % tasks:012d}",) for n in range(logs)),
    )
    conn.executemany(
        "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at) "
        "VALUES ('00000000-0000-4000-8000-000000000000', 'video', 'waiting', ?, ?)",
        (
            (f"2026-01-01 00:{n // 60 % 60:02d}:{n % 60:02d}", "2026-01-01 00:00:00")
            for n in range(waiting)
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return "00000000-0000-4000-8000-000000000000"


class ScaleCase:
    """One database of the scale section, open, with a waiting item to claim."""

    def __init__(self, label: str, path: Path, task_id: str) -> None:
        from autoqueue.store import sqlite

        self.label, self.path, self.task_id = label, path, task_id
        self.conn = sqlite.connect(path)
        self.conn.execute(
            "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at) "
            "VALUES (?, 'video', 'waiting', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (task_id,),
        )
        self.samples: dict[str, list[float]] = {"claim": [], "list": [], "logs": []}

    def sample(self) -> None:
        from autoqueue.attempt import processes
        from autoqueue.kinds import QueueType, Tab
        from autoqueue.queue.claims import claim_next
        from autoqueue.queue.policy import Policy
        from autoqueue.repo import logs as logs_repo
        from autoqueue.repo import reads
        from autoqueue.timeutil import utcnow

        conn = self.conn
        # The claim's own work, inside its write transaction, rolled back: what grows with the
        # data is the index walk, not the commit's fsync, the same at any size (the throughput
        # section measures commits).
        conn.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        item = claim_next(conn, QueueType.VIDEO, processes.current_owner(), Policy(), utcnow())
        self.samples["claim"].append(time.perf_counter() - started)
        conn.execute("ROLLBACK")
        assert item is not None
        started = time.perf_counter()
        json.dumps(reads.tab_rows(conn, Tab.COMPLETED, 100), default=str)
        self.samples["list"].append(time.perf_counter() - started)
        started = time.perf_counter()
        entries = logs_repo.query(conn, logs_repo.LogFilter(task_id=self.task_id, limit=50))
        json.dumps([entry.as_json() for entry in entries])
        self.samples["logs"].append(time.perf_counter() - started)


def section_scale(report: Report, quick: bool) -> Path | None:
    # Baselines. A claim does the same work in any database, so it is compared with the truly
    # empty one (no history at all). A listing of an empty database returns nothing, which is
    # no baseline for listing 100 rows: list and logs are compared with a database holding just
    # one page of each listing, so every case returns the same rows (100 completed items, the
    # queried task's 5 log rows) and only the history grows.
    # Samples are taken round-robin over the databases, so a noisy moment hits all of them.
    sizes = [0, PAGE, 2_000, 20_000] if quick else [0, PAGE, 100_000, 1_000_000]
    samples = 20 if quick else 300
    folder = Path(tempfile.mkdtemp(prefix="aq-bench-scale-"))
    specs = [(size, size, 0) for size in sizes] + [(PAGE, PAGE, 2_000 if quick else 20_000)]
    cases: list[ScaleCase] = []
    for history, logs, waiting in specs:
        path = folder / f"h{history}-w{waiting}.db"
        started = time.perf_counter()
        task_id = build_history(path, history, logs, waiting)
        if waiting:
            label = f"{waiting:,} waiting in one queue"
        elif history == 0:
            label = "empty (no history, nothing to list)"
        elif history == PAGE:
            label = f"one page ({PAGE:,} history/log rows)"
        else:
            label = f"{history:,} history/log rows"
        report.notes.append(f"built the {label} database in {time.perf_counter() - started:.1f} s")
        cases.append(ScaleCase(label, path, task_id))
    for _ in range(samples):
        for case in cases:
            case.sample()
    empty, page = cases[0], cases[1]
    baselines = {"claim": empty, "list": page, "logs": page}
    worst = {key: 0.0 for key in baselines}
    for case in cases:
        for key, values in case.samples.items():
            report.add("scale", f"{key} latency, {case.label}", [v * 1000 for v in values], "ms")
            baseline = baselines[key]
            if case is not baseline and case is not empty:
                ratio = statistics.median(values) / statistics.median(baseline.samples[key])
                worst[key] = max(worst[key], ratio)
        case.conn.close()
    report.target(
        "scale",
        "claim within 1.5x of the empty database; list, logs within 1.5x of one page",
        f"worst: claim {worst['claim']:.2f}x, list {worst['list']:.2f}x, logs {worst['logs']:.2f}x",
        max(worst.values()) <= 1.5,
    )
    return cases[len(sizes) - 1].path


# -- 3. command latency ------------------------------------------------------------------------


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=env)
    return time.perf_counter() - started


def section_latency(report: Report, quick: bool, repeats: int) -> None:
    runs = max(repeats * 3, 5)
    # Every module is read from its bytecode, as in an installed copy (pip compiles it when it
    # installs): a checkout run with PYTHONDONTWRITEBYTECODE set would compile each at each run.
    import autoqueue

    compileall.compile_dir(Path(autoqueue.__file__).parent, quiet=1)
    with scratch() as home:
        subprocess.run(
            [sys.executable, "-m", "autoqueue", "--home", str(home), "init"],
            capture_output=True,
            check=True,
        )
        aq = [sys.executable, "-m", "autoqueue", "--home", str(home)]
        base = report.add(
            "latency",
            "python -c pass",
            [1000 * wall([sys.executable, "-c", "pass"]) for _ in range(runs)],
            "ms",
        )
        idle = report.add(
            "latency",
            "autoqueue tick (idle)",
            [1000 * wall([*aq, "tick"]) for _ in range(runs)],
            "ms",
        )
        report.add(
            "latency",
            "autoqueue tick --json (idle, full CLI)",
            [1000 * wall([*aq, "tick", "--json"]) for _ in range(runs)],
            "ms",
        )
        report.target(
            "latency",
            "idle tick under 200 ms",
            f"{idle.text()} ({idle.median / base.median:.1f}x python -c pass, {base.median:.0f} ms)",
            idle.median < 200,
        )
        # The read commands, on a home with a task, its log rows and its schedule: each
        # answered by the fast path (ARCHITECTURE.md "Fast reads").
        added = subprocess.run(
            [*aq, "add", "A week of home cooking"], capture_output=True, text=True, check=True
        )
        short = added.stdout.strip()[:8]
        reads = [["list"], ["list", "schedule"], ["tasks"], ["show", short], ["logs"], ["contents"]]
        slowest = None
        for args in reads:
            figure = report.add(
                "latency",
                "autoqueue " + " ".join(args).replace(short, "TASK"),
                [1000 * wall([*aq, *args]) for _ in range(runs)],
                "ms",
            )
            if slowest is None or figure.median > slowest.median:
                slowest = figure
        assert slowest is not None
        report.target(
            "latency",
            "every read (list, tasks, show, logs, contents) within 8x python -c pass",
            f"slowest {slowest.name}: {slowest.median / base.median:.1f}x ({slowest.text()})",
            slowest.median <= 8 * base.median,
        )
        for args in (["list"], ["tick", "--json"]):
            result = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "autoqueue", "--home", str(home), *args],
                capture_output=True,
                text=True,
                check=True,
            )
            rows = []
            for line in result.stderr.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[1].strip().isdigit():
                    rows.append((int(parts[1]), parts[2].rstrip()))
            top = [name.strip() for _, name in sorted(rows, reverse=True) if name.count("  ") <= 1][
                :8
            ]
            heavy = [
                name
                for _, name in rows
                if name.strip().split(".")[0]
                in ("PIL", "googleapiclient", "imageio_ffmpeg", "moviepy")
            ]
            report.notes.append(
                f"`autoqueue {' '.join(args)}` imports, largest first: {', '.join(top)}; "
                f"heavy stage libraries imported: {', '.join(h.strip() for h in heavy) or 'none'}"
            )


# -- 4. pipelining -----------------------------------------------------------------------------


def pipeline_home(folder: Path, tasks: int, seconds: tuple[float, float, float, float]) -> Path:
    from autoqueue.tasks.home import init_home
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    home = folder / f"pipe-{time.monotonic_ns()}"
    home.mkdir()
    argv = ", ".join(
        f'"{value}"' for value in ("{python}", SLEEP_STAGE.as_posix(), *map(str, seconds))
    )
    config = "\n".join(
        f"[stages.{stage}]\ncommand = [{argv}]" for stage in ("script", "image", "video", "youtube")
    )
    (home / "autoqueue.toml").write_text(config + "\n", encoding="utf-8")
    workspace = Workspace.load(home)
    init_home(workspace)
    conn = workspace.connect()
    now = utcnow()
    for n in range(tasks):
        add_task(workspace, conn, now, title=f"p{n}", media_mode="crawl")
    conn.close()
    return home


def one_after_another_loop(home: Path) -> None:
    """The original scheduler: the queues one after another, one item each, repeated until
    nothing is left, with the same engine and stage programs."""
    from autoqueue.attempt import processes
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.outcomes import complete_item
    from autoqueue.queue.pipeline import QUEUE_ORDER
    from autoqueue.queue.policy import Policy
    from autoqueue.repo import tasks as tasks_repo
    from autoqueue.stages.base import StageContext
    from autoqueue.stages.registry import run_stage
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    workspace = Workspace.load(home)
    conn = workspace.connect()
    owner = processes.current_owner()
    policy = Policy.from_config(workspace.config)
    busy = True
    while busy:
        busy = False
        for queue_type in QUEUE_ORDER:
            item = claim_next(conn, queue_type, owner, policy, utcnow())
            if item is None:
                continue
            busy = True
            task = tasks_repo.get(conn, item.task_id)
            assert task is not None
            result = run_stage(
                StageContext(workspace=workspace, task=task, schedule=None, item=item)
            )
            complete_item(conn, item, result, policy, utcnow())
    conn.close()


def section_pipelining(report: Report, quick: bool, repeats: int) -> None:
    tasks, seconds = (4, (0.05, 0.1, 0.2, 0.05)) if quick else (20, (0.5, 1.0, 2.0, 0.5))
    bound = tasks * max(seconds) + sum(seconds) - max(seconds)
    sequential = tasks * sum(seconds)
    drain_label = f"tick --drain makespan, {tasks} tasks (bound {bound:.1f} s)"
    original_label = f"the original one-after-another loop (sum {sequential:.1f} s)"

    def drain(folder: Path) -> float:
        home = pipeline_home(folder, tasks, seconds)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"],
            capture_output=True,
            check=True,
        )
        return time.perf_counter() - started

    def original(folder: Path) -> float:
        home = pipeline_home(folder, tasks, seconds)
        started = time.perf_counter()
        one_after_another_loop(home)
        return time.perf_counter() - started

    with scratch() as folder:
        samples = round_robin(
            1 if quick else min(repeats, 3),
            {drain_label: lambda: drain(folder), original_label: lambda: original(folder)},
        )
    drained = report.add("pipelining", drain_label, samples[drain_label], "s")
    looped = report.add("pipelining", original_label, samples[original_label], "s")
    report.compare(
        "pipelining",
        "tick --drain / the original one-after-another loop, makespan",
        drained, looped,
        "the same engine and stage programs; the original loop runs one queue after another "
        "in one process, each stage in that process (no supervisor), where tick --drain runs "
        "the queues side by side, each stage under a supervisor of its own",
        higher=False,
    )  # fmt: skip
    low, high = min(drained.samples) / bound, max(drained.samples) / bound
    report.target(
        "pipelining",
        "tick --drain within 1.15x of the bottleneck bound",
        f"{drained.median / bound:.2f}x the bound [{low:.2f}–{high:.2f}]",
        drained.median <= 1.15 * bound,
    )


# -- 5. rendering ------------------------------------------------------------------------------


def render_setup(folder: Path, scenes: int, seconds: float) -> tuple[Any, list[Path]]:
    from autoqueue.repo import queue as queue_repo
    from autoqueue.repo import tasks as tasks_repo
    from autoqueue.stages.base import StageContext
    from autoqueue.stages.cards import render_card
    from autoqueue.stages.fonts import find_cjk_font, find_plain_font

    try:
        from autoqueue.tasks.home import init_home
    except ImportError:  # a commit from before the package layout (bench --against)
        from autoqueue.service import init_home  # type: ignore[import-not-found,no-redef]
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    home = folder / "render"
    home.mkdir(exist_ok=True)
    workspace = Workspace.load(home)
    init_home(workspace)
    conn = workspace.connect()
    now = utcnow()
    task_id = add_task(workspace, conn, now, title="render", type="shortform")
    task = tasks_repo.get(conn, task_id)
    item = queue_repo.for_task(conn, task_id)[0]
    conn.close()
    task_dir = workspace.task_dir(task_id)
    task_dir.mkdir(parents=True, exist_ok=True)
    story = {
        "title": "render",
        "scenes": [
            {"text": f"장면 {n + 1}: a scene of the benchmark", "duration": seconds}
            for n in range(scenes)
        ],
    }
    (task_dir / "story.json").write_text(json.dumps(story, ensure_ascii=False), encoding="utf-8")
    font = find_cjk_font() or find_plain_font()
    images = []
    for n in range(scenes):
        path = task_dir / f"scene_{n + 1:02d}.jpg"  # pictures, which pan and crossfade
        render_card(
            story["scenes"][n]["text"], size=(1080, 1920), index=n, total=scenes, font_path=font
        ).save(path)
        images.append(path)
    assert task is not None
    return StageContext(workspace=workspace, task=task, schedule=None, item=item), images


RENDER_CPU: list[float] = []  # CPU seconds (this process and its ffmpegs) of each render_ours


def cpu_seconds() -> float:
    import resource

    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def render_ours(ctx: Any) -> float:
    from autoqueue.stages.video import run_video_stage

    (ctx.task_dir / "output.mp4").unlink(missing_ok=True)
    cpu = cpu_seconds()
    started = time.perf_counter()
    run_video_stage(ctx, ctx.workspace.config.stage(ctx.item.queue_type))
    elapsed = time.perf_counter() - started
    RENDER_CPU.append(cpu_seconds() - cpu)
    return elapsed


def render_voice(ctx: Any) -> tuple[Any, float]:
    """The scenes' narration alone (eSpeak, offline), as the video stage makes it: the
    soundtrack both renderers use, and how long synthesising it took."""
    import imageio_ffmpeg

    from autoqueue.stages import narration
    from autoqueue.stages.cards import read_story

    config = ctx.workspace.config.stage(ctx.item.queue_type)
    story = read_story(ctx.task_dir)
    started = time.perf_counter()
    soundtrack = narration.prepare(
        ctx, config, story, len(story.scenes), imageio_ffmpeg.get_ffmpeg_exe()
    )
    return soundtrack, time.perf_counter() - started


MOVIEPY_CAPTIONS: list[float] = []  # seconds each MoviePy render spent drawing its captions
MOVIEPY_PANS: list[float] = []  # pixels a frame each scene's pan moves, in MoviePy's last render


def caption_pictures(soundtrack: Any, size: tuple[int, int], font: str | None) -> list[Any]:
    """The captions as a MoviePy user makes them: one picture per caption event, drawn with
    Pillow (the stage's lines, look and timing: the ``bold`` preset's font size, outline, shadow
    and highlighted word, in the same font file), each an ``ImageClip`` laid over the video at
    the stage's place for its time. Pillow draws them, not libass: alike, not pixel-identical."""
    import numpy as np
    from moviepy import ImageClip
    from PIL import Image, ImageDraw, ImageFont

    from autoqueue.config import StageConfig
    from autoqueue.media import captions
    from autoqueue.stages import fonts

    settings = StageConfig()
    family = fonts.family(Path(font)) if font else "Sans"
    style = captions.preset(
        settings.caption_style, family, settings.caption_colour, settings.caption_highlight
    )
    layout = captions.Layout(*size)
    lines = [
        line
        for words in soundtrack.scenes
        for line in captions.break_lines(words, layout.max_cells(style.size), style.max_words)
    ]
    pixels = round(layout.font_size * style.size)
    border = max(1, round(pixels * style.outline))
    shadow = round(pixels * style.shadow)
    face = ImageFont.truetype(font, pixels) if font else ImageFont.load_default(size=pixels)
    ascent, descent = face.getmetrics()  # libass's font size is the line's height, not the em
    face = face.font_variant(size=max(1, round(pixels * pixels / (ascent + descent))))
    space = face.getlength(" ")
    anchor_x, anchor_y = captions._anchor(layout, "bottom")
    clips = []
    for event in captions.shown(lines):
        words = [word.text for word in event.line.words]
        widths = [face.getlength(word) for word in words]
        width = round(sum(widths) + space * (len(words) - 1)) + 2 * border + shadow
        height = round(pixels * 1.35) + 2 * border + shadow
        picture = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(picture)
        for offset, fill in (((shadow, shadow), (0, 0, 0, 128)), ((0, 0), None)):
            x = border + offset[0]
            for index, (word, advance) in enumerate(zip(words, widths, strict=True)):
                colour = fill or (style.highlight if index == event.word else style.colour)
                draw.text(
                    (x, border + offset[1]), word, font=face, fill=colour,
                    stroke_width=border, stroke_fill=fill or (0, 0, 0, 255),
                )  # fmt: skip
                x += advance + space
        clips.append(
            ImageClip(np.asarray(picture))
            .with_start(event.start)
            .with_duration(event.end - event.start)
            .with_position((round(anchor_x - width / 2), round(anchor_y - height)))
        )
    return clips


def render_moviepy(
    images: list[Path], soundtrack: Any, out: Path, ours: bool, font: str | None
) -> float:
    """The stage's video made with MoviePy 2's public API, as a generator's author would write
    it: the same pans (each picture resized once to the stage's canvas, then ``vfx.Scroll``, a
    window of the frame's size moving over it, at the stage's start, speed and direction), the
    same crossfades (``CrossFadeIn`` over the stage's overlap, ``concatenate_videoclips`` with a
    negative padding), the captions as pictures (``caption_pictures``), the same voice-over.
    ``ours``: with the stage's encoder settings (x264 ultrafast, qp 15, tune stillimage, its
    crossfade zones; AAC 160k at 48 kHz), else MoviePy's defaults (x264 medium at its default
    CRF 23; MP3)."""
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, concatenate_videoclips, vfx

    from autoqueue.config import StageConfig
    from autoqueue.stages import ffmpeg, motion

    settings = StageConfig()
    size = width, height = 1080, 1920
    fps = motion.FPS
    started = time.perf_counter()
    frames = [max(1, round(seconds * fps)) for seconds in soundtrack.durations]
    fade = min(round(settings.crossfade * fps), min(frames) // 3) if len(images) > 1 else 0
    scenes, pans = [], []
    for index, image in enumerate(images):
        count = frames[index] + (fade if index + 1 < len(images) else 0)  # on under the next
        pan = motion.plan_pan(index, size, count, settings.motion)
        assert pan is not None
        pans.append(abs(pan.step) / motion.QUARTERS)
        speed, start = pan.step / motion.QUARTERS * fps, pan.first / motion.QUARTERS
        scroll = (
            vfx.Scroll(width, height, x_speed=speed, x_start=start, y_start=pan.across)
            if pan.axis == "x"
            else vfx.Scroll(width, height, y_speed=speed, y_start=start, x_start=pan.across)
        )
        scene = (
            ImageClip(str(image))
            .resized(new_size=pan.canvas)  # a still: resized once, not every frame
            .with_effects([scroll])
            .with_duration(count / fps)
        )
        scenes.append(
            scene.with_effects([vfx.CrossFadeIn(fade / fps)]) if index and fade else scene
        )
    # An opaque background and the video as the captions' background: MoviePy then composes
    # no alpha mask for the whole frame on every frame (left transparent, that cost a third of
    # its time); a crossfading scene still carries its mask for as long as it lasts.
    video = concatenate_videoclips(
        scenes, method="compose", padding=-fade / fps, bg_color=(0, 0, 0)
    )
    drawing = time.perf_counter()
    texts = caption_pictures(soundtrack, size, font)
    MOVIEPY_CAPTIONS.append(time.perf_counter() - drawing)
    MOVIEPY_PANS[:] = pans
    final = CompositeVideoClip([video, *texts], size=size, use_bgclip=True)
    final = final.with_audio(AudioFileClip(str(soundtrack.narration)))
    extra: dict[str, Any] = {}
    if ours:
        rate, value = settings.quality
        params = [f"-{rate}", str(value), "-tune", "stillimage"]
        if fade and rate == "qp":  # the stage codes its crossfade frames coarser
            level = min(51, value + ffmpeg.FADE_COARSER)
            zones = (
                f"{sum(frames[:n])},{sum(frames[:n]) + fade - 1},q={level}"
                for n in range(1, len(images))
            )
            params += ["-x264-params", "zones=" + "/".join(zones)]
        extra = {
            "preset": settings.preset, "ffmpeg_params": params, "audio_codec": "aac",
            "audio_bitrate": "160k", "audio_fps": 48000,
        }  # fmt: skip
    final.write_videofile(
        str(out), fps=fps, codec="libx264", logger=None, temp_audiofile_path=str(out.parent),
        **extra,
    )  # fmt: skip
    final.close()
    return time.perf_counter() - started


RENDER_PROBE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])  # this checkout's bench/run.py: the same short for both
import run as bench

ctx, _images = bench.render_setup(Path(sys.argv[2]), 10, 3.0)
soundtrack, _voice = bench.render_voice(ctx)
bench.render_ours(ctx)  # the lines into voice.cache/ and the fonts into the page cache
before = bench.cpu_seconds()
bench.render_ours(ctx)
print(json.dumps((bench.cpu_seconds() - before) / sum(soundtrack.durations)))
"""


def render_cpu_of(tree: Path, folder: Path) -> float:
    """CPU seconds per second of video of the 10-scene short, made by this checkout's setup
    (the same pictures and story for both: an older bench's own setup made other pictures, PNG
    rather than JPEG, which cost x264 18 % more) and rendered by the stage of the checkout at
    ``tree``, in a process of its own whose imports find that checkout first."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", RENDER_PROBE, str(HERE), str(folder)],
        env=env, cwd=folder, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the render of {tree} failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def compare_render(report: Report, against: str, rounds: int) -> None:
    """The render's CPU per second of video against commit ``against``'s, measured in the same
    run: a git worktree of that commit, and the two renders taking turns, each in a process of
    its own, ``rounds`` times (the machine's noise falls on both alike)."""
    root = HERE.parent
    with scratch() as folder:
        tree = folder / "against"
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), against],
            check=True, capture_output=True,
        )  # fmt: skip
        try:
            theirs: list[float] = []
            ours: list[float] = []
            for turn in range(rounds):  # who goes first alternates
                pair = [(theirs, tree, "theirs"), (ours, root, "ours")]
                for samples, checkout, name in pair if turn % 2 == 0 else pair[::-1]:
                    samples.append(render_cpu_of(checkout, folder / name))
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                check=False, capture_output=True,
            )  # fmt: skip
    label = f"CPU seconds per second of video, commit {against}'s render, beside this one's"
    before = report.add("rendering", label, theirs, "s")
    now = report.add("rendering", "CPU seconds per second of video, this render", ours, "s")
    ratio = now.median / before.median
    turns = [a / b for a, b in zip(now.samples, before.samples, strict=True)]
    report.target(
        "rendering", f"CPU per video-second ≤ 1.1x commit {against}'s",
        f"{ratio:.2f}x (medians; per turn {min(turns):.2f}–{max(turns):.2f})", ratio <= 1.1,
    )  # fmt: skip


def section_rendering(report: Report, quick: bool, repeats: int) -> None:
    """The video stage on a 10-scene short with everything on, against real time; the demo
    from an empty folder; and the same short made with MoviePy doing the same work (its pans,
    crossfades, captions and voice: ``render_moviepy``), the renders taking turns. --quick
    renders two one-second scenes, MoviePy once with the stage's encoder settings, no demo."""
    scenes, seconds = (2, 1.0) if quick else (10, 3.0)
    with scratch() as folder:
        ctx, _images = render_setup(folder, scenes, seconds)
        soundtrack, voice_seconds = render_voice(ctx)
        length = sum(soundtrack.durations)
        ours_label = (
            f"built-in ffmpeg stage, {scenes} scenes, {length:.1f} s 1080x1920, narration, "
            "captions, motion, crossfades"
        )
        samples = round_robin(
            1 if quick else min(repeats, 3), {ours_label: lambda: render_ours(ctx)}
        )
        ours = report.add("rendering", ours_label, samples[ours_label], "s")
        cpu = sorted(RENDER_CPU)[len(RENDER_CPU) // 2]
        report.add(
            "rendering", "CPU seconds of the stage (ffmpeg included) per second of video",
            [value / length for value in RENDER_CPU], "s",
        )  # fmt: skip
        report.notes.append(
            f"narration synthesis ({scenes} scenes, the default voices: piper's English voice "
            f"where installed, else eSpeak NG) took {voice_seconds:.2f} s once; each stage run "
            f"above takes the lines from voice.cache/ (the render's CPU: {cpu:.1f} s)"
        )
        rtf = length / ours.median
        spread = f" [{length / max(ours.samples):.1f}–{length / min(ours.samples):.1f}]"
        report.target(
            "rendering", "video stage ≥ 4x real time",
            f"{rtf:.1f}x real time{spread if len(ours.samples) > 1 else ''} "
            f"({length:.1f} s of video in {ours.median:.2f} s)",
            rtf >= 4,
        )  # fmt: skip
    if not quick:
        with scratch() as folder:
            # What a new user's first command does: three narrated, captioned videos from
            # nothing (an empty folder: the demo makes the home, adds its tasks, drains them).
            demos = []
            for turn in range(min(repeats, 3)):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "autoqueue", "demo", "--dir", str(folder / f"demo{turn}")],
                    check=True, capture_output=True, timeout=600,
                )  # fmt: skip
                demos.append(time.perf_counter() - started)
            demo = report.add(
                "rendering", "autoqueue demo: three videos from an empty folder", demos, "s"
            )
            report.target(
                "rendering", "the demo within 45 s", demo.text(), demo.median <= 45,
            )  # fmt: skip
    if not installed("moviepy"):
        report.notes.append(
            "MoviePy is not installed (pip install -e '.[bench]'): comparison skipped"
        )
        return
    compare_moviepy(report, quick, repeats, scenes, seconds)


def compare_moviepy(report: Report, quick: bool, repeats: int, scenes: int, seconds: float) -> None:
    """The stage and MoviePy making the same short, taking turns: wall time and CPU seconds
    (ffmpeg's included) of each render."""
    from autoqueue.stages.fonts import find_cjk_font, find_plain_font

    with scratch() as folder:
        ctx, images = render_setup(folder, scenes, seconds)
        soundtrack, _voice = render_voice(ctx)
        length = sum(soundtrack.durations)
        font = find_cjk_font() or find_plain_font()
        version = metadata.version("moviepy")
        ours_label = f"built-in ffmpeg stage, the same short ({length:.1f} s), beside MoviePy"
        same_label = (
            f"MoviePy {version}, the same short, the stage's encoder settings (x264 ultrafast, "
            "qp 15, its crossfade zones; AAC)"
        )
        theirs_label = (
            f"MoviePy {version}, the same short, its default settings (x264 medium, CRF 23; MP3)"
        )
        cpu: dict[str, list[float]] = {}

        def timed(label: str, render: Callable[[], float]) -> Callable[[], float]:
            def run() -> float:
                before = cpu_seconds()
                elapsed = render()
                cpu.setdefault(label, []).append((cpu_seconds() - before) / length)
                return elapsed

            return run

        runs = {
            ours_label: timed(ours_label, lambda: render_ours(ctx)),
            same_label: timed(
                same_label,
                lambda: render_moviepy(images, soundtrack, folder / "same.mp4", True, font),
            ),
        }
        if not quick:
            runs[theirs_label] = timed(
                theirs_label,
                lambda: render_moviepy(images, soundtrack, folder / "theirs.mp4", False, font),
            )
        samples = round_robin(1 if quick else min(repeats, 3), runs)
    figures = {label: report.add("rendering", label, samples[label], "s") for label in runs}
    cpus = {
        label: report.add("rendering", f"CPU seconds per second of video: {label}", cpu[label], "s")
        for label in runs
    }
    whole = all(step == int(step) for step in MOVIEPY_PANS)
    same_work = (
        "the same pictures, pans (each picture resized once to the stage's canvas, then "
        "vfx.Scroll moving a frame-sized window over it at the stage's start, direction and "
        "speed: " + ", ".join(f"{step:g}" for step in MOVIEPY_PANS) + " px a frame"
        + (", whole pixels, as the stage's" if whole else "; the stage moves fractions of a pixel where Scroll moves whole ones")
        + "), crossfades (CrossFadeIn over the same frames), captions (the stage's lines, times "
        "and bold look: one Pillow picture per caption event, laid over as an ImageClip, where "
        "the stage has libass draw them: alike, not pixel-identical) and voice-over, 1080x1920 "
        "at 30 fps"
    )  # fmt: skip
    differs = (
        "the stage also measures and normalises the sound's loudness (three audio passes), "
        "writes the thumbnail, output.srt and captions.ass, and decodes its output to check "
        "it, none of which MoviePy does; the stage renders in parts, one per core, where "
        "MoviePy composes every frame in one Python thread and pipes it to one ffmpeg"
    )
    wall = report.compare(
        "rendering",
        "video stage / MoviePy, wall time of the same short, both with the stage's encoder settings",
        figures[ours_label], figures[same_label], differs, higher=False,
    )  # fmt: skip
    report.compare(
        "rendering",
        "video stage / MoviePy, CPU seconds of the same short (ffmpeg's included), both with the stage's encoder settings",
        cpus[ours_label], cpus[same_label], differs, higher=False,
    )  # fmt: skip
    measured = f"{wall.text()} as fast in wall time, with the same encoder settings"
    if not quick:
        own = report.compare(
            "rendering",
            "video stage / MoviePy with its own defaults (x264 medium, CRF 23; MP3), wall time",
            figures[ours_label], figures[theirs_label],
            differs + "; and the encoder settings (MoviePy's: x264 medium, CRF 23, MP3)",
            higher=False,
        )  # fmt: skip
        measured += f"; {own.text()} against MoviePy with its own defaults"
    report.target(
        "rendering", "≥ 3x faster than MoviePy doing the same work", measured, wall.median >= 3
    )
    report.notes.append(
        f"MoviePy against the stage, the same short: {same_work}. What still differs: {differs}. "
        f"MoviePy's caption pictures took {statistics.median(MOVIEPY_CAPTIONS):.2f} s of its time."
    )


# -- 6. memory ---------------------------------------------------------------------------------


def _peak(pid: int) -> int:
    """Peak resident memory (bytes) a process has had so far (VmHWM), or its RSS now."""
    import psutil

    status = Path(f"/proc/{pid}/status")
    try:
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return int(psutil.Process(pid).memory_info().rss)
    except (OSError, psutil.Error):
        return 0


def peak_rss(argv: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) of the process itself, and of the largest attempt supervisor
    it started (a built-in stage runs there); not of their programs (ffmpeg)."""
    import psutil

    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = supervisor = 0
    while process.poll() is None:
        peak = max(peak, _peak(process.pid))
        try:
            children = psutil.Process(process.pid).children()
        except psutil.Error:
            children = []
        for child in children:
            try:
                if "autoqueue.attempt.supervisor" in " ".join(child.cmdline()):
                    supervisor = max(supervisor, _peak(child.pid))
            except psutil.Error:
                continue
        time.sleep(0.01)
    return peak / 1e6, supervisor / 1e6


def section_memory(report: Report, quick: bool, big_db: Path | None) -> None:
    from autoqueue.tasks.home import init_home
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    runs = 1 if quick else 3
    ticks: list[float] = []
    supervisors: list[float] = []
    for _ in range(runs):
        with scratch() as home:
            workspace = Workspace.load(home)
            init_home(workspace)
            conn = workspace.connect()
            now = utcnow()
            add_task(workspace, conn, now, title="메모리 측정 영상", type="shortform")
            conn.close()
            tick, supervisor = peak_rss(
                [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"]
            )
            ticks.append(tick)
            supervisors.append(supervisor)
    render = report.add("memory", "peak RSS of tick --drain while it renders a video", ticks, "MB")
    stage = report.add(
        "memory",
        "peak RSS of the attempt supervisor that renders it (not ffmpeg)",
        supervisors,
        "MB",
    )
    listing = None
    if big_db is not None:
        argv = [
            sys.executable,
            "-m",
            "autoqueue",
            "--db",
            str(big_db),
            "list",
            "completed",
            "--json",
        ]
        listing = report.add(
            "memory",
            f"peak RSS of list completed --json on {big_db.stem}",
            [peak_rss(argv)[0] for _ in range(runs)],
            "MB",
        )
    worst = max(max(render.samples), max(stage.samples), max(listing.samples) if listing else 0)
    report.target(
        "memory",
        "tick (and the attempt rendering) under 150 MB",
        f"{worst:.0f} MB at most over {runs} runs each",
        worst < 150,
    )


# -- main --------------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in (
            "autoqueue",
            "huey",
            "litequeue",
            "persist-queue",
            "moviepy",
            "imageio-ffmpeg",
            "psycopg",
            "procrastinate",
        )
        if installed(name)
    )
    server = "PostgreSQL not found"
    pg_ctl = shutil.which("pg_ctl") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))), None
    )
    if pg_ctl:
        found = subprocess.run([pg_ctl, "--version"], capture_output=True, text=True, check=False)
        server = found.stdout.strip().replace("pg_ctl (PostgreSQL)", "PostgreSQL")
    return [
        f"- machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {server}",
        f"- packages: {versions}",
    ]


def checkout_state() -> str:
    """The code measured: ``commit <short id>``, with `` with uncommitted changes`` when the
    tree differs from it (the RESULTS files aside: writing them is what a run does)."""
    root = str(HERE.parent)
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", ".", ":(exclude)bench/RESULTS*.md"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "code outside a git checkout (no commit to name)"
    return f"commit {commit}" + (" with uncommitted changes" if changed else "")


def write_results(
    report: Report, started: datetime, command: str, state: str,
    name: str = "RESULTS.md", folder: Path = HERE,
) -> Path:  # fmt: skip
    targets = (
        [
            "## Targets",
            "",
            "| section | target | measured | met |",
            "|---|---|---|---|",
            *(
                f"| {t.section} | {t.goal} | {t.measured} | {'yes' if t.met else '**no**'} |"
                for t in report.targets
            ),
            "",
        ]
        if report.judged
        else [QUICK_NOTE, ""]
    )
    comparisons = (
        [
            "## Comparisons",
            "",
            "Each ratio is how many times faster autoqueue is (below 1: slower), median and "
            "[min–max] over the turns both took in this run.",
            "",
            "| section | compared | ratio | what still differs |",
            "|---|---|---|---|",
            *(
                f"| {c.section} | {c.what} | {c.ratio.text()} | {c.differs} |"
                for c in report.comparisons
            ),
            "",
        ]
        if report.comparisons
        else []
    )
    lines = [
        f"# autoqueue benchmark results: {state}",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `{command}`, on {state}.",
        "Ratios compare figures measured in the same run; values are medians with [min–max] over repeats.",
        "",
        *machine(),
        "",
        *targets,
        *comparisons,
        "## Figures",
        "",
        "| section | what | value |",
        "|---|---|---|",
        *(f"| {f.section} | {f.name} | {f.text()} |" for f in report.figures),
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in report.notes),
        "",
    ]
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- 7. PostgreSQL -----------------------------------------------------------------------------


def section_postgresql(report: Report, quick: bool, repeats: int) -> None:
    sys.path.insert(0, str(HERE))
    import pg

    few, many = (4, 20) if quick else (40, 300)
    tasks = 20 if quick else 400
    counts = (1, 2) if quick else (1, 2, 4)
    with scratch() as folder:
        os.chmod(folder, 0o755)
        server = pg._server(folder / "cluster")
        try:
            worker_label = f"autoqueue worker: tasks/s, {few} tasks × 5 stages, 4 of them supervised no-op programs"
            chained_label = f"Procrastinate worker: tasks/s, {many} tasks × 5 chained no-op jobs"
            single_label = f"Procrastinate worker: tasks/s, {many} tasks × 1 no-op job"
            runs: dict[str, Callable[[], float]] = {
                worker_label: lambda: pg.worker_tasks(server, folder, few)
            }
            if installed("procrastinate"):
                runs[chained_label] = lambda: pg.procrastinate_tasks(server, many, True)
                runs[single_label] = lambda: pg.procrastinate_tasks(server, many, False)
            else:
                report.notes.append(
                    "procrastinate is not installed (pip install -e '.[bench]'): skipped"
                )
            samples = round_robin(repeats, runs)
            figures = {
                label: report.add("postgresql", label, values, "/s")
                for label, values in samples.items()
            }
            if chained_label in figures:
                differs = (
                    "autoqueue runs each of four stages as a supervised subprocess (an attempt "
                    "supervisor, Python, starting /bin/sh) and records it exactly once; "
                    "Procrastinate's job is a coroutine in its worker's process"
                )
                report.compare(
                    "postgresql",
                    "autoqueue worker / Procrastinate worker, tasks/s, a task through five stages (five chained jobs)",
                    figures[worker_label], figures[chained_label], differs,
                )  # fmt: skip
                report.compare(
                    "postgresql",
                    "autoqueue worker (a task through five stages) / Procrastinate worker (a task of one job), tasks/s",
                    figures[worker_label], figures[single_label],
                    differs + "; and the unit: five stages against one job",
                )  # fmt: skip
                report.notes.append(
                    "postgresql, through the real workers: each worker is a process of its own "
                    "with its defaults (autoqueue worker: one item per queue type at a time, "
                    "five queue types side by side, woken by NOTIFY; Procrastinate 3: one job at "
                    "a time, woken by LISTEN/NOTIFY), started and idle before the clock; the "
                    "clock runs from the first enqueue (autoqueue: the function `autoqueue add` "
                    "calls, in the benchmark's process; Procrastinate: defer() from a sync app) "
                    "to the last stage or job done. The number of tasks differs "
                    f"({few} through autoqueue's worker, {many} through Procrastinate's) so that "
                    "each run lasts seconds. The earlier target, 'transitions/s at least level "
                    "with Procrastinate', is withdrawn: it set the engine's bare loop against "
                    "Procrastinate's worker. What each side guarantees that the other does not: "
                    f"{GUARANTEES['autoqueue']}; {GUARANTEES['procrastinate']}."
                )
            engine = round_robin(  # the counts take turns, as contenders do
                repeats,
                {
                    f"engine loop alone (no worker, no supervisor, no stage): transitions/s, "
                    f"{workers} process(es), {tasks} tasks": (
                        lambda w=workers: pg.engine_rate(server, folder, tasks, w)
                    )
                    for workers in counts
                },
            )
            for label, values in engine.items():
                report.add("postgresql", label, values, "/s")
            history, claims = (10_000, 50) if quick else (1_000_000, 300)
            nothing, lots = pg.claim_latencies(server, folder, (0, history), claims)
            empty = report.add(
                "postgresql", f"claim latency, empty table ({claims} claims, taking turns)",
                [1000 * v for v in nothing], "ms",
            )  # fmt: skip
            full = report.add(
                "postgresql",
                f"claim latency, {history:,} history rows ({claims} claims, taking turns)",
                [1000 * v for v in lots], "ms",
            )  # fmt: skip
            report.target(
                "postgresql",
                f"claim latency at {history:,} history rows within 1.5x of empty",
                f"{full.median / empty.median:.2f}x (medians of {claims} claims each, the two "
                f"databases taking turns: {full.median:.2f} ms against {empty.median:.2f} ms)",
                full.median <= 1.5 * empty.median,
            )
            pipe_tasks, seconds = (
                (3, (0.05, 0.1, 0.3, 0.05)) if quick else (20, (0.5, 1.0, 2.0, 0.5))
            )

            def make_home(workers: int) -> Callable[[Path, str], Path]:
                def make(base: Path, url: str) -> Path:
                    os.environ["AUTOQUEUE_DB"] = url
                    try:
                        home = pipeline_home(base, pipe_tasks, seconds)
                    finally:
                        del os.environ["AUTOQUEUE_DB"]
                    with (home / "autoqueue.toml").open("a", encoding="utf-8") as config:
                        config.write(f"\n[queues.video]\nconcurrency = {workers}\n")
                    return home

                return make

            one_label = f"pipelining makespan, {pipe_tasks} tasks, one worker"
            two_label = (
                f"pipelining makespan, {pipe_tasks} tasks, two workers (one video slot each)"
            )
            samples = round_robin(
                1 if quick else min(repeats, 3),
                {
                    one_label: lambda: pg.pipelining(server, folder, make_home(1), 1),
                    two_label: lambda: pg.pipelining(server, folder, make_home(2), 2),
                },
            )
            one = report.add("postgresql", one_label, samples[one_label], "s")
            two = report.add("postgresql", two_label, samples[two_label], "s")
            speedups = [a / b for a, b in zip(one.samples, two.samples, strict=True)]
            report.target(
                "postgresql",
                "two workers shorten the pipelining makespan",
                f"{statistics.median(speedups):.2f}x faster than one "
                f"[per turn {min(speedups):.2f}–{max(speedups):.2f}]",
                two.median < one.median,
            )
        finally:
            server.stop()


QUICK_NOTE = (
    "smoke run (--quick): every section at toy sizes, so its figures mean nothing; no target "
    "is judged (the full run, without --quick, judges them)"
)

SECTIONS = ("throughput", "scale", "latency", "pipelining", "rendering", "memory", "postgresql")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (CI)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    parser.add_argument(
        "--out", type=Path, default=HERE, metavar="DIR", help="where RESULTS files go (bench/)"
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument(
        "--against",
        metavar="COMMIT",
        help="rendering: also measure this commit's render CPU beside this one's (a worktree)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats per figure (default 5, quick 2; a full run's engine-against-the-disk pair three times as many)",
    )
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    chosen = args.only or list(SECTIONS)
    started = datetime.now(UTC)
    state = checkout_state()  # before the run: a commit made meanwhile is not what was measured
    report = Report(judged=not args.quick)
    big_db = None
    print(
        f"autoqueue benchmarks ({'quick' if args.quick else 'full'}) on {state}: "
        f"{', '.join(chosen)}",
        flush=True,
    )
    if args.quick:
        print(QUICK_NOTE, flush=True)
    if "throughput" in chosen:
        section_throughput(report, args.quick, repeats)
    if "scale" in chosen:
        big_db = section_scale(report, args.quick)
    if "latency" in chosen:
        section_latency(report, args.quick, repeats)
    if "pipelining" in chosen:
        section_pipelining(report, args.quick, repeats)
    if "rendering" in chosen:
        section_rendering(report, args.quick, repeats)
        if args.against:
            compare_render(report, args.against, repeats)
    if "memory" in chosen:
        section_memory(report, args.quick, big_db)
    if "postgresql" in chosen:
        section_postgresql(report, args.quick, repeats)
    if big_db is not None:
        shutil.rmtree(big_db.parent, ignore_errors=True)
    for note in report.notes:
        print(f"  note: {note}")
    if not args.quick or args.write:
        command = "python bench/run.py" + (" --quick" if args.quick else "")
        if args.only:
            command += "".join(f" --only {section}" for section in args.only)
        if args.against:
            command += f" --against {args.against}"
        if args.repeats:
            command += f" --repeats {args.repeats}"
        # A run of some sections only keeps its figures apart from the full run's.
        name = "RESULTS.md" if args.only is None else f"RESULTS-{'-'.join(args.only)}.md"
        print(f"wrote {write_results(report, started, command, state, name, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
