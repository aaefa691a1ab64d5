"""The SQLite backend: PRAGMAs, refusal of foreign files, versioning, the legacy upgrade, query
plans. (What both backends share is tested in test_backends.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autoqueue.errors import DatabaseError
from autoqueue.store import db, migrations, sqlite

LEGACY_DDL = (Path(__file__).parent / "legacy_app.sql").read_text(encoding="utf-8")
pytestmark = pytest.mark.sqlite_only

T1 = "7d1c2a9e-0000-4000-8000-000000000001"
T2 = "7d1c2a9e-0000-4000-8000-000000000002"


def test_new_database_is_durable_and_concurrent(tmp_path: Path) -> None:
    conn = sqlite.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "tasks",
        "task_schedules",
        "task_queue",
        "task_logs",
        "scheduler_lock",
        "contents",
    } <= tables
    log_columns = {r[1] for r in conn.execute("PRAGMA table_info(task_logs)")}
    assert {"action_type", "queue_type", "pid", "process_name", "metadata"} <= log_columns
    assert "content_id" in {r[1] for r in conn.execute("PRAGMA table_info(tasks)")}


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    sqlite.connect(tmp_path / "a.db").close()
    conn = sqlite.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION


def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"my precious notes\n" * 100)
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not a SQLite database"):
        sqlite.connect(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "notes.db-wal").exists()


def test_a_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE recipes (name TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not an autoqueue database"):
        sqlite.connect(path)
    assert path.read_bytes() == before


def test_a_database_from_a_newer_autoqueue_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite.connect(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(DatabaseError, match="newer than this autoqueue"):
        sqlite.connect(path)


def test_a_corrupt_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    sqlite.connect(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # keep the header, ruin the first page
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseError, match="unreadable or corrupt"):
        sqlite.connect(path)


def _legacy_database(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.executescript(LEGACY_DDL)
    raw.executemany(
        "INSERT INTO tasks (id, title, type, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                T1,
                "old one",
                "shortform",
                '{"mediaMode":"crawl"}',
                "2026-01-01T09:00:00.000Z",
                "2026-01-01T09:00:00.000Z",
            ),
            (T2, "old two", "longform", None, "2026-01-02 10:00:00", "2026-01-02 10:00:00"),
        ],
    )
    raw.execute(
        "INSERT INTO task_schedules (task_id, scheduled_time, repeat_type, next_run_at, created_at) "
        "VALUES (?, ?, 'daily', ?, ?)",
        (T1, "2026-01-01T00:00:00.000Z", "2026-01-05T00:00:00+09:00", "2026-01-01T09:00:00.000Z"),
    )
    raw.executemany(
        "INSERT INTO task_queue (task_id, schedule_id, queue_type, status, created_at, updated_at, completed_at) "
        "VALUES (?, 1, ?, ?, ?, ?, ?)",
        [
            (
                T1,
                "schedule",
                "completed",
                "2026-01-01T09:00:00.000Z",
                "2026-01-01T09:00:01.000Z",
                "2026-01-01T09:00:01.000Z",
            ),
            (
                T1,
                "script",
                "processing",
                "2026-01-01T09:00:01.000Z",
                "2026-01-01T09:00:02.000Z",
                None,
            ),
            (
                T2,
                "script",
                "processing",
                "2026-01-02T10:00:00.000Z",
                "2026-01-02T10:00:00.000Z",
                None,
            ),
        ],
    )
    raw.execute(
        "INSERT INTO task_logs (task_id, queue_id, level, message, metadata, created_at) "
        "VALUES (?, 1, 'info', 'schedule done', '{\"a\": 1}', ?)",
        (T1, "2026-01-01T09:00:01.000Z"),
    )
    raw.execute(
        "INSERT INTO task_logs (task_id, level, message, created_at) VALUES (?, 'info', 'epoch', ?)",
        (T2, 1767348000000),  # JavaScript Date.now() milliseconds: 2026-01-02 10:00:00 UTC
    )
    raw.commit()
    raw.close()


def test_an_earlier_apps_database_is_upgraded_in_place_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    _legacy_database(path)
    conn = sqlite.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM task_queue").fetchone()[0] == 3
    tasks = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM tasks")}
    assert tasks[T1]["created_at"] == "2026-01-01 09:00:00"
    assert tasks[T2]["created_at"] == "2026-01-02 10:00:00"
    assert tasks[T1]["content_id"] is None
    schedule = conn.execute("SELECT * FROM task_schedules").fetchone()
    assert schedule["scheduled_time"] == "2026-01-01 00:00:00"
    assert schedule["next_run_at"] == "2026-01-04 15:00:00"  # the +09:00 offset folded into UTC
    logs = conn.execute("SELECT * FROM task_logs ORDER BY id").fetchall()
    assert logs[0]["message"] == "schedule done" and logs[0]["metadata"] == '{"a": 1}'
    assert logs[0]["created_at"] == "2026-01-01 09:00:01"
    assert logs[1]["created_at"] == "2026-01-02 10:00:00"
    # Items the old app left processing had no owner: they are waiting again, each with a log row.
    statuses = [r[0] for r in conn.execute("SELECT status FROM task_queue ORDER BY id")]
    assert statuses == ["completed", "waiting", "waiting"]
    recovered = conn.execute(
        "SELECT count(*) FROM task_logs WHERE action_type = 'retry' AND message LIKE 'recovered while upgrading%'"
    ).fetchone()[0]
    assert recovered == 2
    # The upgraded database enforces the new invariants.
    conn.execute("UPDATE task_queue SET status = 'processing' WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE task_queue SET status = 'processing' WHERE id = 3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_claim_walks_an_index_instead_of_sorting_the_backlog(tmp_path: Path) -> None:
    from autoqueue.kinds import QueueType
    from autoqueue.repo.claim import CANDIDATE
    from autoqueue.store.db import SQLITE

    conn = sqlite.connect(tmp_path / "a.db")
    params = {"now": "2026-01-01 00:00:00"}
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + CANDIDATE[(QueueType.VIDEO, True, SQLITE)], params
    ).fetchall()
    details = " | ".join(row[3] for row in plan)
    assert "idx_task_queue_claim" in details
    assert "TEMP B-TREE" not in details


def test_a_tasks_log_is_read_through_one_index_without_a_sort(tmp_path: Path) -> None:
    """Every log view (newest first, optionally by level, stage or action) is one task's rows
    through idx_task_logs_task_id, which carries the id order: no temp B-tree, no table scan."""
    from autoqueue.kinds import ActionType, LogLevel, QueueType
    from autoqueue.repo import logs as logs_repo

    conn = sqlite.connect(tmp_path / "a.db")
    captured: list[str] = []
    conn.set_trace_callback(captured.append)
    for filters in (
        logs_repo.LogFilter(task_id=T1, limit=50),
        logs_repo.LogFilter(task_id=T1, action=ActionType.START, limit=50),
        logs_repo.LogFilter(task_id=T1, queue_type=QueueType.VIDEO, level=LogLevel.ERROR),
    ):
        captured.clear()
        logs_repo.query(conn, filters)
        (sql,) = [s for s in captured if s.startswith("SELECT")]
        plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        details = " | ".join(row[3] for row in plan)
        assert "USING INDEX idx_task_logs_task_id (task_id=?)" in details, details
        assert "TEMP B-TREE" not in details, details
    log_indexes = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_logs' "
            "AND sql IS NOT NULL"
        )
    }
    assert log_indexes == {"idx_task_logs_task_id", "idx_task_logs_queue_id"}


def test_a_schema_3_database_trades_two_log_indexes_for_one(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    conn = sqlite.connect(path)
    conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
    conn.execute("INSERT INTO task_logs (task_id, message) VALUES (?, 'kept')", (T1,))
    conn.execute("DROP INDEX idx_task_logs_task_id")  # as schema 3 left it
    conn.execute("CREATE INDEX idx_task_logs_action ON task_logs(task_id, action_type)")
    conn.execute("CREATE INDEX idx_task_logs_queue_type ON task_logs(task_id, queue_type)")
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    conn = sqlite.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "idx_task_logs_task_id" in names
    assert not {"idx_task_logs_action", "idx_task_logs_queue_type"} & names
    assert [row[0] for row in conn.execute("SELECT message FROM task_logs")] == ["kept"]


def test_a_schema_6_database_takes_pause_and_resume_log_rows(tmp_path: Path) -> None:
    """Schema 7 lists `pause` and `resume` in task_logs' CHECK; the rebuilt table keeps every
    row, its ids, its AUTOINCREMENT counter and its indexes."""
    path = tmp_path / "a.db"
    conn = sqlite.connect(path)
    conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
    for message in ("one", "two", "three"):
        conn.execute("INSERT INTO task_logs (task_id, message) VALUES (?, ?)", (T1, message))
    conn.execute("DELETE FROM task_logs WHERE message = 'three'")  # the counter stays at 3
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'task_logs'").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")  # put back schema 6's CHECK, as it was written
    conn.execute(
        "UPDATE sqlite_master SET sql = ? WHERE name = 'task_logs'",
        (sql.replace(", 'pause', 'resume')", ")"),),
    )
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    old = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        old.execute(
            "INSERT INTO task_logs (task_id, message, action_type) VALUES (?, 'p', 'pause')", (T1,)
        )
    old.close()
    conn = sqlite.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    conn.execute(
        "INSERT INTO task_logs (task_id, message, action_type) VALUES (?, 'p', 'pause')", (T1,)
    )
    rows = conn.execute("SELECT id, message, action_type FROM task_logs ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(1, "one", None), (2, "two", None), (4, "p", "pause")]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_task_logs_task_id", "idx_task_logs_queue_id"} <= indexes


def test_every_lookup_of_the_queue_by_status_seeks_an_index(tmp_path: Path) -> None:
    """task_queue has no (status) index of its own: lookups by status name the five queue types
    and seek idx_task_queue_claim. None of them may scan the table (it holds all history)."""
    from datetime import UTC, datetime

    from autoqueue.attempt import processes
    from autoqueue.kinds import QueueType, Tab
    from autoqueue.repo import claim as claim_repo
    from autoqueue.repo import queue as queue_repo
    from autoqueue.repo import reads
    from autoqueue.worker import idle

    names = ", ".join(f"'{queue_type.value}'" for queue_type in QueueType)
    assert f"queue_type IN ({names})" == db.EVERY_QUEUE
    path = tmp_path / "a.db"
    conn = sqlite.connect(path)
    captured: list[str] = []
    conn.set_trace_callback(captured.append)
    queue_repo.processing(conn)
    reads.processing_rows(conn)
    queue_repo.renew_leases(conn, processes.current_owner(), "2026-01-01 00:00:00")
    reads.tab_rows(conn, Tab.FAILED, 100)
    reads.tab_counts(conn)
    claim_repo.claimable_exists(conn, "2026-01-01 00:00:00", [QueueType.VIDEO, QueueType.IMAGE])
    conn.set_trace_callback(None)
    statements = [s for s in captured if "task_queue" in s] + [
        idle._BUSY.replace(":now", "'2026-01-01 00:00:00'")
    ]
    assert len(statements) >= 6 + len(Tab)
    for sql in statements:
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (sql, plan)
    conn.close()
    assert idle.nothing_to_do(path, datetime(2026, 1, 1, tzinfo=UTC))


def test_split_statements_keeps_triggers_and_comments_apart() -> None:
    script = "-- a comment\nCREATE TABLE a (x TEXT); -- trailing\n\nCREATE INDEX i ON a(x);\n"
    assert migrations.split_statements(script) == [
        "CREATE TABLE a (x TEXT); -- trailing",
        "CREATE INDEX i ON a(x);",
    ]


def test_opening_a_second_connection_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """Reading the file outside SQLite and closing it drops this process's POSIX locks on it.
    Another process then believes it is the last connection and, on closing, checkpoints and
    deletes the WAL under our feet (that corrupted a database in the concurrent-tick test)."""
    import subprocess
    import sys

    path = tmp_path / "a.db"
    holder = sqlite.connect(path)
    holder.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
    assert (tmp_path / "a.db-wal").exists()
    sqlite.connect(path).close()  # another thread of this process opens and closes a connection
    probe = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('SELECT 1 FROM tasks').fetchall()\nc.close()\n"
    subprocess.run([sys.executable, "-c", probe, str(path)], check=True)
    assert (tmp_path / "a.db-wal").exists(), "another process took our connection for closed"
    holder.close()


def _shape(conn: sqlite3.Connection) -> dict[str, object]:
    """Tables (columns by name: type, not null, default, key) and indexes (columns, unique,
    partial condition), whatever order ALTER TABLE left the columns in."""
    shape: dict[str, object] = {}
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall():
        shape[f"table {name}"] = {
            r[1]: (r[2].upper(), r[3], r[4], r[5])
            for r in conn.execute(f"PRAGMA table_info({name})").fetchall()
        }
    for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall():
        columns = [r[2] for r in conn.execute(f"PRAGMA index_info({name})").fetchall()]
        where = " ".join(sql.split(" WHERE ", 1)[1].split()) if " WHERE " in sql else None
        shape[f"index {name}"] = (columns, "UNIQUE" in sql.upper().split("INDEX")[0], where)
    return shape


def test_a_migrated_database_equals_a_fresh_one(tmp_path: Path) -> None:
    """The earlier app's database, taken through every migration, has exactly the tables,
    columns and indexes of a database created today."""
    legacy = tmp_path / "legacy.db"
    _legacy_database(legacy)
    migrated = sqlite.connect(legacy)
    fresh = sqlite.connect(tmp_path / "fresh.db")
    assert _shape(migrated) == _shape(fresh)


def test_a_nested_block_whose_transaction_is_gone_raises_its_own_error(conn: db.Connection) -> None:
    """SQLite rolls a whole transaction back by itself on some errors (a full disk); the nested
    block's error must then come out as it is, not as "no such savepoint" from a ROLLBACK TO
    that has nothing left to undo."""
    with pytest.raises(ValueError, match="the error that matters"), db.transaction(conn):
        conn.execute("INSERT INTO autoqueue_meta (key, value) VALUES ('k', 'v')")
        with db.transaction(conn):
            conn.execute("ROLLBACK")  # the whole transaction ends under the nested block
            raise ValueError("the error that matters")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM autoqueue_meta WHERE key = 'k'").fetchone()[0] == 0
    with db.transaction(conn):  # and the connection goes on
        conn.execute("INSERT INTO autoqueue_meta (key, value) VALUES ('k', 'v')")
    assert conn.execute("SELECT count(*) FROM autoqueue_meta WHERE key = 'k'").fetchone()[0] == 1
