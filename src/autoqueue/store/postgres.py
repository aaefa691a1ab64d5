"""The PostgreSQL backend (psycopg 3): its connection, dialect, errors and migrations.

The repository's SQL is written once, with SQLite's ``?`` and ``:name`` placeholders; this
connection rewrites each statement once for psycopg (``%s``, ``%(name)s``, literal ``%``
doubled) and keeps the rewrite. Rows answer by index and by column name, as ``sqlite3.Row``
does. Timestamps are ``timestamptz(0)`` columns, read back as the same UTC text SQLite stores
(``YYYY-MM-DD HH:MM:SS``), so the engine compares and stores them the same way on both.

Errors from psycopg leave this module as :class:`autoqueue.store.db.PgError` subclasses, so that the
rest of autoqueue catches ``db.Error`` without importing psycopg (an idle SQLite tick never
loads it). ARCHITECTURE.md "Backends" describes the seam.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader

from autoqueue.errors import DatabaseError, UsageError
from autoqueue.i18n import _
from autoqueue.store.db import (
    BUSY_TIMEOUT_SECONDS,
    PgError,
    PgIntegrityError,
    PgOperationalError,
    PgUnreachableError,
)
from autoqueue.store.dburl import check, redact, scrub
from autoqueue.store.link import Link
from autoqueue.store.migrations import BACKFILL_LAST_RUN, BACKFILL_SUPERSEDED

PG_SCHEMA_VERSION = 5
# The key of the advisory lock that migrations are applied under (any constant; this one spells
# "autoqueue" in its first bytes).
MIGRATION_LOCK = 0x6175746F71
NOTIFY_CHANNEL = "autoqueue"

# SQLSTATEs worth waiting for: lock_not_available (lock_timeout), serialization_failure,
# deadlock_detected, and the server going away mid-restart (admin_shutdown, cannot_connect_now).
BUSY_STATES = frozenset({"55P03", "40001", "40P01", "57P01", "57P03"})
CONNECT_TIMEOUT = 10  # seconds for a first connection
RECONNECT_TIMEOUT = 5  # for a new one after the server went away (a thread waits on it)
# The statements that end a transaction, as db.transaction and _migrate write them.
_TRANSACTION_ENDS = ("COMMIT", "ROLLBACK")
# What db.transaction sends to undo a transaction; after a lost connection there is nothing
# left to undo (the server rolled it back when the connection went).
_UNDOING = ("ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")


class _StampLoader(Loader):
    """timestamptz as UTC text, SQLite's form (the session's TimeZone is UTC)."""

    def load(self, data: Any) -> str:
        text = bytes(data).decode("ascii")
        return text[:19]


class PgRow:
    """A row that answers by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: list[str], index: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PgRow):
            return NotImplemented
        return self._names == other._names and tuple(self._values) == tuple(other._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    description = cursor.description
    names = [column.name for column in description] if description else []
    index = {name: position for position, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(names, index, values)

    return make


_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_][A-Za-z0-9_]*)|%|::")


def translate(sql: str) -> str:
    """SQLite placeholders to psycopg's: ``?`` → ``%s``, ``:name`` → ``%(name)s``; ``%``
    doubled (in literals too, as psycopg wants when it is given parameters)."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if text == "::":
            return text
        return f"%({match.group(1)})s"

    return _TOKEN.sub(replace, sql)


def _reason(exc: psycopg.Error, url: str) -> str:
    """What psycopg or libpq said, on one line, with no trace of the URL's password."""
    return scrub(" ".join(str(exc).split()), url)


def _translate_error(exc: psycopg.Error, url: str) -> PgError:
    state = getattr(exc, "sqlstate", None) or ""
    message = _reason(exc, url)
    if isinstance(exc, pg_errors.IntegrityError):
        return PgIntegrityError(message, state)
    if state in BUSY_STATES or isinstance(exc, psycopg.OperationalError):
        return PgOperationalError(message, state)
    return PgError(message, state)


