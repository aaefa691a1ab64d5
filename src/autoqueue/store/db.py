"""The database seam: which backend a location names, the :class:`Connection` protocol both
backends speak, ``transaction()``, busy handling and the errors ``except`` clauses name.

A location is a file path (SQLite, the embedded default, in autoqueue.store.sqlite) or a
``postgresql://`` URL (the PostgreSQL backend in autoqueue.store.postgres). Both give a
connection that speaks the small :class:`Connection` protocol, with SQLite's ``?`` / ``:name``
placeholders; the repository layer's SQL is written once against it (ARCHITECTURE.md "Backends").

One connection per thread, opened in autocommit mode so that every multi-statement write states
its own transaction through :func:`transaction` (SQLite: ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast

from autoqueue.errors import DatabaseBusyError
from autoqueue.i18n import _

if TYPE_CHECKING:
    from autoqueue.store.link import Link
    from autoqueue.store.postgres import PgConnection


DB_NAME = "autoqueue.db"
BUSY_TIMEOUT_SECONDS = 10.0
URL_SCHEMES = ("postgresql://", "postgres://")


# A row: sqlite3.Row, or autoqueue.store.postgres.PgRow; both answer by index and by column name.
Row = Any


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the repository layer needs of a connection (sqlite3.Connection has it as it is)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def close(self) -> None: ...


class PgError(Exception):
    """An error from PostgreSQL (autoqueue.store.postgres raises these instead of psycopg's own, so
    that code catching database errors does not import psycopg)."""

    def __init__(self, message: str, sqlstate: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class PgOperationalError(PgError):
    """A lock wait that timed out, a serialization failure, a lost connection."""


class PgUnreachableError(PgOperationalError):
    """The server cannot be reached: the connection was lost, or a new one cannot be made.
    A worker rides this out for a while (autoqueue.store.link); a command reports it."""


class PgIntegrityError(PgError):
    """A unique, foreign-key or check constraint refused a write."""


# What ``except`` clauses name: either backend's errors.
Error = (sqlite3.Error, PgError)
OperationalError = (sqlite3.OperationalError, PgOperationalError)
IntegrityError = (sqlite3.IntegrityError, PgIntegrityError)


def redact(url: str) -> str:
    """A database URL without its password, for messages and files (autoqueue.store.dburl)."""
    from autoqueue.store.dburl import redact as redact_url

    return redact_url(url)


def is_url(location: str | Path) -> bool:
    """Whether a --db value names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def _is_postgres(conn: Connection) -> bool:
    return not isinstance(conn, sqlite3.Connection)


class Dialect(NamedTuple):
    """What differs between the backends, for the SQL above the seam to ask for rather than to
    branch on which backend it is."""

    name: str
    begin: str  # a write transaction's first statement
    lock_read: str  # after a SELECT whose rows the transaction decides on: lock them till it ends
    claim_lock: str  # after the claim's SELECT: lock the row, skipping rows another claim holds
    shared: bool  # a server several hosts share, not a file inside one home
    typed_times: bool  # time columns hold only times (no other program's text or numbers)
    columns_sql: str  # a table's columns (one parameter: its name), in the schema's order
    identity_reset_sql: str | None  # a copied table's next generated id: {table} is its name


SQLITE = Dialect(
    name="sqlite",
    # BEGIN IMMEDIATE takes the write lock up front, so two ticks never both read a row as free
    # and then fail to upgrade their read transactions; the loser waits on the busy timeout.
    begin="BEGIN IMMEDIATE",
    lock_read="",  # the write transaction already excludes every other writer
    claim_lock="",
    shared=False,
    typed_times=False,
    columns_sql="SELECT name FROM pragma_table_info(?) ORDER BY cid",
    identity_reset_sql=None,  # INTEGER PRIMARY KEY follows max(id) by itself
)

POSTGRES = Dialect(
    name="postgresql",
    begin="BEGIN",  # read committed: writers meet on row locks, claims skip locked rows
    lock_read=" FOR UPDATE",
    claim_lock=" FOR UPDATE OF q SKIP LOCKED",
    shared=True,
    typed_times=True,  # timestamptz
    columns_sql=(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
    ),
    identity_reset_sql=(
        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        "COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
    ),
)


def dialect(conn: Connection) -> Dialect:
    """The dialect ``conn`` speaks."""
    return POSTGRES if _is_postgres(conn) else SQLITE


def clock(conn: Connection) -> Callable[[], datetime]:
    """Now, in the database's clock: PostgreSQL's (this host's clock plus the difference,
    measured once), or this host's for SQLite, whose only clock it is."""
    if not _is_postgres(conn):
        return lambda: datetime.now(UTC)
    offset = timedelta(seconds=cast("PgConnection", conn).epoch() - time.time())

    def server_now() -> datetime:
        return datetime.now(UTC) + offset

    return server_now


def open_database(
    location: str | Path, *, create: bool = True, link: Link | None = None
) -> Connection:
    """Open the database a location names: a SQLite file, or a PostgreSQL URL (whose
    connection makes itself again after an outage, as ``link`` allows)."""
    if is_url(location):
        from autoqueue.store import postgres  # here: psycopg is loaded only for PostgreSQL

        return postgres.connect(str(location), create=create, link=link)
    from autoqueue.store import sqlite  # here: it imports this module

    return sqlite.connect(Path(location))


