"""One unit of work through each queue, end to end (imported by bench/run.py and bench/pg.py).

The unit is a task through five stages. autoqueue runs it as its users do: ``autoqueue worker``
(a process of its own, started and idle before the clock starts) takes each task through
schedule, script, image, video and youtube, every stage but the internal schedule one a
``command`` stage (``programs/noop_stage.sh``: /bin/sh leaving the outputs the stage must
leave), and so a supervised subprocess: an attempt supervisor (Python) that runs the program,
logs its output, records how it ended, and is what crash recovery adopts. The queue libraries
run five chained no-op jobs per task, each job enqueuing the next as their users would write
it: huey through its consumer (one worker thread, its default), litequeue and persist-queue,
which ship no worker, through the loop their users write, in a process of its own. The clock
runs from the first enqueue (inside it) to the last job done. Here everything is on SQLite
with ``synchronous=FULL`` (autoqueue's setting); bench/pg.py runs the same ``worker_tasks`` on
PostgreSQL beside Procrastinate's worker.

``engine_tasks`` is autoqueue's engine alone (no worker, no supervisor, no stage run: claim and
complete in a loop in this process), reported apart and labelled as such.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOOP_STAGE = HERE / "programs" / "noop_stage.sh"
STAGES = 5  # schedule, script, image, video, youtube; the libraries' five chained jobs
IDLE = 0.01  # seconds the hand-written loops sleep when their queue is empty
DEADLINE = 900.0  # seconds: a run that has not finished by then has failed


# -- autoqueue ---------------------------------------------------------------------------------


def noop_home(folder: Path, db_url: str | None = None) -> tuple[Path, Any]:
    """An initialised home whose script, image, video and youtube stages run
    ``programs/noop_stage.sh``: (home, workspace)."""
    from autoqueue.tasks.home import init_home
    from autoqueue.workspace import Workspace

    home = folder / f"noop-{time.monotonic_ns()}"
    home.mkdir()
    argv = f'["/bin/sh", "{NOOP_STAGE.as_posix()}"]'
    config = "\n".join(
        f"[stages.{stage}]\ncommand = {argv}" for stage in ("script", "image", "video", "youtube")
    )
    (home / "autoqueue.toml").write_text(config + "\n", encoding="utf-8")
    workspace = Workspace.load(home, db_url)
    init_home(workspace)
    return home, workspace


def _enqueue(workspace: Any, count: int) -> None:
    """``count`` tasks, as ``autoqueue add`` adds each (validated, then one transaction), in
    this process: the command's own start-up (about half a second of Python and typer) is not
    counted, as a library's caller is not either."""
    from autoqueue.tasks.add import AddRequest, add_task, prepare_add
    from autoqueue.timeutil import utcnow

    conn = workspace.connect()
    try:
        for n in range(count):
            now = utcnow()
            add_task(
                workspace,
                conn,
                prepare_add(workspace, AddRequest(title=f"t{n}", tz="UTC"), now),
                now,
            )
    finally:
        conn.close()


def _finished(conn: Any, tasks: int) -> bool:
    """Whether all ``tasks`` went through their five stages; raises on a failed item."""
    failed = conn.execute("SELECT count(*) FROM task_queue WHERE status = 'failed'").fetchone()[0]
    if failed:
        raise RuntimeError(f"{failed} queue item(s) failed in the benchmark")
    done = conn.execute(
        "SELECT count(*) FROM task_queue WHERE queue_type = 'youtube' AND status = 'completed'"
    ).fetchone()[0]
    return int(done) == tasks


