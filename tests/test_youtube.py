"""The YouTube uploader: the real google-api-python-client against a fake YouTube on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from autoqueue.config import YouTubeConfig
from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.kinds import QueueType
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import state as state_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection
from autoqueue.timeutil import from_db, to_db, utcnow
from autoqueue.worker.tick import Worker
from autoqueue.workspace import Workspace
from autoqueue.youtube import auth
from autoqueue.youtube.api import chunk_size, classify
from autoqueue.youtube.quota import next_reset, quota_day

from .conftest import invoke, run_cli, write_config
from .fake_youtube import FakeYouTube
from .helpers.processes import start_tick, wait_until
from .helpers.youtube import fake as fake  # the fixture, imported for this module's tests
from .helpers.youtube import ready_task, youtube_home

SECRETS = (
    "access-",
    "refresh-1",
    "client-secret-456",
    "upload_id",
    "secret-s",
    "Bearer",
    "Authorization",
)


def drain(workspace: Workspace) -> None:
    Worker(Workspace.load(workspace.home)).run(drain=True, max_seconds=120)


def youtube_item(conn: Connection, task_id: str):  # type: ignore[no-untyped-def]
    return next(i for i in queue_repo.for_task(conn, task_id) if i.queue_type is QueueType.YOUTUBE)


def all_text(conn: Connection) -> str:
    rows = conn.execute("SELECT message, metadata FROM task_logs").fetchall()
    rows += conn.execute("SELECT error_message, NULL FROM task_queue").fetchall()
    rows += conn.execute("SELECT last_error, youtube_url FROM tasks").fetchall()
    return "\n".join(str(value) for row in rows for value in row)


def test_an_upload_sends_every_byte_once_in_chunks_and_sets_the_thumbnail(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, data = ready_task(workspace, conn, size=1_100_000, privacy="unlisted")
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    assert list(fake.videos) == ["vid1"] and len(fake.sessions) == 1
    video = fake.videos["vid1"]
    assert video.data == data
    assert video.metadata["snippet"] == {
        "title": "무선 가습기 리뷰",
        "description": "설명",
        "tags": ["가습기", "리뷰"],
        "categoryId": "22",
    }
    assert video.metadata["status"] == {
        "privacyStatus": "unlisted",
        "selfDeclaredMadeForKids": False,
    }
    assert video.thumbnail == (workspace.task_dir(task_id) / "thumbnail.jpg").read_bytes()
    chunks = [
        int(h["content-length"])
        for m, p, h in fake.requests
        if m == "PUT" and "bytes */" not in h.get("content-range", "")
    ]
    assert len(chunks) == 5 and all(size % (256 * 1024) == 0 for size in chunks[:-1])
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.youtube_url == "https://youtu.be/vid1"
    content = contents_repo.get(conn, f"c-{task_id}")
    assert (
        content is not None and content.published and content.youtube_url == "https://youtu.be/vid1"
    )
    used = state_repo.quota_used(conn, "default", quota_day(utcnow()))
    assert used == 1600 + 50
    conn.close()


def test_an_upload_of_many_chunks_logs_its_progress_every_tenth(
    home: Path, fake: FakeYouTube
) -> None:
    """40 chunks of 256 KiB: the offset is saved on the item after every chunk, but the log
    gets a progress row per tenth of the file, not per chunk."""
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    size = 40 * 256 * 1024 + 1000
    task_id, _data = ready_task(workspace, conn, size=size)
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert item.status.value == "completed"
    saved = state_repo.load(conn, item.id)
    assert saved is not None and saved["offset"] == size
    rows = conn.execute(
        "SELECT message FROM task_logs WHERE action_type = 'progress' AND task_id = ?", (task_id,)
    ).fetchall()
    assert 5 <= len(rows) <= 11, rows
    conn.close()


def test_a_503_and_a_dropped_connection_mid_upload_are_survived(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, data = ready_task(workspace, conn, size=800_000)
    fake.chunk_statuses = [503]
    fake.drop_next_chunk = True
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    assert len(fake.videos) == 1 and fake.videos["vid1"].data == data
    assert "503" in all_text(conn)
    conn.close()


def kill_tick_and_attempt(tick: subprocess.Popen[bytes], conn: Connection, task_id: str) -> None:
    """What a power cut does: the tick and the attempt's supervisor (the uploader) both die."""
    supervisor = youtube_item(conn, task_id).stage_pid
    assert supervisor
    tick.send_signal(signal.SIGKILL)
    os.kill(supervisor, signal.SIGKILL)
    tick.wait()


