"""SQLite's schema and its migrations, by ``PRAGMA user_version``: ``schema.sql`` creates the
tables, each ``mNNN_*`` step upgrades an older database (the earlier app's included) in place,
all of them in one write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from autoqueue.errors import DatabaseError
from autoqueue.i18n import _
from autoqueue.store.db import LATER_RUN, transaction

SCHEMA_VERSION = 10


# Columns that hold timestamps; a database from the earlier app (docs/data.md) stores
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
        "review_since": "DATETIME",
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


def table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def migrate(conn: sqlite3.Connection, path: Path) -> None:
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
    tables = table_names(conn) - {"sqlite_sequence"}
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
    """Create the schema, upgrading in place a database made by the earlier app (docs/data.md).

    Such a database has tasks, task_schedules, task_queue and the short task_logs, with JavaScript
    ``...T...Z`` timestamps. Every row is kept: columns are added, task_logs is rebuilt with the
    extended columns, timestamps are normalised, and items the old app left ``processing`` go back
    to ``waiting`` (nothing can still own them) with a log row saying so.
    """
    statements = split_statements(schema_sql())
    tables = table_names(conn)
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
    """Per-queue concurrency (docs/hosts.md): a processing item holds one of its queue
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
    """The attempt that runs a stage outlives the tick that started it (docs/running.md "Exactly
    once"): task_queue records its secret token, its number, the crash budget and the output
    offset."""
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


CLAIM_INDEX = (
    "CREATE INDEX IF NOT EXISTS idx_task_queue_claim "
    "ON task_queue(queue_type, status, created_at, id, next_retry_at, review_since)"
)


def m009_review(conn: sqlite3.Connection) -> None:
    """Review before publishing (docs/review.md): an item may wait for a person
    (``task_queue.review_since``), and the claim index carries that column, so that a claim
    still never visits the table for the rows it skips."""
    if "review_since" not in _columns(conn, "task_queue"):
        conn.execute("ALTER TABLE task_queue ADD COLUMN review_since DATETIME")
    conn.execute("DROP INDEX IF EXISTS idx_task_queue_claim")
    conn.execute(CLAIM_INDEX)


def m010_notifications(conn: sqlite3.Connection) -> None:
    """Notifications (docs/notifications.md): one row per event, recorded with the transition
    that made it and sent once after the commit."""
    for statement in split_statements(schema_sql()):
        if statement.startswith(
            (
                "CREATE TABLE IF NOT EXISTS notifications",
                "CREATE INDEX IF NOT EXISTS idx_notifications_",
            )
        ):
            conn.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_stage_state_and_quota,
    m003_leaner_indexes,
    m004_fewer_indexes,
    m005_attempts,
    m006_slots_and_identity,
    m007_pause_and_resume_actions,
    m008_never_twice,
    m009_review,
    m010_notifications,
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
