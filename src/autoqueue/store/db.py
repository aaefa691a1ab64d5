"""The database seam: which backend a location names, ``transaction()``, busy handling, and
the SQLite backend itself (PRAGMAs, the schema and its migrations).

A location is a file path (SQLite, the embedded default) or a ``postgresql://`` URL (the
PostgreSQL backend in autoqueue.store.postgres). Both give a connection that speaks the small
:class:`Connection` protocol, with SQLite's ``?`` / ``:name`` placeholders; the repository
layer's SQL is written once against it (ARCHITECTURE.md "Backends").

One connection per thread, opened in autocommit mode so that every multi-statement write states
its own transaction through :func:`transaction` (SQLite: ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from autoqueue.errors import DatabaseBusyError, DatabaseError, ReadOnlyError
from autoqueue.i18n import _

if TYPE_CHECKING:
    from autoqueue.store.link import Link

DB_NAME = "autoqueue.db"
BUSY_TIMEOUT_SECONDS = 10.0
SCHEMA_VERSION = 8
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


def is_postgres(conn: Connection) -> bool:
    return not isinstance(conn, sqlite3.Connection)


def open_database(
    location: str | Path, *, create: bool = True, link: Link | None = None
) -> Connection:
    """Open the database a location names: a SQLite file, or a PostgreSQL URL (whose
    connection makes itself again after an outage, as ``link`` allows)."""
    if is_url(location):
        from autoqueue.store import postgres  # here: psycopg is loaded only for PostgreSQL

        return postgres.connect(str(location), create=create, link=link)
    return connect(Path(location))


AUTOQUEUE_TABLES = frozenset({"tasks", "task_schedules", "task_queue", "task_logs"})

# A lookup of task_queue by status alone names every queue type, so that it seeks
# idx_task_queue_claim (queue_type, status, ...) instead of scanning the table. Literals, not
# bound parameters: a bound value compared with a column of a partial index makes SQLite
# re-prepare the statement each time it is bound (see repo.queue.CANDIDATE).
EVERY_QUEUE = "queue_type IN ('schedule', 'script', 'image', 'video', 'youtube')"


def canonical_time(column: str) -> str:
    """SQL that is true when ``column`` holds SQLite's own UTC text, the only form that compares
    correctly as a string (timeutil.normalise_stored rewrites the others)."""
    return (
        f"(typeof({column}) = 'text' AND {column} GLOB "
        "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]')"
    )


# Columns that hold timestamps; a database from the earlier app (README "Data") stores
# JavaScript ISO strings here.
TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    "tasks": ("created_at", "updated_at"),
    "task_schedules": ("scheduled_time", "next_run_at", "youtube_publish_time", "created_at"),
    "task_queue": ("next_retry_at", "created_at", "updated_at", "completed_at"),
    "task_logs": ("created_at",),
    "scheduler_lock": ("locked_at", "expires_at"),
}

# Columns autoqueue adds to the earlier app's tables, where a behaviour needs them (each is
# commented in schema.sql).
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "tasks": {
        "content_id": "TEXT REFERENCES contents(id) ON DELETE SET NULL",
        "max_retry": "INTEGER",
        "last_run_at": "DATETIME",
    },
    "task_queue": {
        "occurrence_at": "DATETIME",
        "claim_token": "TEXT",
        "owner_host": "TEXT",
        "owner_pid": "INTEGER",
        "owner_started": "REAL",
        "lease_expires_at": "DATETIME",
        "stage_pid": "INTEGER",
        "stage_started": "REAL",
        "stage_process_name": "TEXT",
        "attempt_token": "TEXT",
        "attempt_no": "INTEGER NOT NULL DEFAULT 0",
        "crash_count": "INTEGER NOT NULL DEFAULT 0",
        "output_offset": "INTEGER NOT NULL DEFAULT 0",
        "slot": "INTEGER NOT NULL DEFAULT 0",
        "superseded_at": "DATETIME",
    },
    "contents": {"video_sha256": "TEXT"},
    "scheduler_lock": {"owner_started": "REAL"},
}


def schema_sql() -> str:
    """The text of ``schema.sql``: the packaged copy, or the checkout's (editable installs)."""
    from importlib import resources  # here, not at the top: an idle tick never needs it

    packaged = resources.files("autoqueue").joinpath("schema.sql")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[3] / "schema.sql"
    return checkout.read_text(encoding="utf-8")


