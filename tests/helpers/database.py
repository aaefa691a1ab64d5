"""A home's database from the test process, whichever backend, on a connection of its own that
each helper closes: rows read (``queue_rows``, ``db_value``, ``logged``) and tasks added for
tests/programs/stage.py to run (``add_mixed``)."""

from __future__ import annotations

from pathlib import Path

from autoqueue.store.db import Row
from autoqueue.tasks.add import AddRequest

from ..conftest import add_many, open_db


def queue_rows(home: Path) -> list[Row]:
    """Every row of task_queue, in the order they were added."""
    conn = open_db(home)
    try:
        return conn.execute("SELECT * FROM task_queue ORDER BY id").fetchall()
    finally:
        conn.close()


def db_value(home: Path, sql: str, *params: object) -> object:
    """The first column of the first row ``sql`` returns, or None when it returns none."""
    conn = open_db(home)
    try:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


def logged(home: Path, sql: str, *params: object) -> list[Row]:
    """Every row ``sql`` returns."""
    conn = open_db(home)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def add_mixed(home: Path, count: int, *, sleep_video: float) -> list[str]:
    """``count`` tasks, crawl and upload in turn (so image runs for half), whose video and
    script stages take a moment."""
    return add_many(
        home,
        [
            AddRequest(
                title=f"task {n}",
                media_mode="crawl" if n % 2 else "upload",
                settings=[f"sleep_video={sleep_video}", "sleep_script=0.02"],
            )
            for n in range(count)
        ],
    )