def worker_tasks(folder: Path, tasks: int, db_url: str | None = None) -> float:
    """Tasks per second through ``autoqueue worker``: ``tasks`` tasks enqueued, each through
    its five stages, from the first enqueue to the last stage completed."""
    home, workspace = noop_home(folder, db_url)
    env = {**os.environ}
    if db_url is not None:
        env["AUTOQUEUE_DB"] = db_url
    log = (folder / f"{home.name}.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "worker"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    watch = workspace.connect()
    try:
        _wait_for_lock(watch, worker)
        time.sleep(0.5)  # its queue threads start, find nothing and wait
        started = time.perf_counter()
        _enqueue(workspace, tasks)
        while not _finished(watch, tasks):
            if worker.poll() is not None or time.perf_counter() - started > DEADLINE:
                raise RuntimeError(f"autoqueue worker stopped or stalled: {_tail(log.name)}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        watch.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()
    return tasks / elapsed


def _wait_for_lock(conn: Any, worker: subprocess.Popen[bytes]) -> None:
    """Until the worker holds the scheduler lock: it has imported, connected and started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError("autoqueue worker exited at start")
        row = conn.execute("SELECT locked_by FROM scheduler_lock").fetchone()
        if row is not None and str(row[0]).endswith(f":{worker.pid}"):
            return
        time.sleep(0.05)
    raise RuntimeError("autoqueue worker did not start within 60 s")


def _tail(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")[-1000:]
    except OSError:
        return ""


def engine_tasks(folder: Path, tasks: int) -> float:
    """autoqueue's engine alone: tasks per second for ``tasks`` tasks added (inside the clock)
    and moved through five stages by claim and complete-and-claim in a loop in this process.
    No worker, no supervisor, no stage program, no output check."""
    from autoqueue.timeutil import utcnow

    _home, workspace = noop_home(folder)
    conn = workspace.connect()
    started = time.perf_counter()
    _enqueue(workspace, tasks)
    done = drain_engine(conn, utcnow())
    elapsed = time.perf_counter() - started
    conn.close()
    assert done == tasks * STAGES, done
    return tasks / elapsed


def drain_engine(conn: Any, now: Any, owner: Any = None, policy: Any = None) -> int:
    """Move every waiting item through its stages as a draining worker does (complete and
    claim in one commit), in this process, at ``now``, as ``owner`` (this process) under
    ``policy`` (the defaults); the number of transitions."""
    from autoqueue.attempt import processes
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.outcomes import complete_and_claim
    from autoqueue.queue.pipeline import QUEUE_ORDER
    from autoqueue.queue.policy import Policy
    from autoqueue.stages.base import StageResult

    owner = processes.current_owner() if owner is None else owner
    policy = Policy() if policy is None else policy
    result = StageResult()
    done = 0
    for queue_type in QUEUE_ORDER:
        item = claim_next(conn, queue_type, owner, policy, now)
        while item is not None:
            _, item = complete_and_claim(conn, item, result, policy, now, owner)
            done += 1
    return done


# -- the libraries -----------------------------------------------------------------------------


def _huey(path: str, done: Any = None, total: int = 0) -> tuple[Any, Any]:
    """A huey with one task, ``stage``, whose run enqueues the task's next stage (huey's own
    way: calling a task enqueues it). With ``done``, an event set when ``total`` tasks have
    completed (counted by huey's SIGNAL_COMPLETE, in the consumer)."""
    from huey import SqliteHuey
    from huey.signals import SIGNAL_COMPLETE

    huey = SqliteHuey("bench", filename=path, fsync=True)  # fsync: synchronous=FULL

    @huey.task()
    def stage(task: int, number: int) -> None:
        if number < STAGES:
            stage(task, number + 1)

    if done is not None:
        count = [0]

        @huey.signal(SIGNAL_COMPLETE)
        def completed(_signal: str, _task: Any) -> None:
            count[0] += 1
            if count[0] == total:
                done.set()

    return huey, stage


def _huey_consumer(path: str, total: int, ready: Any, done: Any) -> None:
    huey, _stage = _huey(path, done, total)
    consumer = huey.create_consumer(workers=1)  # its defaults: one worker thread
    consumer.start()
    ready.set()
    done.wait(DEADLINE)
    consumer.stop(graceful=True)


def _litequeue(path: str) -> Any:
    from litequeue import LiteQueue

    queue = LiteQueue(path)
    queue.conn.execute("PRAGMA synchronous = FULL")  # it sets NORMAL
    return queue


def _litequeue_worker(path: str, total: int, ready: Any, done: Any) -> None:
    """The loop a litequeue user writes: pop, run the job (enqueue its next stage), mark it
    done; sleep a moment when the queue is empty."""
    queue = _litequeue(path)
    ready.set()
    count = 0
    while count < total:
        message = queue.pop()
        if message is None:
            time.sleep(IDLE)
            continue
        task, number = json.loads(message.data)
        if number < STAGES:
            queue.put(json.dumps([task, number + 1]))
        queue.done(message.message_id)
        count += 1
    done.set()


def _persistqueue(path: str) -> Any:
    from persistqueue import SQLiteAckQueue

    queue = SQLiteAckQueue(path, auto_commit=True)
    for conn in {id(queue._putter): queue._putter, id(queue._getter): queue._getter}.values():
        conn.execute("PRAGMA synchronous = FULL")
    return queue


def _persistqueue_worker(path: str, total: int, ready: Any, done: Any) -> None:
    """The loop a persist-queue user writes: get, run the job (put its next stage), ack; sleep a
    moment when the queue is empty (its blocking get waits on an event of its own process)."""
    from persistqueue import Empty

    queue = _persistqueue(path)
    ready.set()
    count = 0
    while count < total:
        try:
            item = queue.get(block=False)
        except Empty:
            time.sleep(IDLE)
            continue
        task, number = item
        if number < STAGES:
            queue.put((task, number + 1))
        queue.ack(item)
        count += 1
    done.set()


def _library(worker: Any, path: str, tasks: int, enqueue: Any) -> float:
    """Tasks per second through a library's worker process (started and ready before the
    clock): ``enqueue(n)`` puts task ``n``'s first job, inside the clock."""
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    process = context.Process(target=worker, args=(path, tasks * STAGES, ready, done))
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError(f"{worker.__name__} did not start")
        time.sleep(0.5)  # as for autoqueue's worker: it finds nothing and waits
        started = time.perf_counter()
        for n in range(tasks):
            enqueue(n)
        if not done.wait(DEADLINE):
            raise RuntimeError(f"{worker.__name__} did not finish")
        elapsed = time.perf_counter() - started
    finally:
        process.join(60)
        if process.is_alive():
            process.terminate()
    return tasks / elapsed


def huey_tasks(folder: Path, tasks: int) -> float:
    path = str(folder / f"huey-{time.monotonic_ns()}.db")
    _huey_app, stage = _huey(path)
    return _library(_huey_consumer, path, tasks, lambda n: stage(n, 1))


def litequeue_tasks(folder: Path, tasks: int) -> float:
    path = str(folder / f"lite-{time.monotonic_ns()}.db")
    queue = _litequeue(path)  # the table exists before the worker opens it
    return _library(_litequeue_worker, path, tasks, lambda n: queue.put(json.dumps([n, 1])))


def persistqueue_tasks(folder: Path, tasks: int) -> float:
    path = str(folder / f"pq-{time.monotonic_ns()}")
    queue = _persistqueue(path)
    return _library(_persistqueue_worker, path, tasks, lambda n: queue.put((n, 1)))
