"""The SQLite backend: a database file opened (created or upgraded as needed), its PRAGMAs, and
a read-only folder or file read without writing anything. Its migrations are in
autoqueue.store.migrations."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autoqueue.errors import DatabaseError, ReadOnlyError
from autoqueue.i18n import _
from autoqueue.store.db import BUSY_TIMEOUT_SECONDS
from autoqueue.store.migrations import SCHEMA_VERSION, migrate, table_names


def wal_path(path: Path) -> Path:
    """The database's write-ahead log, beside it: ``autoqueue.db-wal``."""
    return path.with_name(path.name + "-wal")


def _has_wal_changes(path: Path) -> bool:
    wal = wal_path(path)
    return wal.is_file() and wal.stat().st_size > 0


def is_initialised(path: Path) -> bool:
    """Whether ``path`` holds a database: an empty file (``touch autoqueue.db``) does not, unless
    its write-ahead log holds what was written so far."""
    if not path.exists():
        return False
    return not path.is_file() or path.stat().st_size > 0 or _has_wal_changes(path)


def read_only_part(path: Path) -> Path | None:
    """The folder or file that keeps SQLite from writing the database at ``path`` (a read-only
    mount, no permission), or None. The folder counts: the -wal and -shm files go beside it."""
    if not os.access(path.parent, os.W_OK):  # EROFS too: access() checks the mount
        return path.parent
    if path.exists() and not os.access(path, os.W_OK):
        return path
    return None


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open (creating or upgrading as needed) the autoqueue database at ``path``.

    A file that is not SQLite, or SQLite that is not autoqueue's, is refused and left untouched.
    The file is only ever opened through SQLite: closing any other descriptor of it would drop
    the POSIX locks that this process's other connections hold (SQLite's "How To Corrupt" 2.2).
    A database autoqueue may not write is refused, unless the caller only reads (``read_only``):
    then it is opened without writing anything.
    """
    if path.is_dir():
        raise DatabaseError(_("database path {path} is a directory").format(path=path))
    if path.parent.is_dir():
        locked = read_only_part(path)
        if locked is not None and read_only and path.is_file():
            return _connect_read_only(path)
        if locked is not None:
            raise ReadOnlyError(
                _(
                    "{path} is read-only: autoqueue cannot write its database there "
                    "(list, tasks, show, logs, contents and watch can still read it)"
                ).format(path=locked)
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _open(path, str(path), uri=False)
    with _closed_on_error(conn, path):
        _check_sqlite(conn, path)
        migrate(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def _closed_on_error(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Setting a connection up: on any error it is closed (a database SQLite cannot read is
    said so, naming the file), never left open behind the exception."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _unreadable(path, exc) from exc
    except BaseException:
        conn.close()
        raise


def _open(path: Path, target: str, *, uri: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            target, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS, uri=uri,
            check_same_thread=True,
        )  # fmt: skip
    except sqlite3.Error as exc:
        raise DatabaseError(
            _("cannot open database {path}: {exc}").format(path=path, exc=exc)
        ) from exc
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    return conn


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> DatabaseError:
    return DatabaseError(
        _("database {path} is unreadable or corrupt: {exc}").format(path=path, exc=exc)
    )


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not SQLite, reading only its header."""
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise DatabaseError(
                _("{path} is not a SQLite database; refusing to touch it").format(path=path)
            ) from exc
        raise


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a database whose folder or file is read-only, for reading, writing nothing.

    A WAL reader needs the -wal and -shm files beside the database. They exist while a writer
    has it open (through another, writable path to the same folder), and ``mode=ro`` reads
    through them. Otherwise they cannot be made here; but then no change waits in a -wal, the
    file is the whole database, and ``immutable=1`` reads it without locks or a -shm. (A
    writer that opens it elsewhere during that read is not seen: a read-only copy is a snapshot.)
    """
    uri = path.resolve().as_uri()
    conn = _open(path, f"{uri}?mode=ro", uri=True)
    try:
        _check_sqlite(conn, path)
    except sqlite3.OperationalError:
        conn.close()
        if _has_wal_changes(path):
            raise ReadOnlyError(
                _(
                    "{path} is read-only and its last changes are still in {wal}, which only "
                    "a writable folder can recover: open it once where it is writable"
                ).format(path=path.parent, wal=wal_path(path).name)
            ) from None
        conn = _open(path, f"{uri}?immutable=1", uri=True)
    with _closed_on_error(conn, path):
        _check_sqlite(conn, path)
        _check_current(conn, path)
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_current(conn: sqlite3.Connection, path: Path) -> None:
    """A read-only database is read only at this autoqueue's schema: it cannot be upgraded."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version == 0 and not {"tasks", "task_queue"} <= table_names(conn):
        raise DatabaseError(
            _("{path} is SQLite but not an autoqueue database; refusing to touch it").format(
                path=path
            )
        )
    if version > SCHEMA_VERSION:
        migrate(conn, path)  # says to upgrade autoqueue
    raise ReadOnlyError(
        _(
            "database {path} has schema version {version} and needs upgrading to {SCHEMA_VERSION}, "
            "but {folder} is read-only: run any command once where it is writable"
        ).format(path=path, version=version, SCHEMA_VERSION=SCHEMA_VERSION, folder=path.parent)
    )