def upload_under_way(
    home: Path, fake: FakeYouTube
) -> tuple[Connection, str, bytes, subprocess.Popen[bytes]]:
    """A tick uploading a 2 MB video slowly, caught after its first two chunks."""
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, data = ready_task(workspace, conn, size=2_000_000)
    fake.chunk_delay = 0.3
    tick = start_tick(home)
    wait_until(lambda: fake.sessions and len(fake.sessions["s1"].data) >= 512 * 1024, "a chunk")
    return conn, task_id, data, tick


@pytest.mark.slow
def test_a_tick_killed_mid_upload_leaves_the_upload_running_and_adopts_it(
    home: Path, fake: FakeYouTube
) -> None:
    conn, task_id, data, tick = upload_under_way(home, fake)
    fake.gate = threading.Event()  # the upload goes on, but slowly: chunks wait for the gate
    tick.send_signal(signal.SIGKILL)
    tick.wait()
    assert len(fake.sessions["s1"].data) < len(data), "the upload was not caught in the middle"
    adopter = subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: "adopted" in all_text(conn), "the adoption")
    fake.chunk_delay = 0
    fake.gate.set()
    out, err = adopter.communicate(timeout=60)
    assert adopter.returncode == 0, err
    assert "adopted" in out
    assert len(fake.sessions) == 1 and list(fake.videos) == ["vid1"]
    assert fake.videos["vid1"].data == data
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("completed", 0)
    conn.close()


@pytest.mark.slow
def test_an_upload_killed_with_its_tick_resumes_the_same_session(
    home: Path, fake: FakeYouTube
) -> None:
    conn, task_id, data, tick = upload_under_way(home, fake)
    kill_tick_and_attempt(tick, conn, task_id)
    received = len(fake.sessions["s1"].data)
    assert 0 < received < len(data), "the upload was not caught in the middle"
    saved = state_repo.load(conn, youtube_item(conn, task_id).id)
    assert (
        saved is not None
        and saved["session_uri"].startswith(fake.url)
        and saved["video_id"] is None
    )
    fake.chunk_delay = 0
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60")
    assert result.returncode == 0, result.stderr
    assert len(fake.sessions) == 1, "a second upload session was opened"
    assert list(fake.videos) == ["vid1"] and fake.videos["vid1"].data == data
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("completed", 0)
    assert "resuming the upload at byte" in all_text(conn)
    conn.close()


def test_a_session_lost_between_ticks_mid_upload_starts_again_at_the_first_byte(
    home: Path, fake: FakeYouTube
) -> None:
    """The uploader dies mid-upload and the session expires before the next tick: the upload
    cannot have completed (the chunk in flight was not the last), so a new session starts."""
    conn, task_id, data, tick = upload_under_way(home, fake)
    kill_tick_and_attempt(tick, conn, task_id)
    fake.chunk_delay = 0
    fake.forget_sessions()
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60")
    assert result.returncode == 0, result.stderr
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("completed", 0)
    assert len(fake.sessions) == 2 and list(fake.videos) == ["vid1"]
    assert fake.videos["vid1"].data == data
    assert "starts again in a new session" in all_text(conn)
    conn.close()


def crash_after_the_final_chunk(
    home: Path, fake: FakeYouTube, conn: Connection, task_id: str
) -> None:
    """YouTube has stored the whole video, but the uploader dies before it hears so; then the
    session expires (YouTube forgets it after about a week)."""
    fake.final_delay = 10
    tick = start_tick(home)
    wait_until(lambda: bool(fake.videos), "the final chunk")
    kill_tick_and_attempt(tick, conn, task_id)
    saved = state_repo.load(conn, youtube_item(conn, task_id).id)
    assert saved is not None and saved["video_id"] is None  # it never heard
    fake.final_delay = 0
    fake.forget_sessions()


