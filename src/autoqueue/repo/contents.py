"""SQL for ``contents``: the "My contents" library, one row per run (docs/concepts.md)."""

from __future__ import annotations

from autoqueue.repo.views import Content
from autoqueue.store.db import Connection


def insert_script(
    conn: Connection,
    *,
    content_id: str,
    user_id: str | None,
    format: str,
    title: str,
    content: str,
    task_id: str,
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO contents (id, user_id, type, format, title, content, status, progress, "
        "task_id, created_at, updated_at) "
        "VALUES (?, ?, 'script', ?, ?, ?, 'completed', 100, ?, ?, ?)",
        (content_id, user_id, format, title, content, task_id, now, now),
    )


def set_video(
    conn: Connection, content_id: str, *, video_path: str, thumbnail_path: str, now: str
) -> None:
    conn.execute(
        "UPDATE contents SET type = 'video', video_path = ?, thumbnail_path = ?, updated_at = ? "
        "WHERE id = ?",
        (video_path, thumbnail_path, now, content_id),
    )


def finish_run(
    conn: Connection,
    content_id: str,
    youtube_url: str | None,
    now: str,
    video_sha256: str | None = None,
) -> None:
    """The youtube stage completed: the content is done, and published when it has a URL,
    with the checksum of the file it published when the stage reports one.

    A stage that reports no URL (a local outbox, say) did not publish anything on YouTube.
    """
    conn.execute(
        "UPDATE contents SET status = 'completed', error = NULL, "
        "youtube_url = COALESCE(?, youtube_url), "
        "published = CASE WHEN CAST(? AS TEXT) IS NULL THEN published ELSE 1 END, "
        "video_sha256 = COALESCE(?, video_sha256), updated_at = ? WHERE id = ?",
        (youtube_url, youtube_url, video_sha256, now, content_id),
    )


def published_url(conn: Connection, task_id: str, video_sha256: str) -> str | None:
    """The URL under which the task already published a file with this checksum, if it did."""
    row = conn.execute(
        "SELECT youtube_url FROM contents WHERE task_id = ? AND published = 1 "
        "AND video_sha256 = ? ORDER BY updated_at LIMIT 1",
        (task_id, video_sha256),
    ).fetchone()
    return None if row is None else str(row[0] or "")


def set_failed(conn: Connection, content_id: str, error: str, now: str) -> None:
    conn.execute(
        "UPDATE contents SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
        (error, now, content_id),
    )


def relocate(conn: Connection, content_id: str, *, old: str, new: str, now: str) -> None:
    """Point a content's video or thumbnail path at the place its run's file was archived to."""
    conn.execute(
        "UPDATE contents SET "
        "video_path = CASE WHEN video_path = :old THEN :new ELSE video_path END, "
        "thumbnail_path = CASE WHEN thumbnail_path = :old THEN :new ELSE thumbnail_path END, "
        "updated_at = :now WHERE id = :id AND (video_path = :old OR thumbnail_path = :old)",
        {"old": old, "new": new, "now": now, "id": content_id},
    )


def get(conn: Connection, content_id: str) -> Content | None:
    row = conn.execute("SELECT * FROM contents WHERE id = ?", (content_id,)).fetchone()
    return None if row is None else Content.from_row(row)


def list_contents(conn: Connection, *, task_id: str | None, limit: int) -> list[Content]:
    if task_id is None:
        rows = conn.execute("SELECT * FROM contents ORDER BY created_at DESC, id LIMIT ?", (limit,))
    else:
        rows = conn.execute(
            "SELECT * FROM contents WHERE task_id = ? ORDER BY created_at DESC, id LIMIT ?",
            (task_id, limit),
        )
    return [Content.from_row(row) for row in rows]


def forget_paths_under(conn: Connection, prefix: str, now: str) -> None:
    """Clear the file paths of contents whose files were under ``prefix`` (a removed folder)."""
    conn.execute(
        "UPDATE contents SET video_path = NULL, thumbnail_path = NULL, updated_at = ? "
        "WHERE substr(video_path, 1, ?) = ? OR substr(thumbnail_path, 1, ?) = ?",
        (now, len(prefix), prefix, len(prefix), prefix),
    )
