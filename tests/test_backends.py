"""The database seam, on both backends: transactions and savepoints, the slot index behind
invariant 1, racing claimers, a slot conflict that must not lose a completion, and what only
PostgreSQL has (placeholder translation, migrations under an advisory lock, timestamptz read
back as SQLite's text, the circular foreign key, NOTIFY)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from autoqueue.kinds import QueueType
from autoqueue.owner import Owner
from autoqueue.queue.claims import claim_next
from autoqueue.queue.outcomes import complete_and_claim
from autoqueue.queue.policy import Policy
from autoqueue.repo import claim as claim_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.stages.base import StageResult
from autoqueue.store import db
from autoqueue.store.db import Connection, transaction
from autoqueue.store.link import Link
from autoqueue.workspace import Workspace

from .conftest import NOW, add
from .pgserver import PgServer

T1 = "7d1c2a9e-0000-4000-8000-000000000001"
T2 = "7d1c2a9e-0000-4000-8000-000000000002"


def test_transaction_rolls_back_on_error_and_nests(conn: Connection) -> None:
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
        raise RuntimeError("boom")
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    with transaction(conn):
        conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
        with pytest.raises(RuntimeError), transaction(conn):
            conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T2,))
            raise RuntimeError("inner")
    assert [r[0] for r in conn.execute("SELECT id FROM tasks").fetchall()] == [T1]


def test_the_database_holds_one_processing_item_per_slot(conn: Connection) -> None:
    """Invariant 1 in the schema itself, even for rows written by another program that knows
    nothing of slots (they all take slot 0)."""
    conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
    insert = "INSERT INTO task_queue (task_id, queue_type, status) VALUES (?, ?, 'processing')"
    conn.execute(insert, (T1, "video"))
    conn.execute(insert, (T1, "script"))
    with pytest.raises(db.IntegrityError):
        conn.execute(insert, (T1, "video"))
    conn.execute(
        "INSERT INTO task_queue (task_id, queue_type, status, slot) "
        "VALUES (?, 'video', 'processing', 1)",
        (T1,),
    )


def _owner(n: int) -> Owner:
    return Owner(f"host-{n}", 1000 + n, 1.0)


def _as_script_items(conn: Connection) -> None:
    """Turn the tasks' schedule items into waiting script items (the queue under test)."""
    conn.execute("UPDATE task_queue SET queue_type = 'script' WHERE queue_type = 'schedule'")


def test_racing_claimers_never_exceed_the_limit(workspace: Workspace) -> None:
    """Eight threads, each with its own connection, claim script items with a limit of three:
    exactly three are taken, each in a slot of its own."""
    setup = workspace.connect()
    for n in range(6):
        add(workspace, setup, f"t{n}", media_mode="upload")
    _as_script_items(setup)
    policy = Policy(delays=(0,), lease_seconds=300, slots=((QueueType.SCRIPT, 3),))
    claimed: list[int] = []
    barrier = threading.Barrier(8)

    def claimer(n: int) -> None:
        conn = workspace.connect()
        try:
            barrier.wait()
            for _ in range(3):
                try:
                    item = claim_next(conn, QueueType.SCRIPT, _owner(n), policy, NOW)
                except db.OperationalError as exc:  # SQLite: another claimer held the lock
                    assert db.is_busy(exc)
                    continue
                if item is not None:
                    claimed.append(item.id)
        finally:
            conn.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = setup.execute(
        "SELECT slot FROM task_queue WHERE status = 'processing' ORDER BY slot"
    ).fetchall()
    setup.close()
    assert [r[0] for r in rows] == [0, 1, 2]
    assert len(claimed) == len(set(claimed)) == 3