def test_a_session_gone_after_the_final_chunk_finds_the_video_instead_of_uploading_again(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=600_000)
    crash_after_the_final_chunk(home, fake, conn, task_id)
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60")
    assert result.returncode == 0, result.stderr
    assert list(fake.videos) == ["vid1"] and len(fake.sessions) == 1, "uploaded twice"
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("completed", 0)
    assert tasks_repo.get(conn, task_id).youtube_url == "https://youtu.be/vid1"  # type: ignore[union-attr]
    assert fake.videos["vid1"].thumbnail is not None
    assert "found the upload on the channel: vid1" in all_text(conn)
    conn.close()


@pytest.mark.slow
def test_when_it_cannot_be_sure_it_fails_and_uploads_again_only_when_told(
    home: Path, fake: FakeYouTube, runner: CliRunner
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=600_000)
    crash_after_the_final_chunk(home, fake, conn, task_id)
    fake.deny_reads = True  # a token authorised before autoqueue asked to read the channel
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60")
    assert result.returncode == 0, result.stderr
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("failed", 0)
    assert "may already be on YouTube" in str(item.error_message)
    assert f"autoqueue retry {task_id} --reupload" in str(item.error_message)
    assert len(fake.videos) == 1 and len(fake.sessions) == 1
    # A plain retry looks again, and still never uploads a second copy.
    assert invoke(runner, home, "retry", task_id).exit_code == 0
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "failed"
    assert len(fake.sessions) == 1
    # --reupload is the documented way to upload it again.
    fake.deny_reads = False
    retried = invoke(runner, home, "retry", task_id, "--reupload")
    assert retried.exit_code == 0, retried.output
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    assert len(fake.sessions) == 2 and len(fake.videos) == 2
    conn.close()


def test_a_session_expiring_mid_upload_starts_a_new_one_within_the_attempt(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, data = ready_task(workspace, conn, size=1_000_000)
    fake.forget_after_bytes = 256 * 1024
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("completed", 0)
    assert len(fake.sessions) == 2 and list(fake.videos) == ["vid1"]
    assert fake.videos["vid1"].data == data
    assert "starts again in a new session" in all_text(conn)
    conn.close()


def test_the_ledger_charges_only_calls_that_reached_youtube(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake, extra="retries = 0\n", max_retry=5)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=300_000)
    fake.refused_insert_connections = 4  # four openings never get an answer
    for _ in range(6):
        drain(workspace)
    item = youtube_item(conn, task_id)
    # httplib2 sends a request a second time by itself when its connection drops, so the four
    # refusals cost two stage attempts, each of which the old ledger charged an upload.
    assert item.status.value == "completed" and item.retry_count >= 1
    assert state_repo.quota_used(conn, "default", quota_day(utcnow())) == 1600 + 50
    conn.close()


def test_a_crash_after_the_upload_finished_does_not_upload_again(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=300_000)
    fake.thumbnail_error = (503, "backendError")
    drain(workspace)  # uploads, then fails on the thumbnail until retries run out
    item = youtube_item(conn, task_id)
    assert item.status.value == "failed" and len(fake.videos) == 1
    fake.thumbnail_error = None
    assert invoke(CliRunner(), home, "retry", task_id).exit_code == 0
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    assert len(fake.videos) == 1 and len(fake.sessions) == 1
    assert fake.videos["vid1"].thumbnail is not None
    conn.close()


def test_quota_exceeded_parks_the_item_until_the_pacific_midnight(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn)
    fake.insert_error = (403, "quotaExceeded")
    before = utcnow()
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("waiting", 0)
    assert item.next_retry_at == to_db(next_reset(before))
    assert "waiting until" in all_text(conn) and "quotaExceeded" in all_text(conn)
    # The ledger now says the day is spent: the next upload waits without asking YouTube.
    asked = len(fake.requests)
    other, _ = ready_task(workspace, conn)
    drain(workspace)
    assert youtube_item(conn, other).status.value == "waiting"
    assert len(fake.requests) == asked
    conn.close()


def test_uploads_beyond_the_configured_budget_wait_for_the_next_day(
    home: Path, fake: FakeYouTube
) -> None:
    workspace = youtube_home(home, fake, extra="daily_quota = 1000\n")
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn)
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("waiting", 0)
    assert "quota budget" in str(item.error_message)
    assert fake.requests == []
    conn.close()


