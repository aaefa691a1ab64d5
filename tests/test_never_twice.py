"""A published video is never uploaded again by accident (issue 22): a retry never runs an item
of a run that a later run replaced, the uploader refuses a file this task already published
unless `retry --reupload` says so, and a finished task stays finished after retention. Real
ticks and commands as processes, the real client library against the fake YouTube."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from autoqueue.errors import SupersededError
from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection, dialect
from autoqueue.tasks.control import retry_task
from autoqueue.tasks.home import init_home
from autoqueue.tasks.views import list_tasks
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace
from autoqueue.youtube import auth

from .conftest import add, open_db, run_cli, stage_config, write_config
from .fake_youtube import FakeYouTube
from .helpers.processes import start_tick, wait_until
from .helpers.terminal import drive, make_app, settle, status

# The same bytes every run, as a render of the same story is: 1 MB, four 256 KiB chunks.
VIDEO_BYTES = bytes(range(256)) * 4096
VIDEO_PROGRAM = """from pathlib import Path
Path("output.mp4").write_bytes(bytes(range(256)) * 4096)
Path("thumbnail.jpg").write_bytes(b"fake jpg")
"""


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    with FakeYouTube() as server:
        yield server


def pipeline_home(home: Path, fake: FakeYouTube) -> None:
    """A home whose script and video stages are quick programs and whose youtube stage is the
    real uploader, talking to the fake YouTube."""
    video = home.parent / "video.py"
    video.write_text(VIDEO_PROGRAM, encoding="utf-8")
    config = stage_config(stages=("script",), max_retry=2) + (
        f'[stages.video]\ncommand = ["{{python}}", "{video.as_posix()}"]\n'
        '[stages.youtube]\nhandler = "youtube"\n'
        f'[youtube]\napi_root = "{fake.url}"\ntoken_uri = "{fake.url}token"\n'
        'chunk_mb = 0.25\nretry_seconds = 0.01\ndefault_channel = "main"\n'
    )
    write_config(home, config)
    auth.write_private(auth.token_path(home, "main"), fake.token_json())
    init_home(Workspace.load(home))


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *args, timeout=180)


def add_task(home: Path, *args: str) -> str:
    added = cli(home, "add", "never twice", "--media-mode", "upload", *args)
    assert added.returncode == 0, added.stderr
    return added.stdout.strip()


def drain(home: Path) -> None:
    ticked = cli(home, "tick", "--drain", "--max-seconds", "120")
    assert ticked.returncode == 0, ticked.stderr


def queue(home: Path, task_id: str) -> list[tuple[str, str]]:
    conn = open_db(home)
    try:
        return [(i.queue_type.value, i.status.value) for i in queue_repo.for_task(conn, task_id)]
    finally:
        conn.close()


def sql(home: Path, statement: str, *params: Any) -> list[Any]:
    conn = open_db(home)
    try:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if statement.lstrip().upper().startswith("SELECT") else []
    finally:
        conn.close()


def task_state(home: Path, task_id: str) -> str:
    listed = cli(home, "tasks", "--json")
    assert listed.returncode == 0, listed.stderr
    return str(next(t["state"] for t in json.loads(listed.stdout) if t["id"] == task_id))


def stopped_mid_upload(home: Path, fake: FakeYouTube) -> str:
    """A task stopped while its youtube stage uploads: a real tick, caught after one chunk."""
    task_id = add_task(home)
    fake.chunk_delay = 0.2
    tick = start_tick(home)
    wait_until(lambda: fake.sessions and len(fake.sessions["s1"].data) >= 256 * 1024, "a chunk")
    gate = fake.gate = threading.Event()  # the next chunk waits: the upload is in the middle
    stopped = cli(home, "stop", task_id)
    assert stopped.returncode == 0, stopped.stderr
    tick.wait(timeout=60)
    fake.gate, fake.chunk_delay = None, 0
    gate.set()
    assert not fake.videos, "the upload was not caught in the middle"
    return task_id


@pytest.mark.slow
def test_a_retry_never_runs_an_item_of_a_run_that_a_later_run_replaced(
    home: Path, fake: FakeYouTube
) -> None:
    pipeline_home(home, fake)
    task_id = stopped_mid_upload(home, fake)
    assert cli(home, "resume", task_id).returncode == 0
    drain(home)
    assert list(fake.videos) == ["vid1"] and fake.videos["vid1"].data == VIDEO_BYTES
    assert queue(home, task_id)[-1] == ("youtube", "completed")
    # The old run's youtube item is the newest failed one: retry refuses it, in one line.
    refused = cli(home, "retry", task_id)
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.count("\n") == 1 and "a later run replaced" in refused.stderr
    assert cli(home, "retry", task_id, "--reupload").returncode == 2
    # The terminal app's `r` on the failed tab says the same.
    app = make_app(Workspace.load(home))

    async def press_retry(pilot: Pilot[Any]) -> None:
        await pilot.press("6")
        await pilot.press("r")
        await settle(pilot)
        assert "a later run replaced" in status(app)

    drive(app, press_retry)
    drain(home)
    assert list(fake.videos) == ["vid1"], "the published video was uploaded again"
    assert queue(home, task_id).count(("youtube", "failed")) == 1
    # Retention removes the finished run's rows: the task stays done, not failed.
    sql(home, "UPDATE task_queue SET completed_at = '2000-01-01 00:00:00'")
    assert cli(home, "cleanup").returncode == 0
    assert task_state(home, task_id) == "done"


@pytest.mark.slow
def test_the_uploader_never_uploads_a_file_this_task_published_unless_told(
    home: Path, fake: FakeYouTube
) -> None:
    pipeline_home(home, fake)
    task_id = add_task(home, "--repeat", "daily")
    drain(home)
    # (seen once at load 9 in CI: nothing uploaded; the task's log says why, next time)
    assert list(fake.videos) == ["vid1"], (queue(home, task_id), cli(home, "logs", task_id).stdout)
    # A day later the next run renders the very same file.
    sql(home, "UPDATE task_schedules SET next_run_at = '2000-01-01 00:00:00'")
    drain(home)
    failed = sql(
        home,
        "SELECT error_message, retry_count FROM task_queue WHERE queue_type = 'youtube' "
        "AND status = 'failed'",
    )
    assert len(failed) == 1 and failed[0][1] == 0, "refused permanently, no retry spent"
    message = str(failed[0][0])
    assert "already published" in message and "https://youtu.be/vid1" in message
    assert f"autoqueue retry {task_id} --reupload" in message
    assert list(fake.videos) == ["vid1"]
    # A plain retry refuses again; --reupload uploads a second copy, as asked.
    assert cli(home, "retry", task_id).returncode == 0
    drain(home)
    assert list(fake.videos) == ["vid1"]
    assert cli(home, "retry", task_id, "--reupload").returncode == 0
    drain(home)
    assert list(fake.videos) == ["vid1", "vid2"]
    assert queue(home, task_id)[-1] == ("youtube", "completed")
    # What each run published is on record, with the file's checksum.
    published = sql(
        home,
        "SELECT video_sha256, youtube_url FROM contents WHERE published = 1 ORDER BY youtube_url",
    )
    checksum = hashlib.sha256(VIDEO_BYTES).hexdigest()
    assert [tuple(row) for row in published] == [
        (checksum, "https://youtu.be/vid1"),
        (checksum, "https://youtu.be/vid2"),
    ]


@pytest.mark.slow
def test_a_finished_once_task_stays_done_after_cleanup_and_resume_refuses_it(
    home: Path,
) -> None:
    write_config(home, stage_config())
    assert cli(home, "init").returncode == 0
    task_id = add_task(home)
    drain(home)
    assert task_state(home, task_id) == "done"
    sql(home, "UPDATE task_queue SET completed_at = '2000-01-01 00:00:00'")
    cleaned = cli(home, "cleanup", "--json")
    assert cleaned.returncode == 0 and json.loads(cleaned.stdout)["deleted"] == 4
    assert queue(home, task_id) == []
    assert task_state(home, task_id) == "done"
    refused = cli(home, "resume", task_id)
    assert refused.returncode == 2 and "finished its run" in refused.stderr
    assert sql(home, "SELECT count(*) FROM task_queue")[0][0] == 0


def as_schema_6(conn: Connection) -> None:
    """Take a database back to the schema before issue 22's columns, on either backend."""
    for table, column in (
        ("task_queue", "superseded_at"),
        ("tasks", "last_run_at"),
        ("contents", "video_sha256"),
    ):
        # SQLite cannot drop the last column of a table whose definition holds comments (it
        # reparses the edited text); a renamed column is as absent to the migration.
        postgres = dialect(conn).name == "postgresql"
        change = "DROP COLUMN {0}" if postgres else "RENAME COLUMN {0} TO {0}_before"
        conn.execute(f"ALTER TABLE {table} {change.format(column)}")
    if dialect(conn).name == "postgresql":
        conn.execute("DELETE FROM autoqueue_schema WHERE version >= 3")
    else:
        conn.execute("PRAGMA user_version = 7")  # the later migrations run again, as they may