class PgCursor:
    """What ``execute`` returns: rows, and how many rows a write touched (None: a statement
    that had nothing to do, as a ROLLBACK after the connection was lost)."""

    def __init__(self, cursor: psycopg.Cursor[Any] | None) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return 0 if self._cursor is None else self._cursor.rowcount

    def fetchone(self) -> Any:
        if self._cursor is None or self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._cursor is None or self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """One psycopg connection in autocommit mode; ``db.transaction`` states BEGIN itself.

    When the server goes away, the connection is made again the next time it is used (as the
    shared ``link`` allows: autoqueue.store.link), never in the middle of a transaction: a
    transaction the lost connection was in is gone (the server rolled it back), so every
    statement but its ROLLBACK fails until the caller has given it up."""

    backend = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], url: str, link: Link | None = None) -> None:
        self.raw = raw
        self.url = url
        self.link = link if link is not None else Link()
        self._sql: dict[str, str] = {}
        self._begun = False  # a BEGIN without its COMMIT or ROLLBACK yet
        self._closed = False  # closed by its owner: never made again

    @property
    def in_transaction(self) -> bool:
        if self.raw.closed:
            return self._begun  # lost with the connection: the caller still owes its ROLLBACK
        return bool(self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def execute(self, sql: str, parameters: Any = ()) -> PgCursor:
        if self._closed:
            raise PgOperationalError(_("the connection to the database is closed"))
        if self.raw.closed:
            if self._begun:
                return self._after_lost_transaction(sql)
            self._reconnect()
        query = self._sql.get(sql)
        if query is None:
            query = self._sql[sql] = translate(sql)
        try:
            cursor = self.raw.execute(query, parameters if parameters is not None else ())
        except psycopg.Error as exc:
            if sql in _TRANSACTION_ENDS:
                self._begun = False
            raise self._error(exc) from exc
        if sql == "BEGIN":
            self._begun = True
        elif sql in _TRANSACTION_ENDS:
            self._begun = False
        return PgCursor(cursor)

    def executescript(self, script: str) -> None:
        """Statements without parameters, as written (DDL)."""
        try:
            self.raw.execute(script.encode("utf-8"))
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: psycopg.Error) -> PgError:
        """psycopg's error as autoqueue's: PgUnreachableError when the connection went with
        it (the server stopped, the network dropped)."""
        if self.raw.closed:
            return PgUnreachableError(_reason(exc, self.url), getattr(exc, "sqlstate", "") or "")
        return _translate_error(exc, self.url)

    def _after_lost_transaction(self, sql: str) -> PgCursor:
        if sql == "ROLLBACK":
            self._begun = False
            return PgCursor(None)
        if sql.startswith(_UNDOING):
            return PgCursor(None)
        raise PgUnreachableError(
            _(
                "the connection to the database was lost in the middle of a transaction, "
                "which the server undid"
            )
        )

    def _reconnect(self) -> None:
        """A new connection in place of the lost one, when the link allows a try now."""
        if not self.link.may_try(time.monotonic()):
            raise PgUnreachableError(self.link.reason)
        try:
            raw = _connect_raw(self.url, timeout=RECONNECT_TIMEOUT)
        except psycopg.Error as exc:
            reason = _reason(exc, self.url)
            self.link.failed(reason, time.monotonic())
            raise PgUnreachableError(reason, getattr(exc, "sqlstate", "") or "") from exc
        self.raw = raw
        self.link.restored(time.monotonic())

    def set_lock_timeout(self, seconds: float) -> None:
        self.execute(f"SET lock_timeout = {max(1, int(seconds * 1000))}")

    def notify(self, payload: str) -> None:
        """Wake idle workers (delivered when the current transaction commits)."""
        self.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, payload))

    def epoch(self) -> float:
        """The server's clock, in seconds since 1970 (UTC)."""
        row = self.execute("SELECT extract(epoch from clock_timestamp())").fetchone()
        return float(row[0])

    def close(self) -> None:
        self._closed = True
        self.raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _connect_raw(url: str, *, timeout: int = CONNECT_TIMEOUT) -> psycopg.Connection[Any]:
    raw = psycopg.connect(
        url,
        autocommit=True,
        row_factory=_row_factory,
        options=(
            f"-c TimeZone=UTC -c DateStyle=ISO -c lock_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}"
        ),
        connect_timeout=timeout,
    )
    raw.adapters.register_loader("timestamptz", _StampLoader)
    return raw


def _open(url: str) -> psycopg.Connection[Any]:
    """A first connection: a URL that does not parse is a usage error (exit 2), a server that
    does not answer a database error; neither message shows the password."""
    check(url)
    try:
        return _connect_raw(url)
    except psycopg.ProgrammingError as exc:  # libpq could not read the URL
        raise UsageError(
            _("the database URL {url} does not parse: {reason}").format(
                url=redact(url), reason=_reason(exc, url)
            )
        ) from None
    except psycopg.Error as exc:
        raise DatabaseError(
            _("cannot connect to {value}: {reason}").format(
                value=redact(url), reason=_reason(exc, url)
            )
        ) from None


def connect(url: str, *, create: bool = True, link: Link | None = None) -> PgConnection:
    """Connect, creating or upgrading autoqueue's tables as needed. With ``create`` False, a
    database without them is refused (a mistyped URL must not become an empty queue)."""
    conn = PgConnection(_open(url), url, link)
    try:
        _migrate(conn, create=create)
    except PgError as exc:
        conn.close()
        raise DatabaseError(
            _("database {value}: {exc}").format(value=redact(url), exc=exc)
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def listen(url: str) -> psycopg.Connection[Any]:
    """A connection that listens for autoqueue's wake-ups (``notifies()``)."""
    raw = _open(url)
    raw.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return raw


def schema_text() -> str:
    from importlib import resources

    packaged = resources.files("autoqueue").joinpath("schema.pg.sql")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[3] / "schema.pg.sql").read_text(encoding="utf-8")


