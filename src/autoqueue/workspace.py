"""The home directory: where the database, ``tasks/`` and ``autoqueue.toml`` live."""

from __future__ import annotations

import os
import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoqueue.errors import DatabaseError, UsageError
from autoqueue.i18n import _
from autoqueue.layout import CONFIG_NAME
from autoqueue.store import db, sqlite
from autoqueue.store.db import DB_NAME

if TYPE_CHECKING:
    from autoqueue.config import Config
    from autoqueue.store.link import Link

TASKS_DIR = "tasks"
# The home's identity, matched against the database's autoqueue_meta 'home_id': a worker whose
# home (a shared folder on several hosts) is not the one its database belongs to refuses to run.
IDENTITY_FILE = "autoqueue.id"


def parse_task_id(text: str) -> str:
    """Validate a task id as a UUID and return its canonical form; nothing else reaches a path."""
    import uuid

    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError) as exc:
        raise UsageError(
            _("{text!r} is not a task id (task ids are UUIDs)").format(text=text)
        ) from exc


_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parse_task_ref(text: str) -> str:
    """A task as the user typed it: a whole id, or the start of one (as git takes a commit's
    first characters; ``logs`` and ``watch`` print the first eight). Returns the canonical id,
    or the lower-case prefix to look up. Anything else is refused before it reaches SQL or a
    path."""
    cleaned = text.strip().lower()
    if _CANONICAL_ID.fullmatch(cleaned):
        return cleaned
    if len(cleaned) >= 32:  # a whole id written otherwise: no hyphens, braces, urn:uuid:
        import uuid

        try:
            return str(uuid.UUID(cleaned))
        except ValueError:
            pass
    if not _PREFIX.fullmatch(cleaned):
        raise UsageError(
            _(
                "{text!r} is not a task id (a UUID, or its first characters as `logs` prints them)"
            ).format(text=text)
        )
    return cleaned


class Workspace:
    """Paths and configuration of one autoqueue home. A plain class, not a dataclass: a read
    command loads no dataclasses module (ARCHITECTURE.md "Fast reads")."""

    __slots__ = ("__dict__", "db_path", "db_url", "home")  # __dict__: the cached configuration

    home: Path
    db_path: Path
    db_url: str | None  # a postgresql:// URL: the PostgreSQL backend instead of db_path

    def __init__(self, home: Path, db_path: Path, db_url: str | None = None) -> None:
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "db_path", db_path)
        object.__setattr__(self, "db_url", db_url)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Workspace is read-only: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Workspace):
            return NotImplemented
        return (self.home, self.db_path, self.db_url) == (other.home, other.db_path, other.db_url)

    def __hash__(self) -> int:
        return hash((self.home, self.db_path, self.db_url))

    def __repr__(self) -> str:
        return f"Workspace(home={self.home!r}, database={self.database!r})"

    def __reduce__(self) -> tuple[type[Workspace], tuple[Path, Path, str | None]]:
        """Copied and pickled through its constructor (its attributes cannot be set)."""
        return (Workspace, (self.home, self.db_path, self.db_url))

    @classmethod
    def load(cls, home: Path, database: Path | str | None = None) -> Workspace:
        """Resolve the home directory and read its configuration: a configuration that is
        wrong is refused here. ``database`` is a SQLite file or a PostgreSQL URL; without one,
        ``AUTOQUEUE_DB``, else ``autoqueue.db`` in the home."""
        workspace = cls.locate(home, database)
        workspace.config  # noqa: B018 (read and checked now, not at first use)
        return workspace

    @classmethod
    def locate(cls, home: Path, database: Path | str | None = None) -> Workspace:
        """The home and its database, without reading the configuration (a read command
        needs only its time zone: :attr:`display_zone`)."""
        home = home.expanduser().resolve()
        if database is None or database == "":
            database = os.environ.get("AUTOQUEUE_DB") or None
        if database is not None and db.is_url(str(database)):
            from autoqueue.store.dburl import check

            check(str(database))  # a URL libpq would misread is refused before any use
            return cls(home=home, db_path=home / DB_NAME, db_url=str(database))
        resolved_db = Path(database).expanduser().resolve() if database else home / DB_NAME
        return cls(home=home, db_path=resolved_db)

    @cached_property
    def config(self) -> Config:
        """``autoqueue.toml``, read and validated at first use (ConfigError when wrong)."""
        from autoqueue.config import load_config

        return load_config(self.config_path)

    def raw_config(self) -> dict[str, Any]:
        """``autoqueue.toml`` as parsed, not validated: what a read command shows of it (where
        a task's values came from) without the configuration's models (ARCHITECTURE.md "Fast
        reads"). Empty when there is no file or it does not parse (other commands say why)."""
        try:
            with self.config_path.open("rb") as handle:
                return tomllib.load(handle)
        except (OSError, ValueError):
            return {}

    @property
    def display_zone(self) -> str:
        """The zone times are shown in: the configuration's ``timezone``, else ``""``, this
        machine's clock as the operating system keeps it (:func:`timeutil.display_time` reads
        ``""`` so). Naming the machine's zone takes tzlocal, about a third of a fast read's time
        (ARCHITECTURE.md "Fast reads"), and showing a time needs no name. Read without
        validating the rest of the file when the configuration is not loaded yet, so that
        reading the queue does not wait for the whole configuration's checks; a file that does
        not parse, or a ``timezone`` that is no text, is loaded in full, which says what is
        wrong."""
        if "config" not in self.__dict__:
            try:
                with self.config_path.open("rb") as handle:
                    configured = tomllib.load(handle).get("timezone")
            except FileNotFoundError:
                configured = None
            except (OSError, ValueError):
                configured = self.config.timezone
            if not isinstance(configured, str | None):
                configured = self.config.timezone
            return configured or ""
        return self.config.timezone or ""

    @property
    def zone_name(self) -> str:
        """The home's zone by name, for what counts days in it (the daily digest, tomorrow's
        runs, usage's days): the configuration's ``timezone``, else this machine's zone."""
        from autoqueue.timeutil import local_zone_name

        return self.display_zone or local_zone_name()

    @property
    def database(self) -> str:
        """The database as it may be shown: the file, or the URL without its password."""
        if self.db_url is None:
            return str(self.db_path)
        return db.redact(self.db_url)

    @property
    def location(self) -> str:
        """What :func:`autoqueue.store.db.open_database` opens (may hold a password: never
        shown)."""
        return self.db_url if self.db_url is not None else str(self.db_path)

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

    def connect(
        self, *, create: bool = True, read_only: bool = False, link: Link | None = None
    ) -> db.Connection:
        """Open the database (creating or upgrading it, unless ``create`` is False and there is
        no autoqueue database there yet). ``read_only``: the caller only reads, so a database
        in a read-only folder is opened without writing instead of refused. ``link``: a
        worker's view of a PostgreSQL server, shared by its connections (autoqueue.store.link)."""
        if self.db_url is None:
            if not create and not sqlite.is_initialised(self.db_path):
                # An empty file (`touch autoqueue.db`) is no more a database than no file:
                # only `init` may write a schema into it.
                raise DatabaseError(
                    _(
                        "no autoqueue database at {db_path} (run `autoqueue init` there, or pass "
                        "--home / set AUTOQUEUE_HOME)"
                    ).format(db_path=self.db_path)
                )
            return sqlite.connect(self.db_path, read_only=read_only)
        return db.open_database(self.db_url, create=create, link=link)

    def database_exists(self) -> bool:
        if self.db_url is None:
            return sqlite.is_initialised(self.db_path)
        try:
            self.connect(create=False).close()
        except DatabaseError:
            return False
        return True