def insert_items(conn: Connection, task_id: str, *items: tuple[str, str, str | None]) -> None:
    for queue_type, state, completed_at in items:
        conn.execute(
            "INSERT INTO task_queue (task_id, queue_type, status, created_at, updated_at, "
            "completed_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                task_id,
                queue_type,
                state,
                "2026-01-01 00:00:00",
                "2026-01-01 00:00:00",
                completed_at,
            ),
        )


def test_the_upgrade_marks_replaced_runs_and_remembers_finished_ones(
    workspace: Workspace, conn: Connection
) -> None:
    replaced, cleaned, failing = (
        add(workspace, conn, title, at="2099-01-01 00:00") for title in ("a", "b", "c")
    )
    as_schema_6(conn)
    conn.execute("UPDATE task_schedules SET is_active = 0, next_run_at = NULL")  # each ran once
    done = "2026-01-02 00:00:00"
    run = (("schedule", "completed", done), ("script", "completed", done))
    # A run stopped at its upload, then resumed and published.
    insert_items(
        conn, replaced, *run, ("youtube", "failed", None), *run, ("youtube", "completed", done)
    )
    # A finished run whose queue rows cleanup removed: only its published content says so.
    conn.execute(
        "INSERT INTO contents (id, type, status, task_id, published, youtube_url, created_at, "
        "updated_at) VALUES ('c1', 'video', 'completed', ?, 1, 'https://youtu.be/x', ?, ?)",
        (cleaned, done, "2026-01-03 00:00:00"),
    )
    # A run whose upload failed, with nothing after it: still the one to retry.
    insert_items(conn, failing, *run, ("youtube", "failed", None))
    conn.close()
    upgraded = workspace.connect()
    try:
        with pytest.raises(SupersededError, match="a later run replaced"):
            retry_task(upgraded, replaced, utcnow())
        states = {task.id: task for task in list_tasks(upgraded)}
        assert (states[replaced].state, states[replaced].last_run) == ("done", done)
        assert (states[cleaned].state, states[cleaned].last_run) == (
            "done",
            "2026-01-03 00:00:00",
        )
        assert states[failing].state == "failed"
        assert retry_task(upgraded, failing, utcnow()) > 0
    finally:
        upgraded.close()