def test_a_completion_survives_a_lost_race_for_the_next_slot(
    workspace: Workspace, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """complete_and_claim records the completion and claims the queue's next item in one
    transaction. When the slot it picks was taken meanwhile by another host, the claim gives up
    and the completion stays: on PostgreSQL the unique violation would otherwise abort the whole
    transaction (the claim runs it inside a savepoint)."""
    for n in range(3):
        add(workspace, conn, f"t{n}", media_mode="upload")
    _as_script_items(conn)
    policy = Policy(delays=(0,), lease_seconds=300, slots=((QueueType.SCRIPT, 2),))
    mine = claim_next(conn, QueueType.SCRIPT, _owner(1), policy, NOW)
    assert mine is not None and mine.slot == 0
    # Another host claimed the last item into slot 1 after this claimer listed the free slots.
    conn.execute(
        "UPDATE task_queue SET status = 'processing', slot = 1, owner_host = 'other' "
        "WHERE id = (SELECT max(id) FROM task_queue)"
    )
    monkeypatch.setattr(claim_repo, "_free_slots", lambda *args: [1])
    done, following = complete_and_claim(
        conn, mine, StageResult(script_text="{}"), policy, NOW + timedelta(seconds=1), _owner(1)
    )
    assert done and following is None
    status = conn.execute("SELECT status FROM task_queue WHERE id = ?", (mine.id,)).fetchone()
    assert status[0] == "completed"
    assert (
        conn.execute(
            "SELECT count(*) FROM task_queue WHERE queue_type = 'image' AND task_id = ?",
            (mine.task_id,),
        ).fetchone()[0]
        + conn.execute(
            "SELECT count(*) FROM task_queue WHERE queue_type = 'video' AND task_id = ?",
            (mine.task_id,),
        ).fetchone()[0]
        == 1
    )  # the next stage was enqueued with the completion


def test_a_claim_sent_again_after_its_answer_was_lost_takes_no_second_item(
    workspace: Workspace, conn: Connection
) -> None:
    """A claim (or a completion that claims the next item) whose COMMIT's answer was lost with
    the connection is sent again under the same token: it finds the item the first one took,
    rather than leave it processing for nobody and take another; a token that took nothing
    claims as usual."""
    for n in range(4):
        add(workspace, conn, f"t{n}", media_mode="upload")
    _as_script_items(conn)
    policy = Policy(delays=(0,), lease_seconds=300, slots=((QueueType.SCRIPT, 3),))
    first = claim_next(conn, QueueType.SCRIPT, _owner(1), policy, NOW, token="a" * 32)
    again = claim_next(conn, QueueType.SCRIPT, _owner(1), policy, NOW, token="a" * 32, resent=True)
    assert first is not None and again is not None and again.id == first.id
    fresh = claim_next(conn, QueueType.SCRIPT, _owner(1), policy, NOW, token="b" * 32, resent=True)
    assert fresh is not None and fresh.id != first.id and fresh.claim_token == "b" * 32
    result = StageResult(script_text="{}")
    later = NOW + timedelta(seconds=1)
    done, following = complete_and_claim(
        conn, first, result, policy, later, _owner(1), token="c" * 32
    )
    assert done and following is not None
    done, again_following = complete_and_claim(
        conn, first, result, policy, later, _owner(1), token="c" * 32, resent=True
    )
    assert done and again_following is not None and again_following.id == following.id
    processing = conn.execute(
        "SELECT count(*) FROM task_queue WHERE queue_type = 'script' AND status = 'processing'"
    ).fetchone()[0]
    assert processing == 2  # fresh and following: nothing taken twice, nothing left behind


@pytest.mark.postgresql_only
def test_placeholders_and_percent_signs_reach_postgresql_intact(conn: Connection) -> None:
    one = conn.execute("SELECT CAST(? AS TEXT) || '%' || '?'", ("50",)).fetchone()
    assert one[0] == "50%?"
    named = conn.execute("SELECT CAST(:n AS TEXT) || ':x' || 'it''s'", {"n": "a"}).fetchone()
    assert named[0] == "a:xit's"
    assert conn.execute("SELECT '5'::int + 1").fetchone()[0] == 6


@pytest.mark.postgresql_only
def test_postgresql_records_its_migrations_and_reads_timestamps_as_text(
    conn: Connection, workspace: Workspace
) -> None:
    from autoqueue.store import postgres

    versions = conn.execute("SELECT version FROM autoqueue_schema").fetchall()
    assert [r[0] for r in versions] == list(range(1, postgres.PG_SCHEMA_VERSION + 1))
    task_id = add(workspace, conn, "stamped")
    row = conn.execute("SELECT created_at FROM tasks WHERE id = ?", (task_id,)).fetchone()
    assert row[0] == "2026-11-26 12:00:00"  # NOW, as SQLite would have stored it
    # The circular foreign key exists in both directions.
    constraints = {
        r[0]
        for r in conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
            "('contents'::regclass, 'tasks'::regclass)"
        ).fetchall()
    }
    assert "contents_task_id_fkey" in constraints and "tasks_content_id_fkey" in constraints


@pytest.mark.postgresql_only
def test_a_postgresql_schema_1_database_takes_pause_and_resume_log_rows(pg_server: object) -> None:
    """Schema 2 lists `pause` and `resume` in task_logs' CHECK."""
    from autoqueue.store import postgres

    from .pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    pg_server.create_database("schema_one")
    url = pg_server.url("schema_one")
    conn = postgres.connect(url, create=True)
    try:
        conn.execute("INSERT INTO tasks (id, title, type) VALUES ('t1', 't', 'shortform')")
        conn.execute("ALTER TABLE task_logs DROP CONSTRAINT task_logs_action_type_check")
        conn.execute(
            "ALTER TABLE task_logs ADD CONSTRAINT task_logs_action_type_check CHECK (action_type "
            "IN ('start', 'progress', 'complete', 'fail', 'retry', 'stop', 'skip'))"
        )
        conn.execute("DELETE FROM autoqueue_schema WHERE version > 1")
    finally:
        conn.close()
    conn = postgres.connect(url)
    try:
        conn.execute(
            "INSERT INTO task_logs (task_id, message, action_type) VALUES ('t1', 'p', 'pause')"
        )
        versions = conn.execute("SELECT version FROM autoqueue_schema ORDER BY version").fetchall()
        assert [r[0] for r in versions] == list(range(1, postgres.PG_SCHEMA_VERSION + 1))
    finally:
        conn.close()
        pg_server.drop_database("schema_one")


