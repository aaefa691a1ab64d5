"""Homes whose every stage is built in, rendering small, and their queues drained in this
process: ``small_home``, ``drain``, ``last_item``, and ``KOREAN_PRODUCT``, a product's
information in Korean for a task to carry."""

from __future__ import annotations

from pathlib import Path

from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.worker.tick import Worker
from autoqueue.workspace import Workspace

from ..conftest import write_config

KOREAN_PRODUCT = (
    '{"name": "무선 가습기", "price": "39,000원", "features": ["무소음", "8시간 지속"]}'
)


# Renders in most tests are 480p (854x480 or 480x854): the same filters, encoder and checks as
# 1080p at a fifth of the pixels. One test renders the full 1080x1920 a user gets by default.
SMALL = "[stages.video]\nresolution = 480\n"


def small_home(home: Path, extra: str = "", *, max_retry: int = 0) -> Workspace:
    """A home whose every stage is built in, rendering at 480p, with ``extra`` added to its
    [stages.video] settings."""
    write_config(home, f'timezone = "UTC"\n[retry]\nmax_retry = {max_retry}\n' + SMALL + extra)
    init_home(Workspace.load(home))
    return Workspace.load(home)


def drain(workspace: Workspace) -> None:
    """Run the home's queues in this process until nothing is left to do (5 minutes at most)."""
    Worker(Workspace.load(workspace.home)).run(drain=True, max_seconds=300)


def last_item(conn: Connection, task_id: str):  # type: ignore[no-untyped-def]
    """The task's queue item added last: the stage it has reached."""
    return queue_repo.for_task(conn, task_id)[-1]
