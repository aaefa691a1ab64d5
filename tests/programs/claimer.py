"""Claims and completes items straight through the engine, bypassing the scheduler lock, so that
several of these processes race on one database. Journals each claim's start and end.

usage: claimer.py HOME JOURNAL SECONDS
"""

import json
import random
import sys
import time
from pathlib import Path

from autoqueue.attempt import processes
from autoqueue.kinds import QueueType
from autoqueue.queue.claims import claim_next
from autoqueue.queue.outcomes import complete_item
from autoqueue.queue.policy import Policy
from autoqueue.stages.base import StageResult
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

home, journal, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
workspace = Workspace.load(home)
conn = workspace.connect()
owner = processes.current_owner()
policy = Policy(delays=(0,), max_retry=3, lease_seconds=300)
deadline = time.monotonic() + seconds
idle_since = time.monotonic()
with journal.open("a", encoding="utf-8") as out:
    while time.monotonic() < deadline and time.monotonic() - idle_since < 3:
        queue_type = random.choice(list(QueueType))
        item = claim_next(conn, queue_type, owner, policy, utcnow())
        if item is None:
            time.sleep(0.005)
            continue
        idle_since = time.monotonic()
        processing = conn.execute(
            "SELECT count(*) FROM task_queue WHERE queue_type = ? AND status = 'processing'",
            (queue_type.value,),
        ).fetchone()[0]
        start = time.time()
        time.sleep(random.uniform(0.001, 0.02))
        end = time.time()
        ok = complete_item(conn, item, StageResult(), policy, utcnow())
        out.write(
            json.dumps(
                {
                    "item": item.id,
                    "task": item.task_id,
                    "queue": queue_type.value,
                    "start": start,
                    "end": end,
                    "ok": ok,
                    "pid": owner.pid,
                    "processing_seen": processing,
                }
            )
            + "\n"
        )
        out.flush()