@pytest.mark.postgresql_only
def test_concurrent_first_connections_migrate_once(pg_server: object, tmp_path: Path) -> None:
    """Six processes' worth of first connections to an empty database at once: the advisory
    lock lets one create the schema; the others wait and find it done."""
    from autoqueue.store import postgres

    from .pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    pg_server.create_database("racing_migrations")
    url = pg_server.url("racing_migrations")
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def first() -> None:
        try:
            barrier.wait()
            postgres.connect(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    conn = postgres.connect(url)
    try:
        versions = conn.execute("SELECT version FROM autoqueue_schema ORDER BY version")
        assert [row[0] for row in versions] == list(range(1, postgres.PG_SCHEMA_VERSION + 1))
    finally:
        conn.close()
        pg_server.drop_database("racing_migrations")


@pytest.mark.postgresql_only
def test_a_database_with_foreign_tables_of_the_same_names_is_refused(pg_server: object) -> None:
    from autoqueue.errors import DatabaseError
    from autoqueue.store import postgres

    from .pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    pg_server.create_database("someone_elses")
    url = pg_server.url("someone_elses")
    import psycopg

    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute("CREATE TABLE tasks (id int)")
    try:
        with pytest.raises(DatabaseError, match="not an autoqueue database"):
            postgres.connect(url)
        with psycopg.connect(url, autocommit=True) as raw:
            assert raw.execute("SELECT to_regclass('task_queue')").fetchone() == (None,)
    finally:
        pg_server.drop_database("someone_elses")


@pytest.mark.postgresql_only
def test_an_idle_worker_wakes_on_notify(workspace: Workspace, conn: Connection) -> None:
    """A LISTEN connection hears the NOTIFY that an enqueue sends when it commits."""
    from autoqueue.store import postgres

    assert workspace.db_url is not None
    listener = postgres.listen(workspace.db_url)
    try:
        add(workspace, conn, "wake up")
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    finally:
        listener.close()
    assert heard and heard[0] in {q.value for q in QueueType} | {queue_repo.WAKE}


@pytest.mark.postgresql_only
def test_a_lost_connection_is_made_again_but_never_inside_a_transaction(
    workspace: Workspace, pg_server: PgServer
) -> None:
    """The server ends the connection (as a restart does): the statement that finds out raises
    PgUnreachableError; a transaction it was in is gone, only its ROLLBACK passes, nothing of it
    was written; the next statement runs on a new connection, and the link says nothing (the
    server never went away). A connection its owner closed stays closed."""
    notices: list[str] = []
    link = Link(budget=60, notice=notices.append)
    conn = workspace.connect(link=link)

    def end_it() -> None:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with pg_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        end_it()
        with pytest.raises(db.PgUnreachableError):
            conn.execute("SELECT 1")
        assert conn.execute("SELECT 1").fetchone()[0] == 1
        with pytest.raises(db.PgUnreachableError), transaction(conn):
            conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T1,))
            end_it()
            conn.execute("INSERT INTO tasks (id, title, type) VALUES (?, 't', 'shortform')", (T2,))
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
        assert db.is_unreachable(db.PgUnreachableError("x")) and not db.is_busy(
            db.PgUnreachableError("x", "57P01")
        )
    finally:
        conn.close()
    assert notices == []
    with pytest.raises(db.PgOperationalError, match="closed"):
        conn.execute("SELECT 1")  # closed by its owner: never made again


@pytest.mark.no_db
def test_the_link_says_once_when_the_server_goes_and_once_when_it_is_back() -> None:
    """Tries are paced (a shared backoff), the outage is said once, its end once, and only past
    the budget does check() give up."""
    from autoqueue.errors import DatabaseUnreachableError

    notices: list[str] = []
    link = Link(budget=10, notice=notices.append)
    assert link.may_try(0.0)
    link.failed("no socket", 100.0)
    link.failed("no socket", 100.3)
    assert not link.may_try(100.4) and link.may_try(100.9)
    link.check(109.0)
    with pytest.raises(
        DatabaseUnreachableError, match=r"for 10 s \(\[worker\] outage\): no socket"
    ):
        link.check(111.0)
    link.restored(112.0)
    assert link.may_try(112.0) and link.down_for(113.0) == 0
    assert len(notices) == 2
    assert notices[0].startswith("the database cannot be reached (no socket)")
    assert notices[1] == "the database is back, after 12 s"
