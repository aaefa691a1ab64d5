"""The home directory: where the database, ``tasks/`` and ``autoqueue.toml`` live."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from autoqueue import db
from autoqueue.config import CONFIG_NAME, Config, load_config
from autoqueue.db import DB_NAME
from autoqueue.errors import UsageError

TASKS_DIR = "tasks"


def parse_task_id(text: str) -> str:
    """Validate a task id as a UUID and return its canonical form; nothing else reaches a path."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"{text!r} is not a task id (task ids are UUIDs)") from exc


@dataclass(frozen=True)
class Workspace:
    """Paths and configuration of one autoqueue home."""

    home: Path
    db_path: Path
    config: Config = field(default_factory=Config)

    @classmethod
    def load(cls, home: Path, db_path: Path | None = None) -> Workspace:
        """Resolve the home directory and read its configuration."""
        home = home.expanduser().resolve()
        config = load_config(home / CONFIG_NAME)
        resolved_db = db_path.expanduser().resolve() if db_path else home / DB_NAME
        return cls(home=home, db_path=resolved_db, config=config)

    @property
    def tasks_dir(self) -> Path:
        return self.home / TASKS_DIR

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    def task_dir(self, task_id: str) -> Path:
        """``tasks/{task_id}``, for a task id that has been validated as a UUID."""
        return self.tasks_dir / parse_task_id(task_id)

    def relative(self, path: Path) -> str:
        """A path inside the home as stored in the database: relative, '/' separated."""
        try:
            return path.relative_to(self.home).as_posix()
        except ValueError:
            return path.as_posix()

    def connect(self) -> sqlite3.Connection:
        """Open the database (creating or upgrading it)."""
        return db.connect(self.db_path)
