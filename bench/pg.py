"""The PostgreSQL section of the benchmarks (imported by bench/run.py): transitions per second
through the real engine with 1, 2 and 4 worker processes, beside Procrastinate on the same
server with the same durability settings; claim latency from an empty table to 1M history rows;
the 20-task pipelining makespan with two workers against one.

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


# -- autoqueue workers ---------------------------------------------------------------------------


def _autoqueue_worker(url: str, home: str, start: Any, done: Any) -> None:
    from autoqueue.owner import Owner
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.outcomes import complete_and_claim
    from autoqueue.queue.pipeline import QUEUE_ORDER
    from autoqueue.queue.policy import Policy
    from autoqueue.stages.base import StageResult
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    workspace = Workspace.load(Path(home), url)
    conn = workspace.connect()
    owner = Owner(f"bench-{os.getpid()}", os.getpid(), 1.0)
    # Every queue type gets as many slots as there are workers: the workers share each queue.
    policy = Policy(slots=tuple((q, 8) for q in QUEUE_ORDER))
    result = StageResult()
    now = utcnow()
    count = 0
    start.wait()
    idle_rounds = 0
    while idle_rounds < 3:
        moved = False
        for queue_type in QUEUE_ORDER:
            item = claim_next(conn, queue_type, owner, policy, now)
            while item is not None:
                moved = True
                _, item = complete_and_claim(conn, item, result, policy, now, owner)
                count += 1
        idle_rounds = 0 if moved else idle_rounds + 1
    conn.close()
    done.put(count)


def autoqueue_rate(server: Any, folder: Path, tasks: int, workers: int) -> float:
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
        context.Process(target=_autoqueue_worker, args=(url, str(home), start, done))
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


# -- Procrastinate -------------------------------------------------------------------------------


def _procrastinate_app(url: str, *, sync: bool) -> Any:
    """An app with one no-op task; ``sync`` for deferring from plain code, else the worker's."""
    import procrastinate

    connector = procrastinate.SyncPsycopgConnector if sync else procrastinate.PsycopgConnector
    app = procrastinate.App(connector=connector(conninfo=url))

    @app.task(name="noop", queue="bench")
    def noop() -> None:
        return None

    return app


def _procrastinate_worker(url: str, start: Any, done: Any) -> None:
    app = _procrastinate_app(url, sync=False)
    with app.open():
        start.wait()
        app.run_worker(
            queues=["bench"],
            wait=False,
            concurrency=1,
            install_signal_handlers=False,
            listen_notify=False,
            delete_jobs="never",
        )
    done.put(1)


def procrastinate_rate(server: Any, jobs: int, workers: int) -> float:

    name = f"pc{time.monotonic_ns()}"
    server.create_database(name)
    url = server.url(name)
    app = _procrastinate_app(url, sync=True)
    with app.open():
        app.schema_manager.apply_schema()
        task = app.tasks["noop"]
        for _ in range(jobs):
            task.defer()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    done = context.Queue()
    procs = [
        context.Process(target=_procrastinate_worker, args=(url, start, done))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.5)
    began = time.perf_counter()
    start.set()
    for _ in procs:
        done.get(timeout=600)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    with app.open():
        finished = app.connector.execute_query_one(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'"
        )["n"]
    server.drop_database(name)
    assert finished == jobs, finished
    return jobs / elapsed


# -- claim latency at scale ----------------------------------------------------------------------


def claim_latency(server: Any, folder: Path, history: int, samples: int) -> float:
    """Median seconds of one claim (rolled back) with ``history`` completed rows beside it."""
    import statistics

    from autoqueue.attempt import processes
    from autoqueue.kinds import QueueType
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.policy import Policy
    from autoqueue.timeutil import utcnow

    url, _, workspace = _home(server, folder, "cl")
    conn = workspace.connect()
    task = "00000000-0000-4000-8000-000000000000"
    conn.execute(
        "INSERT INTO tasks (id, title, type, settings) VALUES (?, 'h', 'shortform', '{}')", (task,)
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
    owner = processes.current_owner()
    timings = []
    for _ in range(samples):
        conn.execute("BEGIN")
        began = time.perf_counter()
        item = claim_next(conn, QueueType.VIDEO, owner, Policy(), utcnow())
        timings.append(time.perf_counter() - began)
        conn.execute("ROLLBACK")
        assert item is not None
    conn.close()
    _drop(server, url)
    return statistics.median(timings)


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