def schema_version(conn: PgConnection) -> int | None:
    """The recorded schema version, or None when autoqueue's tables are not there."""
    # A query on the catalog, not to_regclass(): after waiting for the migration lock, a cached
    # lookup may still miss the table that the migration before us just committed.
    row = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_tables "
        "WHERE schemaname = current_schema() AND tablename = 'autoqueue_schema'"
    ).fetchone()
    if not row[0]:
        return None
    row = conn.execute("SELECT max(version) FROM autoqueue_schema").fetchone()
    return int(row[0]) if row[0] is not None else 0


def _migrate(conn: PgConnection, *, create: bool) -> None:
    version = schema_version(conn)
    if version == PG_SCHEMA_VERSION:
        return
    if version is not None and version > PG_SCHEMA_VERSION:
        raise DatabaseError(
            _(
                "database {value} has schema version {version}, newer than this autoqueue "
                "({PG_SCHEMA_VERSION}); upgrade autoqueue"
            ).format(value=redact(conn.url), version=version, PG_SCHEMA_VERSION=PG_SCHEMA_VERSION)
        )
    if version is None and not create:
        raise DatabaseError(
            _("no autoqueue database at {value} (run `autoqueue init` with this --db)").format(
                value=redact(conn.url)
            )
        )
    conn.execute("BEGIN")
    try:
        # Concurrent first connections queue here; each reads the version again under the lock.
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        version = schema_version(conn)
        if version is None:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name IN "
                "('tasks', 'task_queue', 'task_schedules', 'task_logs', 'contents')"
            ).fetchone()[0]
            if tables:
                raise DatabaseError(
                    _(
                        "{value} has tables named like autoqueue's but no autoqueue_schema: not "
                        "an autoqueue database; refusing to touch it"
                    ).format(value=redact(conn.url))
                )
            conn.execute(
                "CREATE TABLE autoqueue_schema (version INTEGER PRIMARY KEY, "
                "applied_at timestamptz(0) NOT NULL DEFAULT now())"
            )
            version = 0
        for number in range(version, PG_SCHEMA_VERSION):
            PG_MIGRATIONS[number](conn)
            conn.execute("INSERT INTO autoqueue_schema (version) VALUES (?)", (number + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def pg001_initial(conn: PgConnection) -> None:
    """The schema as ``schema.pg.sql`` gives it (the SQLite schema 7, in PostgreSQL's types)."""
    conn.executescript(schema_text())


def pg002_pause_and_resume_actions(conn: PgConnection) -> None:
    """``pause`` and ``resume`` log rows of their own (they were ``stop`` and ``retry``)."""
    conn.execute("ALTER TABLE task_logs DROP CONSTRAINT IF EXISTS task_logs_action_type_check")
    conn.execute(
        "ALTER TABLE task_logs ADD CONSTRAINT task_logs_action_type_check CHECK (action_type IN "
        "('start', 'progress', 'complete', 'fail', 'retry', 'stop', 'skip', 'pause', 'resume'))"
    )


def pg003_never_twice(conn: PgConnection) -> None:
    """SQLite's schema 8 (``migrations.m008_never_twice``): superseded items, a task's last finished
    run, a published video's checksum; then the same backfill."""
    conn.execute("ALTER TABLE tasks ADD COLUMN IF NOT EXISTS last_run_at timestamptz(0)")
    conn.execute("ALTER TABLE task_queue ADD COLUMN IF NOT EXISTS superseded_at timestamptz(0)")
    conn.execute("ALTER TABLE contents ADD COLUMN IF NOT EXISTS video_sha256 TEXT")
    conn.execute(BACKFILL_SUPERSEDED)
    conn.execute(BACKFILL_LAST_RUN)


def pg004_review(conn: PgConnection) -> None:
    """SQLite's schema 9 (``migrations.m009_review``): an item may wait for a person's review,
    and the claim index carries that column."""
    conn.execute("ALTER TABLE task_queue ADD COLUMN IF NOT EXISTS review_since timestamptz(0)")
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_claim")
    conn.execute(
        "CREATE INDEX idx_task_queue_claim "
        "ON task_queue(queue_type, status, created_at, id, next_retry_at, review_since)"
    )


def pg005_notifications(conn: PgConnection) -> None:
    """SQLite's schema 10 (``migrations.m010_notifications``): the notifications table, in
    PostgreSQL's types."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS notifications ("
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        "event_key TEXT NOT NULL UNIQUE, "
        "kind TEXT NOT NULL CHECK(kind IN ('failed', 'published', 'parked', 'review', 'digest')), "
        "task_id TEXT, queue_id BIGINT, payload TEXT NOT NULL, "
        "status TEXT NOT NULL DEFAULT 'pending' "
        "CHECK(status IN ('pending', 'sending', 'sent', 'given_up')), "
        "attempts INTEGER NOT NULL DEFAULT 0, next_try_at timestamptz(0), "
        "claimed_by TEXT, claimed_at timestamptz(0), delivered TEXT, last_error TEXT, "
        "created_at timestamptz(0) NOT NULL, sent_at timestamptz(0))"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_notifications_status ON notifications(status, next_try_at)"
    )


PG_MIGRATIONS = [
    pg001_initial,
    pg002_pause_and_resume_actions,
    pg003_never_twice,
    pg004_review,
    pg005_notifications,
]