def split_statements(script: str) -> list[str]:
    """Split SQL text into complete statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


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
        _migrate(conn, path)
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
    if version == 0 and not {"tasks", "task_queue"} <= _tables(conn):
        raise DatabaseError(
            _("{path} is SQLite but not an autoqueue database; refusing to touch it").format(
                path=path
            )
        )
    if version > SCHEMA_VERSION:
        _migrate(conn, path)  # says to upgrade autoqueue
    raise ReadOnlyError(
        _(
            "database {path} has schema version {version} and needs upgrading to {SCHEMA_VERSION}, "
            "but {folder} is read-only: run any command once where it is writable"
        ).format(path=path, version=version, SCHEMA_VERSION=SCHEMA_VERSION, folder=path.parent)
    )


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """Run a block in one write transaction, or a SAVEPOINT when nested.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock up front, so two ticks never both read a row
    as free and then fail to upgrade their read transactions; the loser waits on the busy timeout
    instead. PostgreSQL: ``BEGIN`` (read committed); writers meet on row locks, claims skip
    locked rows, and the few read-then-write steps lock what they read (ARCHITECTURE.md).
    """
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT nested")
            conn.execute("RELEASE SAVEPOINT nested")
            raise
        conn.execute("RELEASE SAVEPOINT nested")
        return
    conn.execute("BEGIN" if is_postgres(conn) else "BEGIN IMMEDIATE")
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
    if is_postgres(conn):
        conn.set_lock_timeout(seconds)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            conn.set_lock_timeout(BUSY_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
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
    if is_postgres(conn):
        conn.notify(queue_type)  # type: ignore[attr-defined]


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


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            _(
                "database {path} has schema version {version}, newer than this autoqueue "
                "({SCHEMA_VERSION}); upgrade autoqueue"
            ).format(path=path, version=version, SCHEMA_VERSION=SCHEMA_VERSION)
        )
    tables = _tables(conn) - {"sqlite_sequence"}
    if version == 0 and tables and not {"tasks", "task_queue"} <= tables:
        raise DatabaseError(
            _("{path} is SQLite but not an autoqueue database; refusing to touch it").format(
                path=path
            )
        )
    # Foreign keys are off while tables are rebuilt (SQLite's documented ALTER procedure); the
    # pragma is a no-op inside a transaction, so it is set before BEGIN.
    conn.execute("PRAGMA foreign_keys = OFF")
    with transaction(conn):
        # Read again under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, SCHEMA_VERSION):
            MIGRATIONS[number](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def m001_initial(conn: sqlite3.Connection) -> None:
    """Create the schema, upgrading in place a database made by the earlier app (README "Data").

    Such a database has tasks, task_schedules, task_queue and the short task_logs, with JavaScript
    ``...T...Z`` timestamps. Every row is kept: columns are added, task_logs is rebuilt with the
    extended columns, timestamps are normalised, and items the old app left ``processing`` go back
    to ``waiting`` (nothing can still own them) with a log row saying so.
    """
    statements = split_statements(schema_sql())
    tables = _tables(conn)
    if "task_logs" in tables and "action_type" not in _columns(conn, "task_logs"):
        _rebuild_task_logs(conn, statements)
    for table, columns in ADDED_COLUMNS.items():
        if table in tables:
            existing = _columns(conn, table)
            for name, declaration in columns.items():
                if name not in existing:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
    for table, stamp_columns in TIMESTAMP_COLUMNS.items():
        if table in tables:
            for column in stamp_columns:
                _normalise_timestamps(conn, table, column)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    for statement in creates:
        conn.execute(statement)
    # Before the indexes: the one-processing-per-queue index cannot exist over the old rows.
    if "task_queue" in tables:
        _requeue_legacy_processing(conn)
    for statement in statements:
        if statement not in creates:
            conn.execute(statement)


def m002_stage_state_and_quota(conn: sqlite3.Connection) -> None:
    """Add ``stage_state`` (resumable uploads) and ``youtube_quota`` (the quota ledger)."""
    for statement in split_statements(schema_sql()):
        if statement.startswith(
            ("CREATE TABLE IF NOT EXISTS stage_state", "CREATE TABLE IF NOT EXISTS youtube_quota")
        ):
            conn.execute(statement)


def m003_leaner_indexes(conn: sqlite3.Connection) -> None:
    """Fewer B-trees to update per transition: drop an index of the earlier app's that is a
    prefix of the claim index (task_queue (queue_type, status)) and an unused log index; index
    completed rows only.
    (Schema 3 also dropped task_logs (task_id); schema 4 brings it back in place of two others.)
    """
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_status")
    conn.execute("DROP INDEX IF EXISTS idx_task_logs_created")
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_completed")
    conn.execute(
        "CREATE INDEX idx_task_queue_completed ON task_queue(completed_at) "
        "WHERE status = 'completed'"
    )


def m004_fewer_indexes(conn: sqlite3.Connection) -> None:
    """Two B-trees fewer to write per transition. One index on ``task_logs(task_id)`` instead of
    (task_id, action_type) and (task_id, queue_type): every log read is one task's rows newest
    first, which (task_id) alone serves without a sort. And no ``task_queue(status,
    next_retry_at)``: lookups by status name the five queue types and seek the claim index."""
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_retry")
    conn.execute("DROP INDEX IF EXISTS idx_task_logs_action")
    conn.execute("DROP INDEX IF EXISTS idx_task_logs_queue_type")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_task_logs_task_id ON task_logs(task_id)")


def m006_slots_and_identity(conn: sqlite3.Connection) -> None:
    """Per-queue concurrency (README "Several hosts"): a processing item holds one of its queue
    type's slots, unique per type, instead of the type alone being unique; and autoqueue_meta,
    which records the home the database belongs to."""
    if "slot" not in _columns(conn, "task_queue"):
        # Slot 0 for every row: the processing ones (one per type at most, by the old index)
        # and any a program other than autoqueue marks processing without naming a slot.
        declaration = ADDED_COLUMNS["task_queue"]["slot"]
        conn.execute(f"ALTER TABLE task_queue ADD COLUMN slot {declaration}")
    if "max_retry" not in _columns(conn, "tasks"):
        # A task's own retry budget, in a column rather than a key of its settings JSON;
        # earlier tasks keep theirs where `add` put it (settings.maxRetry) and it still counts.
        conn.execute("ALTER TABLE tasks ADD COLUMN max_retry INTEGER")
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_one_processing")
    conn.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_task_queue_slot "
        "ON task_queue(queue_type, slot) WHERE status = 'processing'"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS autoqueue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )


def m005_attempts(conn: sqlite3.Connection) -> None:
    """The attempt that runs a stage outlives the tick that started it (README "Exactly once"):
    task_queue records its secret token, its number, the crash budget and the output offset."""
    existing = _columns(conn, "task_queue")
    for name in ("attempt_token", "attempt_no", "crash_count", "output_offset"):
        if name not in existing:
            conn.execute(
                f"ALTER TABLE task_queue ADD COLUMN {name} {ADDED_COLUMNS['task_queue'][name]}"
            )


def m007_pause_and_resume_actions(conn: sqlite3.Connection) -> None:
    """``pause`` and ``resume`` log rows of their own (they were ``stop`` and ``retry``): the
    CHECK on task_logs.action_type lists them. SQLite cannot change a CHECK in place, so the
    table is rebuilt (its ids and AUTOINCREMENT counter kept) unless m001 just made it so."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'task_logs'").fetchone()
    if row is None or "'pause'" in row[0]:
        return
    statements = split_statements(schema_sql())
    create = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS task_logs"))
    conn.execute(create.replace("IF NOT EXISTS task_logs", "task_logs_upgrade", 1))
    columns = ", ".join(
        c for c in _columns(conn, "task_logs_upgrade") if c in _columns(conn, "task_logs")
    )
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'task_logs'").fetchone()
    conn.execute(f"INSERT INTO task_logs_upgrade ({columns}) SELECT {columns} FROM task_logs")
    conn.execute("DROP TABLE task_logs")
    conn.execute("ALTER TABLE task_logs_upgrade RENAME TO task_logs")
    if seq is not None:
        # Ids of deleted rows are never reused (`logs --follow` reads after an id).
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'task_logs'", (seq[0],))
    for statement in statements:
        if statement.startswith("CREATE INDEX IF NOT EXISTS idx_task_logs_"):
            conn.execute(statement)


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

