"""The read layer's SQL: what ``list``, ``tasks``, ``show``, ``logs`` and ``contents`` and the
terminal app read, as rows (no validation library: a read command loads none, ARCHITECTURE.md
"Fast reads"). The engine's repositories (tasks, schedules, queue) validate these same rows
into its models."""

from __future__ import annotations

from typing import Any

from autoqueue.kinds import Tab
from autoqueue.store.db import EVERY_QUEUE, Connection, Row


def task(conn: Connection, task_id: str) -> Row | None:
    return conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()


def tasks(conn: Connection) -> list[Row]:
    """Every task, oldest first."""
    return conn.execute("SELECT * FROM tasks ORDER BY created_at, id").fetchall()


def tasks_with_prefix(conn: Connection, prefix: str, *, limit: int) -> list[Row]:
    """Tasks whose id starts with ``prefix`` (hex digits and dashes only: the caller checks),
    by id, at most ``limit``. ``substr`` rather than LIKE (whose case rules differ between the
    backends) or a range on the key (whose order follows a PostgreSQL database's collation)."""
    return conn.execute(
        "SELECT * FROM tasks WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
        (len(prefix), prefix, limit),
    ).fetchall()


def held_for_review(conn: Connection) -> list[Row]:
    """The items waiting for a person's review, longest waiting first, with their task's title."""
    return conn.execute(
        "SELECT q.id, q.task_id, q.queue_type, q.review_since, t.title FROM task_queue AS q "
        "JOIN tasks AS t ON t.id = q.task_id WHERE q.status = 'waiting' "
        "AND q.review_since IS NOT NULL ORDER BY q.review_since, q.id"
    ).fetchall()


def task_notifications(conn: Connection, task_id: str, limit: int) -> list[Row]:
    """A task's notifications (docs/notifications.md), newest first."""
    return conn.execute(
        "SELECT id, kind, status, attempts, last_error, created_at, sent_at FROM notifications "
        "WHERE task_id = ? ORDER BY id DESC LIMIT ?",
        (task_id, limit),
    ).fetchall()


def schedules(conn: Connection, task_id: str | None = None) -> list[Row]:
    """Every schedule by task, or one task's, in the order they were made."""
    if task_id is None:
        return conn.execute("SELECT * FROM task_schedules ORDER BY task_id, id").fetchall()
    return conn.execute(
        "SELECT * FROM task_schedules WHERE task_id = ? ORDER BY id", (task_id,)
    ).fetchall()


def queue_items(conn: Connection, task_id: str) -> list[Row]:
    """A task's queue items, oldest first."""
    return conn.execute(
        "SELECT * FROM task_queue WHERE task_id = ? ORDER BY id", (task_id,)
    ).fetchall()


_TAB_WHERE = {
    Tab.SCHEDULE: "q.queue_type = 'schedule' AND q.status IN ('waiting', 'processing')",
    Tab.SCRIPT: "q.queue_type = 'script' AND q.status IN ('waiting', 'processing')",
    Tab.IMAGE: "q.queue_type = 'image' AND q.status IN ('waiting', 'processing')",
    Tab.VIDEO: "q.queue_type = 'video' AND q.status IN ('waiting', 'processing')",
    Tab.YOUTUBE: "q.queue_type = 'youtube' AND q.status IN ('waiting', 'processing')",
    Tab.FAILED: f"q.{EVERY_QUEUE} AND q.status = 'failed'",
    Tab.COMPLETED: "q.queue_type = 'youtube' AND q.status = 'completed'",
}


def tab_rows(conn: Connection, tab: Tab, limit: int) -> list[dict[str, object]]:
    """One tab of ``autoqueue list``: queues in claim order, history newest first."""
    if tab is Tab.COMPLETED:
        order = "q.completed_at DESC, q.id DESC"
    elif tab is Tab.FAILED:
        order = "q.updated_at DESC, q.id DESC"
    else:
        order = "q.created_at, q.id"
    rows = conn.execute(
        f"SELECT q.*, t.title, t.type FROM task_queue AS q JOIN tasks AS t ON t.id = q.task_id "
        f"WHERE {_TAB_WHERE[tab]} ORDER BY {order} LIMIT ?",
        (limit,),
    )
    return [dict(row) for row in rows]


def processing_rows(conn: Connection) -> list[dict[str, object]]:
    """The items being processed now, with their task's title."""
    rows = conn.execute(
        "SELECT q.*, t.title FROM task_queue AS q JOIN tasks AS t ON t.id = q.task_id "
        f"WHERE q.{EVERY_QUEUE} AND q.status = 'processing' ORDER BY q.queue_type"
    )
    return [dict(row) for row in rows]


def tab_counts(conn: Connection) -> dict[Tab, int]:
    return {
        tab: int(conn.execute(f"SELECT count(*) FROM task_queue AS q WHERE {where}").fetchone()[0])
        for tab, where in _TAB_WHERE.items()
    }


def task_summaries(conn: Connection, task_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Per task (every one, or just ``task_id``): how many items are processing and waiting,
    the status of its newest item, and when its last run finished (its youtube item
    completed). Items of runs a later run replaced do not count: what a task is doing is its
    newest run's business."""
    only = "WHERE superseded_at IS NULL " + ("" if task_id is None else "AND task_id = :task ")
    rows = conn.execute(
        "SELECT task_id, "
        "sum(CASE WHEN status = 'processing' THEN 1 ELSE 0 END) AS processing, "
        "sum(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END) AS waiting, "
        "sum(CASE WHEN status = 'waiting' AND review_since IS NOT NULL THEN 1 ELSE 0 END) "
        "AS held, "
        "max(CASE WHEN queue_type = 'youtube' AND status = 'completed' THEN completed_at END) "
        f"AS last_run, max(id) AS newest FROM task_queue {only}GROUP BY task_id",
        {"task": task_id},
    ).fetchall()
    found = {
        str(row["task_id"]): {
            "processing": int(row["processing"]),
            "waiting": int(row["waiting"]),
            "held": int(row["held"]),
            "last_run": row["last_run"],
            "newest": int(row["newest"]),
        }
        for row in rows
    }
    if found:
        newest = conn.execute(
            "SELECT task_id, status FROM task_queue WHERE id IN "
            f"(SELECT max(id) FROM task_queue {only}GROUP BY task_id)",
            {"task": task_id},
        ).fetchall()
        for row in newest:
            found[str(row["task_id"])]["status"] = str(row["status"])
    return found
