"""The PostgreSQL section of the benchmarks (imported by bench/run.py): tasks per second through
``autoqueue worker`` beside Procrastinate's worker on the same server, each running no-op work
end to end; the engine's own transitions per second alone (no worker, no supervisor, no stage:
a claim-and-complete loop), with 1, 2 and 4 processes; claim latency from an empty table to 1M
history rows; the 20-task pipelining makespan with two workers against one.

The server is a throwaway cluster started here (tests/pgserver.py) with PostgreSQL's default
durability (fsync on, synchronous_commit on), so both queues pay the same commit.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = 5


def _server(folder: Path) -> Any:
    sys.path.insert(0, str(ROOT))
    from tests.pgserver import PgServer

    server = PgServer(folder, durable=True)
    server.start()
    return server


def _home(server: Any, folder: Path, prefix: str) -> tuple[str, Path, Any]:
    """A new database on the server and an initialised home using it: (url, home, workspace)."""
    from autoqueue.tasks.home import init_home
    from autoqueue.workspace import Workspace

    name = f"{prefix}{time.monotonic_ns()}"
    server.create_database(name)
    url = server.url(name)
    home = folder / name
    home.mkdir()
    workspace = Workspace.load(home, url)
    init_home(workspace)
    return url, home, workspace


def _drop(server: Any, url: str) -> None:
    server.drop_database(url.rsplit("/", 1)[1].split("?", 1)[0])


# -- the engine alone ------------------------------------------------------------------------------


def _engine_loop(url: str, home: str, start: Any, done: Any) -> None:
    """One process of the engine alone: claim and complete-and-claim every queue in turn until
    three rounds find nothing. Not ``autoqueue worker``: no stage runs, no supervisor, no log of
    a program's output, no lease renewal, no recovery."""
    from queues import drain_engine

    from autoqueue.owner import Owner
    from autoqueue.queue.pipeline import QUEUE_ORDER
    from autoqueue.queue.policy import Policy
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    workspace = Workspace.load(Path(home), url)
    conn = workspace.connect()
    owner = Owner(f"bench-{os.getpid()}", os.getpid(), 1.0)
    # Every queue type gets as many slots as there are workers: the workers share each queue.
    policy = Policy(slots=tuple((q, 8) for q in QUEUE_ORDER))
    now = utcnow()
    count = 0
    start.wait()
    idle_rounds = 0
    while idle_rounds < 3:
        moved = drain_engine(conn, now, owner, policy)
        count += moved
        idle_rounds = 0 if moved else idle_rounds + 1
    conn.close()
    done.put(count)