# Schema 8's backfill, the same SQL on both backends: failed items of replaced runs are marked,
# and a finished task's last run is its newest completed youtube item, or, when cleanup already
# deleted those rows, its newest published content.
BACKFILL_SUPERSEDED = f"""
UPDATE task_queue SET superseded_at = updated_at
WHERE status = 'failed' AND superseded_at IS NULL AND {LATER_RUN.format(item="task_queue")}
"""
BACKFILL_LAST_RUN = """
UPDATE tasks SET last_run_at = COALESCE(
    (SELECT max(completed_at) FROM task_queue
     WHERE task_id = tasks.id AND queue_type = 'youtube' AND status = 'completed'),
    (SELECT max(updated_at) FROM contents WHERE task_id = tasks.id AND published = 1))
WHERE last_run_at IS NULL
"""


def m008_never_twice(conn: sqlite3.Connection) -> None:
    """A published video is never uploaded again by accident (ARCHITECTURE.md, "YouTube never
    twice"): failed items of replaced runs are marked superseded, a finished task keeps when
    its last run finished (cleanup deletes the queue rows that said so), and a published
    content keeps its file's checksum."""
    for table in ("tasks", "task_queue", "contents"):
        existing = _columns(conn, table)
        for name, declaration in ADDED_COLUMNS[table].items():
            if name not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
    conn.execute(BACKFILL_SUPERSEDED)
    conn.execute(BACKFILL_LAST_RUN)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_stage_state_and_quota,
    m003_leaner_indexes,
    m004_fewer_indexes,
    m005_attempts,
    m006_slots_and_identity,
    m007_pause_and_resume_actions,
    m008_never_twice,
]


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _rebuild_task_logs(conn: sqlite3.Connection, statements: list[str]) -> None:
    create = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS task_logs"))
    conn.execute(create.replace("IF NOT EXISTS task_logs", "task_logs_upgrade", 1))
    old = _columns(conn, "task_logs")
    earlier_columns = ("id", "task_id", "queue_id", "level", "message", "metadata", "created_at")
    column_list = ", ".join(c for c in earlier_columns if c in old)
    conn.execute(
        f"INSERT INTO task_logs_upgrade ({column_list}) SELECT {column_list} FROM task_logs"
    )
    conn.execute("DROP TABLE task_logs")
    conn.execute("ALTER TABLE task_logs_upgrade RENAME TO task_logs")