def test_upload_limit_exceeded_parks_for_a_day(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn)
    fake.insert_error = (400, "uploadLimitExceeded")
    before = utcnow()
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("waiting", 0)
    hours = (from_db(str(item.next_retry_at)) - before).total_seconds() / 3600
    assert 23.9 < hours < 24.1
    conn.close()


def test_bad_metadata_fails_permanently_with_youtubes_reason(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn)
    fake.insert_error = (400, "invalidTitle")
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("failed", 0)
    assert "400 invalidTitle" in str(item.error_message)
    conn.close()


def test_publish_at_forces_private(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(
        workspace, conn, privacy="public", publish_at="2098-05-01 09:00", tz="UTC"
    )
    # Even a schedule row that says public (written by another tool) uploads private.
    conn.execute(
        "UPDATE task_schedules SET youtube_privacy = 'public' WHERE task_id = ?", (task_id,)
    )
    drain(workspace)
    status = fake.videos["vid1"].metadata["status"]
    assert status["privacyStatus"] == "private" and status["publishAt"] == "2098-05-01T09:00:00Z"
    conn.close()


def test_an_expired_token_is_refreshed_and_saved_privately(home: Path, fake: FakeYouTube) -> None:
    expired = fake.token_json(token="access-old", expiry="2020-01-01T00:00:00Z")
    workspace = youtube_home(home, fake, token=expired)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=300_000)
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    path = auth.token_path(home, "main")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["token"] == "access-1" and saved["refresh_token"] == "refresh-1"
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn.close()


@pytest.mark.parametrize("how", ["revoked", "rejected"])
def test_a_refused_token_fails_permanently_asking_to_authorise_again(
    home: Path, fake: FakeYouTube, how: str
) -> None:
    if how == "revoked":
        fake.refresh_tokens["refresh-1"] = "revoked"
        token = fake.token_json(token="access-old", expiry="2020-01-01T00:00:00Z")
    else:
        fake.reject_all_tokens = True
        token = None
    workspace = youtube_home(home, fake, token=token)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn)
    drain(workspace)
    item = youtube_item(conn, task_id)
    assert (item.status.value, item.retry_count) == ("failed", 0)
    assert "autoqueue youtube auth --channel main" in str(item.error_message)
    assert fake.videos == {}
    conn.close()


def test_no_secret_reaches_the_logs_errors_or_json(
    home: Path, fake: FakeYouTube, runner: CliRunner
) -> None:
    expired = fake.token_json(token="access-old", expiry="2020-01-01T00:00:00Z")
    workspace = youtube_home(home, fake, token=expired)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=600_000)
    fake.chunk_statuses = [503, 500]
    fake.drop_next_chunk = True
    drain(workspace)
    failing, _ = ready_task(workspace, conn)
    fake.reject_all_tokens = True
    drain(workspace)
    texts = [all_text(conn)]
    for args in (
        ["logs", "--json", "--limit", "1000"],
        ["show", task_id, "--json"],
        ["show", failing, "--json"],
        ["youtube", "channels", "--json"],
        ["list", "failed", "--json"],
    ):
        result = invoke(runner, home, *args)
        texts.append(result.output)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked"
    conn.close()


def test_add_checks_the_channel_when_the_uploader_is_on(
    home: Path, fake: FakeYouTube, runner: CliRunner
) -> None:
    youtube_home(home, fake)
    result = invoke(runner, home, "add", "t", "--channel", "other")
    assert result.exit_code == 2 and "unknown channel 'other' (authorised: main" in result.stderr
    assert invoke(runner, home, "add", "t", "--channel", "main").exit_code == 0
    assert invoke(runner, home, "add", "t", "--channel", "../etc").exit_code == 2


