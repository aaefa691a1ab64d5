"""``autoqueue init``: a home's database, its folders and a commented ``autoqueue.toml``."""

from __future__ import annotations

from autoqueue.config import DEFAULT_CONFIG_TEXT
from autoqueue.workspace import Workspace


def init_home(workspace: Workspace) -> list[str]:
    """Create the database, ``tasks/`` and a commented ``autoqueue.toml``; returns what was made.

    The database comes first: one that autoqueue refuses (not SQLite, another program's, a
    newer schema) or a server that cannot be reached leaves the home exactly as it was."""
    from autoqueue.worker.start import check_identity

    existed = workspace.database_exists()
    conn = workspace.connect()
    try:
        workspace.home.mkdir(parents=True, exist_ok=True)  # a folder it may not write: refused
        check_identity(workspace, conn)  # the home's autoqueue.id and the database's, alike
    finally:
        conn.close()
    made = _home_folders(workspace)
    if not workspace.config_path.exists():
        workspace.config_path.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
        made.append(str(workspace.config_path))
    if not existed:
        made.append(workspace.database)
    return made


def _home_folders(workspace: Workspace) -> list[str]:
    """``tasks/``, and ``music/`` and ``media/`` for background tracks and the user's own
    photos and clips (docs/stages.md "What the video stage makes", "Your own footage")."""
    made: list[str] = []
    for folder in (workspace.tasks_dir, workspace.home / "music", workspace.home / "media"):
        if not folder.exists():
            folder.mkdir()
            made.append(f"{folder}/")
    return made