def _normalise_timestamps(conn: sqlite3.Connection, table: str, column: str) -> None:
    # Numbers are JavaScript epoch milliseconds (or seconds when small); text goes through SQLite's
    # own parser, which reads ISO 8601 with 'T', fractions and a 'Z' or offset. Values it cannot
    # read are kept as they were rather than lost.
    fmt = "'%Y-%m-%d %H:%M:%S'"
    normalised = (
        f"CASE WHEN typeof({column}) IN ('integer', 'real') THEN "
        f"strftime({fmt}, CASE WHEN {column} > 100000000000 THEN {column} / 1000.0 "
        f"ELSE {column} END, 'unixepoch') "
        f"ELSE strftime({fmt}, {column}) END"
    )
    conn.execute(
        f"UPDATE {table} SET {column} = COALESCE({normalised}, {column}) "
        f"WHERE {column} IS NOT NULL AND {column} IS NOT COALESCE({normalised}, {column})"
    )


def _requeue_legacy_processing(conn: sqlite3.Connection) -> None:
    rows = conn.execute(
        "SELECT id, task_id, queue_type FROM task_queue WHERE status = 'processing'"
    ).fetchall()
    for row in rows:
        conn.execute(
            "UPDATE task_queue SET status = 'waiting', next_retry_at = NULL WHERE id = ?",
            (row["id"],),
        )
        conn.execute(
            "INSERT INTO task_logs (task_id, queue_id, level, message, action_type, queue_type) "
            "VALUES (?, ?, 'warn', ?, 'retry', ?)",
            (
                row["task_id"],
                row["id"],
                "recovered while upgrading the database: the earlier app left this item processing",
                row["queue_type"],
            ),
        )