def engine_rate(server: Any, folder: Path, tasks: int, workers: int) -> float:
    """Transitions per second of the engine alone in ``workers`` processes (``_engine_loop``),
    the tasks added before the clock starts."""
    from autoqueue.tasks.add import AddRequest, add_task, prepare_add
    from autoqueue.timeutil import utcnow

    url, home, workspace = _home(server, folder, "aq")
    conn = workspace.connect()
    now = utcnow()
    for n in range(tasks):
        prepared = prepare_add(workspace, AddRequest(title=f"t{n}", tz="UTC"), now)
        add_task(workspace, conn, prepared, now)
    conn.close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    done = context.Queue()
    procs = [
        context.Process(target=_engine_loop, args=(url, str(home), start, done))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let every worker import and connect
    began = time.perf_counter()
    start.set()
    total = sum(done.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    _drop(server, url)
    assert total == tasks * STAGES, total
    return total / elapsed


# -- through the real workers ----------------------------------------------------------------------


def worker_tasks(server: Any, folder: Path, tasks: int) -> float:
    """Tasks per second through ``autoqueue worker`` on a database of its own on the server:
    each task through its five stages, the four after schedule supervised subprocesses
    (``queues.worker_tasks``), from the first enqueue to the last stage completed."""
    import queues

    name = f"wk{time.monotonic_ns()}"
    server.create_database(name)
    try:
        return float(queues.worker_tasks(folder, tasks, server.url(name)))
    finally:
        server.drop_database(name)


def _procrastinate_app(url: str, *, sync: bool) -> Any:
    """An app with a no-op task, ``noop``, and ``stage``, a no-op whose run defers the task's
    next stage (five in all); ``sync`` for deferring from plain code, else the worker's."""
    import procrastinate

    connector = procrastinate.SyncPsycopgConnector if sync else procrastinate.PsycopgConnector
    app = procrastinate.App(connector=connector(conninfo=url))

    @app.task(name="noop", queue="bench")
    async def noop() -> None:
        return None

    @app.task(name="stage", queue="bench")
    async def stage(task: int, number: int) -> None:
        if number < STAGES:
            await stage.defer_async(task=task, number=number + 1)

    return app


def _procrastinate_worker(url: str, ready: Any) -> None:
    """Procrastinate's worker with its defaults (one job at a time, woken by LISTEN/NOTIFY,
    stopped by SIGTERM), on the ``bench`` queue; jobs are kept, to be counted."""
    import asyncio

    app = _procrastinate_app(url, sync=False)

    async def run() -> None:
        async with app.open_async():
            ready.set()
            await app.run_worker_async(queues=["bench"], delete_jobs="never")

    asyncio.run(run())


def procrastinate_tasks(server: Any, tasks: int, chained: bool) -> float:
    """Tasks per second through Procrastinate's worker (a process of its own, started and idle
    before the clock): ``tasks`` tasks deferred inside the clock, each one no-op job, or with
    ``chained`` five, each deferring the next; until every job has succeeded."""
    import psycopg

    name = f"pc{time.monotonic_ns()}"
    server.create_database(name)
    url = server.url(name)
    app = _procrastinate_app(url, sync=True)
    expected = tasks * (STAGES if chained else 1)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    worker = context.Process(target=_procrastinate_worker, args=(url, ready))
    try:
        with app.open(), psycopg.connect(url, autocommit=True) as watch:
            app.schema_manager.apply_schema()
            worker.start()
            if not ready.wait(60):
                raise RuntimeError("Procrastinate's worker did not start")
            time.sleep(0.5)  # as for autoqueue's worker: it finds nothing and waits
            started = time.perf_counter()
            for n in range(tasks):
                if chained:
                    app.tasks["stage"].defer(task=n, number=1)
                else:
                    app.tasks["noop"].defer()
            while True:
                counts = dict(
                    watch.execute(
                        "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1"
                    ).fetchall()
                )
                if counts.get("failed"):
                    raise RuntimeError(f"Procrastinate jobs failed: {counts}")
                if counts.get("succeeded", 0) == expected:
                    break
                if not worker.is_alive() or time.perf_counter() - started > 900:
                    raise RuntimeError(f"Procrastinate's worker stopped or stalled: {counts}")
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
    finally:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: its graceful stop
        worker.join(60)
        server.drop_database(name)
    return tasks / elapsed


# -- claim latency at scale ----------------------------------------------------------------------


def claim_latencies(
    server: Any, folder: Path, histories: tuple[int, ...], samples: int
) -> list[list[float]]:
    """Seconds of each of ``samples`` claims (rolled back) in one database for each of
    ``histories``, with that many completed rows beside the waiting item; the databases take
    turns, claim by claim, so that a slow moment of this shared machine falls on all alike."""
    from autoqueue.attempt import processes
    from autoqueue.kinds import QueueType
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.policy import Policy
    from autoqueue.timeutil import utcnow

    task = "00000000-0000-4000-8000-000000000000"
    cases = []
    for history in histories:
        url, _, workspace = _home(server, folder, "cl")
        conn = workspace.connect()
        conn.execute(
            "INSERT INTO tasks (id, title, type, settings) VALUES (?, 'h', 'shortform', '{}')",
            (task,),
        )
        if history:
            conn.execute(
                "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at, "
                "completed_at) SELECT ?, (ARRAY['schedule','script','image','video','youtube'])"
                "[1 + n % 5], 'completed', timestamptz '2025-01-01' + n * interval '1 second', "
                "timestamptz '2025-06-01', timestamptz '2025-01-02' + n * interval '1 second' "
                "FROM generate_series(1, ?) AS n",
                (task, history),
            )
        conn.execute(
            "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at) "
            "VALUES (?, 'video', 'waiting', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (task,),
        )
        conn.execute("ANALYZE task_queue")
        cases.append((url, conn))
    owner = processes.current_owner()
    timings: list[list[float]] = [[] for _ in histories]
    for _ in range(samples):
        for (_url, conn), times in zip(cases, timings, strict=True):
            conn.execute("BEGIN")
            began = time.perf_counter()
            item = claim_next(conn, QueueType.VIDEO, owner, Policy(), utcnow())
            times.append(time.perf_counter() - began)
            conn.execute("ROLLBACK")
            assert item is not None
    for url, conn in cases:
        conn.close()
        _drop(server, url)
    return timings


# -- pipelining with two workers -----------------------------------------------------------------


def pipelining(
    server: Any, folder: Path, make_home: Callable[[Path, str], Path], workers: int
) -> float:
    """Makespan of the pipelining benchmark's tasks with ``workers`` worker processes (as two
    hosts) on one PostgreSQL database; video gets one slot per worker."""
    name = f"pl{time.monotonic_ns()}"
    server.create_database(name)
    url = server.url(name)
    home = make_home(folder, url)
    env = {**os.environ, "AUTOQUEUE_DB": url}
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "autoqueue", "--home", str(home), "worker"],
            env={**env, "AUTOQUEUE_HOST": f"host{n}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(workers)
    ]
    sys.path.insert(0, str(ROOT / "src"))
    from autoqueue.workspace import Workspace

    conn = Workspace.load(home, url).connect()
    try:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM task_queue WHERE status != 'completed'"
            ).fetchone()[0]
            youtube = conn.execute(
                "SELECT count(*) FROM task_queue WHERE queue_type = 'youtube' "
                "AND status = 'completed'"
            ).fetchone()[0]
            if waiting == 0 and youtube > 0:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
    finally:
        conn.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        server.drop_database(name)
    return elapsed
