"""Review before publishing, as a person does it: what waits (``review``), ``approve`` and
``reject``, each naming the task as the user typed it. The decisions are the queue's
transitions (autoqueue.queue.review); who decided is the OS user (docs/review.md)."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Any, NamedTuple

from autoqueue.errors import UsageError
from autoqueue.i18n import _
from autoqueue.layout import STORY, THUMBNAIL, VIDEO
from autoqueue.models import QueueItem
from autoqueue.queue.review import approve_item, reject_item
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import reads
from autoqueue.store.db import Connection
from autoqueue.tasks.views import get_task
from autoqueue.workspace import Workspace

NO_REASON = "no reason given"


def reviewer() -> str:
    """Who decides: the OS user running the command."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in the environment or the system
        return "unknown"


def _held(conn: Connection, text: str) -> QueueItem:
    task = get_task(conn, text)
    item = queue_repo.held_for_review(conn, task.id)
    if item is None:
        raise UsageError(_("task {id} has nothing waiting for review").format(id=task.id[:8]))
    return item


def approve_task(conn: Connection, text: str, now: datetime, user: str | None = None) -> QueueItem:
    """Let the task's held item run; returns it."""
    item = _held(conn, text)
    if not approve_item(conn, item, user=user or reviewer(), now=now):
        raise UsageError(_("task {id} has nothing waiting for review").format(id=item.task_id[:8]))
    return item


def reject_task(
    conn: Connection, text: str, reason: str | None, now: datetime, user: str | None = None
) -> QueueItem:
    """End the task's held run with ``reason``; it is never published. Returns the item."""
    item = _held(conn, text)
    why = (reason or "").strip() or NO_REASON
    if not reject_item(conn, item, reason=why, user=user or reviewer(), now=now):
        raise UsageError(_("task {id} has nothing waiting for review").format(id=item.task_id[:8]))
    return item


class HeldItem(NamedTuple):
    """An item waiting for review, as ``review`` shows it: what to look at is the video and
    its thumbnail before ``youtube`` (each None until it exists), the script's lines before
    ``video``."""

    task_id: str
    title: str
    item_id: int
    before: str  # the stage it waits before
    since: str | None
    task_dir: str
    video: str | None = None
    thumbnail: str | None = None
    script: tuple[str, ...] = ()

    @property
    def to_look_at(self) -> list[str]:
        """The files, or the script's lines, in the order ``review`` lists them."""
        if self.before == "youtube":
            return [path for path in (self.video, self.thumbnail) if path]
        return list(self.script)

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "task_id": self.task_id,
            "title": self.title,
            "item_id": self.item_id,
            "before": self.before,
            "since": self.since,
            "task_dir": self.task_dir,
        }
        if self.before == "youtube":
            shown.update(video=self.video, thumbnail=self.thumbnail)
        else:
            shown["script"] = list(self.script)
        return shown


def waiting(workspace: Workspace, conn: Connection) -> list[HeldItem]:
    """What waits for review, oldest first: the task, the stage it waits before, since when,
    and what to look at."""
    return [_view(workspace, dict(row)) for row in reads.held_for_review(conn)]


def _view(workspace: Workspace, row: dict[str, Any]) -> HeldItem:
    folder = workspace.task_dir(str(row["task_id"]))
    held = HeldItem(
        task_id=str(row["task_id"]),
        title=str(row["title"]),
        item_id=int(row["id"]),
        before=str(row["queue_type"]),
        since=row["review_since"],
        task_dir=str(folder),
    )
    if held.before == "youtube":
        return held._replace(
            video=str(folder / VIDEO) if (folder / VIDEO).is_file() else None,
            thumbnail=str(folder / THUMBNAIL) if (folder / THUMBNAIL).is_file() else None,
        )
    return held._replace(script=tuple(_script_lines(folder / STORY)))


def _script_lines(path: Any) -> list[str]:
    """The story's title and each scene's narration, as the reviewer reads them."""
    try:
        story = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    lines = [str(story.get("title", ""))] if story.get("title") else []
    lines += [str(scene.get("text", "")) for scene in story.get("scenes", []) if scene.get("text")]
    return lines