AUTOQUEUE_TABLES = frozenset({"tasks", "task_schedules", "task_queue", "task_logs"})


# A lookup of task_queue by status alone names every queue type, so that it seeks
# idx_task_queue_claim (queue_type, status, ...) instead of scanning the table. Literals, not
# bound parameters: a bound value compared with a column of a partial index makes SQLite
# re-prepare the statement each time it is bound (see repo.claim.CANDIDATE).
EVERY_QUEUE = "queue_type IN ('schedule', 'script', 'image', 'video', 'youtube')"


def canonical_time(column: str) -> str:
    """SQL that is true when ``column`` holds SQLite's own UTC text, the only form that compares
    correctly as a string (timeutil.normalise_stored rewrites the others)."""
    return (
        f"(typeof({column}) = 'text' AND {column} GLOB "
        "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]')"
    )


# Whether a later run of the task started after the item ``{item}`` (SQL true or false, on
# both backends), read from the rows alone. A script item is made only when a run starts, and
# every item of an earlier run was made before it. A schedule item is the exception: the next
# occurrence's may be enqueued while the run before it still makes items, so for one the
# question is whether a later schedule item completed.
LATER_RUN = """EXISTS (
    SELECT 1 FROM task_queue AS later
    WHERE later.task_id = {item}.task_id AND later.id > {item}.id
      AND CASE WHEN {item}.queue_type = 'schedule'
               THEN later.queue_type = 'schedule' AND later.status = 'completed'
               ELSE later.queue_type = 'script' END)"""


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """Run a block in one write transaction (:attr:`Dialect.begin`), or a SAVEPOINT when
    nested; the few read-then-write steps lock what they read (:attr:`Dialect.lock_read`,
    ARCHITECTURE.md).

    A nested block that fails is undone back to its savepoint only while the transaction is
    still there: SQLite rolls the whole transaction back by itself on some errors (a full disk),
    and ``ROLLBACK TO`` would then fail with "no such savepoint" in place of the error that
    matters.
    """
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO SAVEPOINT nested")
                conn.execute("RELEASE SAVEPOINT nested")
            raise
        conn.execute("RELEASE SAVEPOINT nested")
        return
    conn.execute(dialect(conn).begin)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def short_wait(conn: Connection, seconds: float = 0.1) -> Iterator[None]:
    """Wait at most ``seconds`` for another process's lock in this block, instead of the
    connection's 10 s: for work that is simply tried again later (copying log entries, polling
    for a claim), which must not hold up the thread that does it."""
    if _is_postgres(conn):
        server = cast("PgConnection", conn)
        server.set_lock_timeout(seconds)
        try:
            yield
        finally:
            server.set_lock_timeout(BUSY_TIMEOUT_SECONDS)
        return
    conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")


@contextmanager
def savepoint(
    conn: Connection, name: str, *, undo_on: type[BaseException] | tuple[type[BaseException], ...]
) -> Iterator[None]:
    """Run a block inside a savepoint: an ``undo_on`` error undoes just the block (and is
    swallowed); the enclosing transaction goes on, on both backends."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except undo_on:
        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
    conn.execute(f"RELEASE SAVEPOINT {name}")


def notify(conn: Connection, queue_type: str) -> None:
    """Tell idle workers on every host that ``queue_type`` has work (PostgreSQL NOTIFY, sent
    when the transaction commits). SQLite has no such thing: its workers poll."""
    if _is_postgres(conn):
        cast("PgConnection", conn).notify(queue_type)


_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes; extended ones add high bits)


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds a lock (worth waiting for), as opposed to a
    full disk, an I/O error or a broken file (not worth it)."""
    if isinstance(exc, PgError):
        from autoqueue.store.postgres import BUSY_STATES

        return exc.sqlstate in BUSY_STATES and not is_unreachable(exc)
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database server cannot be reached (PostgreSQL gone away)."""
    return isinstance(exc, PgUnreachableError)


T = TypeVar("T")

OUTAGE_PAUSE = 0.2  # seconds between tries while the server is away (the link paces reconnects)


def retry_busy(
    operation: Callable[[], T],
    *,
    patience: float,
    what: str,
    pause: float = 0.5,
    link: Link | None = None,
) -> T:
    """Run ``operation`` (one transaction, safe to run again), waiting out other processes' write
    locks for up to ``patience`` seconds on top of SQLite's own busy timeout, and with a
    ``link``, an unreachable server for as long as the link's outage budget.

    Every state change autoqueue makes is guarded by the claim token, so running the same
    transaction again after SQLITE_BUSY (or a lost connection) can neither apply it twice nor
    undo someone else's.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return operation()
        except OperationalError as exc:
            if link is not None and is_unreachable(exc):
                link.check(time.monotonic())
                time.sleep(OUTAGE_PAUSE)
                continue
            if not is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    _(
                        "the database stayed locked by another process for over {patience:g} s "
                        "while {what}"
                    ).format(patience=patience, what=what)
                ) from exc
            time.sleep(pause)
