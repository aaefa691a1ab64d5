"""SQL for ``tasks``."""

from __future__ import annotations

import json

from autoqueue.models import Task
from autoqueue.repo import reads
from autoqueue.store.db import Connection


def insert(conn: Connection, task: Task) -> Task:
    """Insert a validated task; returns the row as stored."""
    row = conn.execute(
        "INSERT INTO tasks (id, title, type, user_id, product_info, settings, max_retry, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (
            task.id,
            task.title,
            task.type.value,
            task.user_id,
            None
            if task.product_info is None
            else json.dumps(task.product_info, ensure_ascii=False),
            json.dumps(task.settings, ensure_ascii=False),
            task.max_retry,
            task.created_at,
            task.updated_at,
        ),
    ).fetchone()
    return Task.model_validate(dict(row))


def get(conn: Connection, task_id: str) -> Task | None:
    row = reads.task(conn, task_id)
    return None if row is None else Task.model_validate(dict(row))


def by_setting(conn: Connection, key: str) -> dict[str, str]:
    """{value of settings[key]: task id} of the tasks that have the setting (first one wins)."""
    found: dict[str, str] = {}
    rows = conn.execute("SELECT id, settings FROM tasks ORDER BY created_at, id").fetchall()
    for task_id, text in rows:
        try:
            settings = json.loads(text) if text else None
        except json.JSONDecodeError:
            continue
        value = settings.get(key) if isinstance(settings, dict) else None
        if value is not None:
            found.setdefault(str(value), str(task_id))
    return found


def set_title(conn: Connection, task_id: str, title: str, now: str) -> None:
    conn.execute("UPDATE tasks SET title = ?, updated_at = ? WHERE id = ?", (title, now, task_id))


def set_settings(conn: Connection, task_id: str, settings: dict[str, object], now: str) -> None:
    conn.execute(
        "UPDATE tasks SET settings = ?, updated_at = ? WHERE id = ?",
        (json.dumps(settings, ensure_ascii=False), now, task_id),
    )


def set_last_error(conn: Connection, task_id: str, error: str | None, now: str) -> None:
    conn.execute(
        "UPDATE tasks SET last_error = ?, updated_at = ? WHERE id = ?", (error, now, task_id)
    )


def set_content_id(conn: Connection, task_id: str, content_id: str | None, now: str) -> None:
    conn.execute(
        "UPDATE tasks SET content_id = ?, updated_at = ? WHERE id = ?", (content_id, now, task_id)
    )


def set_last_run(conn: Connection, task_id: str, now: str) -> None:
    """The task's run finished now (on the task itself: cleanup deletes completed queue rows)."""
    conn.execute(
        "UPDATE tasks SET last_run_at = ?, updated_at = ? WHERE id = ?", (now, now, task_id)
    )


def set_youtube_url(conn: Connection, task_id: str, url: str, now: str) -> None:
    conn.execute(
        "UPDATE tasks SET youtube_url = ?, updated_at = ? WHERE id = ?", (url, now, task_id)
    )


def delete(conn: Connection, task_id: str, *, files_removed: bool, now: str) -> dict[str, int]:
    """Delete a task with its schedules, queue items (and their stage state), log rows and
    notifications. Its contents stay, as orphans (the library keeps what was made and
    published); when the task's files go too, their paths are cleared. Returns how many rows
    of each kind went."""
    counts: dict[str, int] = {}
    if files_removed:
        conn.execute(
            "UPDATE contents SET video_path = NULL, thumbnail_path = NULL, updated_at = ? "
            "WHERE task_id = ?",
            (now, task_id),
        )
    counts["contents_kept"] = int(
        conn.execute("SELECT count(*) FROM contents WHERE task_id = ?", (task_id,)).fetchone()[0]
    )
    counts["logs"] = conn.execute("DELETE FROM task_logs WHERE task_id = ?", (task_id,)).rowcount
    counts["notifications"] = conn.execute(
        "DELETE FROM notifications WHERE task_id = ?", (task_id,)
    ).rowcount
    conn.execute(
        "DELETE FROM stage_state WHERE queue_id IN (SELECT id FROM task_queue WHERE task_id = ?)",
        (task_id,),
    )
    counts["queue_items"] = conn.execute(
        "DELETE FROM task_queue WHERE task_id = ?", (task_id,)
    ).rowcount
    counts["schedules"] = conn.execute(
        "DELETE FROM task_schedules WHERE task_id = ?", (task_id,)
    ).rowcount
    conn.execute("UPDATE contents SET task_id = NULL WHERE task_id = ?", (task_id,))
    conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
    return counts