def test_channels_asks_google_about_each_token(
    home: Path, fake: FakeYouTube, runner: CliRunner
) -> None:
    youtube_home(home, fake)  # "main": an access token that looks valid until 2099
    auth.write_private(
        auth.token_path(home, "old"), fake.token_json(token="x", expiry="2020-01-01T00:00:00Z")
    )
    result = invoke(runner, home, "youtube", "channels", "--json")
    assert result.exit_code == 0, result.output
    statuses = {s["channel"]: s for s in json.loads(result.stdout)}
    assert statuses["main"]["valid"] and statuses["old"]["valid"]
    assert statuses["main"]["detail"] == "accepted by Google (token refreshed)"
    asked = [p for m, p, _ in fake.requests if m == "POST" and p.startswith("/token")]
    assert len(asked) == 2
    # The user revokes autoqueue's access in their Google account: however fresh the saved
    # access token looks, the grant is gone, and channels says so.
    fake.refresh_tokens["refresh-1"] = "revoked"
    auth.write_private(auth.token_path(home, "main"), fake.token_json())
    text = invoke(runner, home, "youtube", "channels")
    assert text.exit_code == 0
    assert "❌ main: Google refused it (invalid_grant)" in text.stdout
    assert "autoqueue youtube auth --channel main" in text.stdout
    for secret in SECRETS:
        assert secret not in text.stdout


def test_channels_says_when_google_cannot_be_asked(
    home: Path, fake: FakeYouTube, runner: CliRunner
) -> None:
    youtube_home(home, fake)
    config = (home / "autoqueue.toml").read_text(encoding="utf-8")
    # The discard port: nothing listens there, as when the machine is offline.
    write_config(
        home,
        config.replace(f'token_uri = "{fake.url}token"', 'token_uri = "http://127.0.0.1:9/token"'),
    )
    result = invoke(runner, home, "youtube", "channels", "--json")
    assert result.exit_code == 0, result.output
    [status] = json.loads(result.stdout)
    assert status["channel"] == "main" and not status["valid"]
    assert status["detail"].startswith("not checked: cannot reach Google's token endpoint")


def test_auth_failures_are_one_line(home: Path, fake: FakeYouTube, tmp_path: Path) -> None:
    import socket as sockets

    secrets = tmp_path / "client_secret.json"
    secrets.write_text(fake.client_secrets_json(), encoding="utf-8")
    busy = sockets.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        result = run_cli(
            home, "youtube", "auth", "--channel", "brand", "--client-secrets", str(secrets),
            "--no-browser", "--port", str(port),
        )  # fmt: skip
    finally:
        busy.close()
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"cannot listen on localhost port {port}" in result.stderr
    # Google refuses the code (expired, or used twice).
    url, flow = start_auth(home, secrets)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    callback = f"{query['redirect_uri'][0]}?state={query['state'][0]}&code=stale-code"
    with contextlib.suppress(OSError):
        urllib.request.urlopen(callback.replace("localhost", "127.0.0.1"), timeout=30).close()
    _, err = flow.communicate(timeout=30)
    assert flow.returncode == 1, err
    assert err.strip().splitlines() == [
        "error: Google refused the authorisation (invalid_grant): run `autoqueue youtube auth` "
        "again and allow access"
    ]
    assert not auth.token_path(home, "brand").exists()


