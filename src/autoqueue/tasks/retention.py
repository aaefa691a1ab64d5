"""Retention (``autoqueue cleanup``): completed queue rows and routine log rows, archived runs,
outbox copies and attempt records older than a given age."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autoqueue.attempt import files as attempt_files
from autoqueue.layout import RUNS
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import notifications as notifications_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.timeutil import parse_duration, to_db
from autoqueue.workspace import Workspace


@dataclass(frozen=True)
class Cleaned:
    """The rows cleanup removed (or, with --dry-run, would remove)."""

    queue_rows: int
    log_rows: int
    cutoff: str
    notifications: int = 0  # sent or given up (docs/notifications.md)


def cleanup(conn: Connection, older_than: str, now: datetime, *, dry_run: bool) -> Cleaned:
    """Delete completed queue rows, routine log rows and finished notifications older than
    ``older_than`` (warnings, errors, people's actions and each run's start and end rows stay,
    and so does every notification still to send)."""
    cutoff = to_db(now - parse_duration(older_than))
    with transaction(conn):
        count = queue_repo.delete_completed_before(conn, cutoff, dry_run=dry_run)
        logs = logs_repo.prune_routine_before(conn, cutoff, dry_run=dry_run)
        notifications = notifications_repo.prune_before(conn, cutoff, dry_run=dry_run)
    return Cleaned(count, logs, cutoff, notifications)


@dataclass
class Swept:
    """What file retention removed (or, with --dry-run, would remove), by kind."""

    folders: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0


def _tree_size(folder: Path) -> tuple[int, int, float]:
    """(files, bytes, newest modification time) of a folder, itself included."""
    files = size = 0
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        info = path.lstat()
        newest = max(newest, info.st_mtime)
        if path.is_file() and not path.is_symlink():
            files += 1
            size += info.st_size
    return files, size, newest


def sweep_files(
    workspace: Workspace, conn: Connection, older_than: str, now: datetime, *, dry_run: bool
) -> Swept:
    """Retention for what only grows on disk: archived runs (``tasks/ID/runs/*``), outbox copies
    (``outbox/ID``) and attempt records (``tasks/ID/attempts/*``) untouched for longer than
    ``older_than``. Never the current run's files, and never the record of an attempt whose item
    is still processing (its result is how a crash is recovered without running it again).
    Contents rows that pointed into a removed run lose those paths."""
    from autoqueue.stages.outbox import OUTBOX

    cutoff = (now - parse_duration(older_than)).timestamp()
    swept = Swept()
    busy = {str(row[0]) for row in queue_repo.processing_ids(conn)}
    candidates: list[tuple[str, Path]] = []
    if workspace.tasks_dir.is_dir():
        for task_dir in sorted(workspace.tasks_dir.iterdir()):
            for kind in (RUNS, attempt_files.ATTEMPTS):
                parent = task_dir / kind
                if not parent.is_dir():
                    continue
                for folder in sorted(parent.iterdir()):
                    if kind == attempt_files.ATTEMPTS and folder.name.split("-", 1)[0] in busy:
                        continue
                    candidates.append((kind, folder))
    outbox = workspace.home / OUTBOX
    if outbox.is_dir():
        candidates += [("outbox", folder) for folder in sorted(outbox.iterdir())]
    stamp = to_db(now)
    for kind, folder in candidates:
        if not folder.is_dir() or folder.is_symlink():
            continue
        files, size, newest = _tree_size(folder)
        if newest >= cutoff:
            continue
        swept.folders[kind] = swept.folders.get(kind, 0) + 1
        swept.files += files
        swept.bytes += size
        if dry_run:
            continue
        if kind == RUNS:
            with transaction(conn):
                contents_repo.forget_paths_under(conn, workspace.relative(folder) + "/", stamp)
        shutil.rmtree(folder, ignore_errors=True)
    return swept
