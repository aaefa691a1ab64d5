"""How a worker starts, the one way ``tick``, ``worker`` and ``demo`` all take: the home's
identity checked against the database's (a worker never runs one home's stages against another
home's database), the database's clock (leases and due times agree across hosts whose clocks
differ), then the :class:`~autoqueue.worker.tick.Worker`. docs/hosts.md and ARCHITECTURE.md
describe the arrangement on several hosts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from autoqueue.errors import DatabaseError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.repo import meta as meta_repo
from autoqueue.store.db import Connection, clock, dialect, transaction
from autoqueue.workspace import IDENTITY_FILE, Workspace

if TYPE_CHECKING:
    from autoqueue.worker.report import Processed
    from autoqueue.worker.tick import Worker

HOME_ID = "home_id"


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
        own_file = not dialect(conn).shared and workspace.db_path.parent == workspace.home
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


def open_worker(
    workspace: Workspace,
    *,
    grace: float = 30.0,
    listener: Callable[[Processed], None] | None = None,
    queues: Collection[QueueType] | None = None,
    notice: Callable[[str], None] | None = None,
) -> Worker:
    """A worker for ``workspace``, after refusing a missing or foreign database, or a home
    that is not the database's own, before any lock is taken; its leases and due times follow
    the database's clock."""
    from autoqueue.worker.tick import Worker

    with closing(workspace.connect(create=False)) as conn:
        check_identity(workspace, conn)
        database_clock = clock(conn)
    return Worker(
        workspace,
        grace=grace,
        listener=listener,
        queues=queues,
        clock=database_clock,
        notice=notice,
    )