def start_auth(home: Path, secrets: Path) -> tuple[str, subprocess.Popen[str]]:
    """`youtube auth --no-browser` as a user runs it; returns the URL it prints."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    flow = subprocess.Popen(
        [
            sys.executable, "-m", "autoqueue", "--home", str(home), "youtube", "auth",
            "--channel", "brand", "--client-secrets", str(secrets), "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert flow.stdout is not None
    url = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not url:
        line = flow.stdout.readline()
        url = line.strip() if line.startswith("http") else ""
    assert url, "no URL printed"
    return url, flow


def test_auth_runs_the_loopback_flow_and_saves_a_private_token(
    home: Path, fake: FakeYouTube, tmp_path: Path
) -> None:
    secrets = tmp_path / "client_secret.json"
    secrets.write_text(fake.client_secrets_json(), encoding="utf-8")
    url, flow = start_auth(home, secrets)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert url.startswith(fake.url + "auth")
    assert query["scope"][0].split() == [
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    ]
    redirect = query["redirect_uri"][0]
    assert re.match(r"^http://localhost:\d+/$", redirect)
    # What the browser does after the user consents: back to the loopback port with a code.
    scope = urllib.parse.quote(query["scope"][0])
    callback = f"{redirect}?state={query['state'][0]}&code=good-code&scope={scope}"
    with urllib.request.urlopen(callback.replace("localhost", "127.0.0.1"), timeout=30) as answer:
        assert answer.status == 200
    out, err = flow.communicate(timeout=30)
    assert flow.returncode == 0, err
    path = auth.token_path(home, "brand")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["refresh_token"] == "refresh-1"
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for secret in ("client-secret-456", "refresh-1", "access-"):
        assert secret not in out + err


# -- pure pieces -------------------------------------------------------------------------------


def test_the_quota_day_turns_at_pacific_midnight_across_dst() -> None:
    summer = datetime(2026, 7, 1, 6, 59, tzinfo=UTC)  # 23:59 PDT
    assert quota_day(summer) == "2026-06-30"
    assert next_reset(summer) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)  # 23:59 PST
    assert quota_day(winter) == "2026-11-30"
    assert next_reset(winter) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_chunks_are_multiples_of_256_kib() -> None:
    assert chunk_size(YouTubeConfig(chunk_mb=8)) == 8 * 1024 * 1024
    assert chunk_size(YouTubeConfig(chunk_mb=0.1)) == 256 * 1024
    assert chunk_size(YouTubeConfig(chunk_mb=1.3)) % (256 * 1024) == 0


def test_errors_are_classified() -> None:
    import httplib2
    from google.auth.exceptions import RefreshError
    from googleapiclient.errors import HttpError

    def http_error(status: int, reason: str) -> HttpError:
        body = json.dumps(
            {"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}}
        ).encode()
        return HttpError(httplib2.Response({"status": status}), body)

    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    config = YouTubeConfig()
    kinds = {
        (503, "backendError"): TransientStageError,
        (429, "rateLimitExceeded"): TransientStageError,
        (403, "rateLimitExceeded"): TransientStageError,
        (403, "quotaExceeded"): ParkStageError,
        (400, "uploadLimitExceeded"): ParkStageError,
        (401, "authError"): PermanentStageError,
        (400, "invalidTitle"): PermanentStageError,
    }
    for (status, reason), kind in kinds.items():
        assert (
            type(classify(http_error(status, reason), channel="c", config=config, now=now)) is kind
        )
    assert isinstance(
        classify(ConnectionResetError(), channel="c", config=config, now=now), TransientStageError
    )
    assert isinstance(
        classify(RefreshError("invalid_grant"), channel="c", config=config, now=now),
        PermanentStageError,
    )


def test_a_thumbnail_over_2_mb_is_re_encoded(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _ = ready_task(workspace, conn, size=300_000)
    thumbnail = workspace.task_dir(task_id) / "thumbnail.jpg"
    Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3)).save(thumbnail, quality=100)
    assert thumbnail.stat().st_size > 2 * 1024 * 1024
    drain(workspace)
    sent = fake.videos["vid1"].thumbnail
    assert sent is not None and len(sent) <= 2 * 1024 * 1024 and sent[:2] == b"\xff\xd8"
    conn.close()


def test_the_captions_go_up_as_a_track_when_configured(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake, extra="captions = true\n")
    conn = workspace.connect()
    task_id, _data = ready_task(workspace, conn)
    srt = "1\n00:00:00,000 --> 00:00:01,500\n무선 가습기 리뷰\n"
    (workspace.task_dir(task_id) / "output.srt").write_text(srt, encoding="utf-8")
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    (request,) = fake.videos["vid1"].captions
    assert srt.encode() in request  # the file itself, through the real client's multipart upload
    assert b'"language": "ko"' in request.replace(b'":"', b'": "')
    # the project's row (the channel's own part is counted again in its "default@main" row)
    used = conn.execute("SELECT units FROM youtube_quota WHERE project = 'default'").fetchone()[0]
    assert used == 1600 + 50 + 400
    channel = "SELECT units FROM youtube_quota WHERE project = 'default@main'"
    assert conn.execute(channel).fetchone()[0] == used
    conn.close()


def test_without_the_setting_no_caption_track_is_sent(home: Path, fake: FakeYouTube) -> None:
    workspace = youtube_home(home, fake)
    conn = workspace.connect()
    task_id, _data = ready_task(workspace, conn)
    (workspace.task_dir(task_id) / "output.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,000\nhi\n"
    )
    drain(workspace)
    assert youtube_item(conn, task_id).status.value == "completed"
    assert fake.videos["vid1"].captions == []
    conn.close()
