"""What running on several hosts needs beyond the engine: which queue types this worker takes
(``--queues``), the home's identity (a worker never runs one home's stages against another
home's database), and the database's clock (leases and due times agree across hosts whose
clocks differ). docs/hosts.md and ARCHITECTURE.md describe the arrangement."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from autoqueue.errors import DatabaseError, UsageError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.repo import meta as meta_repo
from autoqueue.store.db import Connection, is_postgres, transaction
from autoqueue.timeutil import utcnow
from autoqueue.workspace import IDENTITY_FILE, Workspace

HOME_ID = "home_id"


def parse_queues(text: str | None) -> frozenset[QueueType] | None:
    """``--queues video,image`` as queue types; None (every type) when not given."""
    if text is None:
        return None
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(_("--queues wants queue types, e.g. --queues video,image"))
    chosen: set[QueueType] = set()
    for name in names:
        try:
            chosen.add(QueueType(name))
        except ValueError:
            choices = ", ".join(q.value for q in QueueType)
            raise UsageError(
                _("unknown queue type {name!r} in --queues (choose from: {choices})").format(
                    name=name, choices=choices
                )
            ) from None
    return frozenset(chosen)


def _read_home_id(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DatabaseError(
            _("cannot read {path}: {value}").format(path=path, value=exc.strerror or exc)
        ) from exc
    return text or None


def _write_home_id(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(value + "\n", encoding="utf-8")
    os.replace(partial, path)


def check_identity(workspace: Workspace, conn: Connection) -> str:
    """Make sure the home and the database belong together, and return their id.

    The first time either is used, the id is created and written to both. A home with no id
    file beside a database that has one is refused on PostgreSQL (another host that has not
    mounted the shared home, or a mistyped --home) and adopted on SQLite only when the file sits
    in that home (a home from before ids existed). Different ids are always refused."""
    path = workspace.home / IDENTITY_FILE
    in_file = _read_home_id(path)
    fresh = str(uuid.uuid4())
    with transaction(conn):
        in_db = meta_repo.get(conn, HOME_ID)
        if in_db is None:
            in_db = meta_repo.put_if_absent(conn, HOME_ID, in_file or fresh)
    if in_file == in_db:
        return in_db
    if in_file is None and in_db == fresh:  # both new: this home made the database's id
        _write_home_id(path, in_db)
        return in_db
    if in_file is None:
        own_file = not is_postgres(conn) and workspace.db_path.parent == workspace.home
        if own_file:
            _write_home_id(path, in_db)
            return in_db
        raise DatabaseError(
            _(
                "the home {home} is not the one database {database} belongs to (it has no "
                "{IDENTITY_FILE}; the database's home has id {in_db}): on another host, mount the "
                'shared home at the same path (README "Several hosts")'
            ).format(
                home=workspace.home,
                database=workspace.database,
                IDENTITY_FILE=IDENTITY_FILE,
                in_db=in_db,
            )
        )
    raise DatabaseError(
        _(
            "the home {home} (id {in_file}) is not the one database {database} belongs to (id "
            "{in_db}); refusing to run its stages here"
        ).format(home=workspace.home, in_file=in_file, database=workspace.database, in_db=in_db)
    )


def database_clock(conn: Connection) -> Callable[[], datetime]:
    """Now, in the database's clock: PostgreSQL's (this host's clock plus the difference,
    measured once), or this host's for SQLite, whose only clock it is."""
    if not is_postgres(conn):
        return utcnow
    offset = timedelta(seconds=conn.epoch() - utcnow().timestamp())  # type: ignore[attr-defined]

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    return clock
