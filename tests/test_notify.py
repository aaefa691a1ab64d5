"""Notifications through Apprise (docs/notifications.md), with Apprise's real plugins against local
fakes of their services (tests/helpers/webhook.py: a ``json://`` webhook and an ntfy server),
through real ticks: what each message says, each event sent once (two ticks, two workers), a
failed send as a warn log row tried again at the next tick, secrets never shown, ``notify
test``, the daily digest at its time, and a service that hangs never holding up a stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue.kinds import EventKind, QueueStatus
from autoqueue.repo import notifications as notifications_repo
from autoqueue.tasks.add import AddRequest
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.worker.tick import Worker
from autoqueue.workspace import Workspace

from .conftest import NOW, add, add_many, invoke, open_db, run_cli, write_config
from .fake_openai import FakeOpenAI, picture, png
from .helpers.database import db_value, logged, queue_rows
from .helpers.webhook import Receiver, notify_config
from .helpers.webhook import receiver as receiver  # the fixture, imported for this module's tests

SECRET = "s3cret-Pa55word"
TOKEN = "tk-0123456789abcdef"


def home_with(home: Path, *urls: str, extra: str = "", zone: str = "UTC") -> Workspace:
    """An initialised home in ``zone`` whose stages run tests/programs/stage.py and whose
    notifications go to ``urls``."""
    config = notify_config(*urls, extra=extra)
    write_config(home, config.replace('timezone = "UTC"', f'timezone = "{zone}"', 1))
    init_home(Workspace.load(home))
    return Workspace.load(home)


def tasks(home: Path, *settings: list[str], titles: list[str] | None = None) -> list[str]:
    """One upload-mode task per settings list (``fail_script=permanent`` makes one fail),
    added at the tests' ``NOW``."""
    names = titles or [f"task {n}" for n in range(len(settings))]
    workspace = Workspace.load(home)
    conn = workspace.connect()
    try:
        return [
            add(workspace, conn, name, NOW, media_mode="upload", settings=list(each))
            for name, each in zip(names, settings, strict=True)
        ]
    finally:
        conn.close()


def tick(home: Path, clock: Callable[[], datetime] | None = None, **options: object) -> Worker:
    """One real round in this process, to the end (drained), on ``clock``."""
    worker = Worker(Workspace.load(home), **({"clock": clock} if clock else {}))
    report = worker.run(drain=True, max_seconds=120, **options)  # type: ignore[arg-type]
    assert report.error is None, report.error
    return worker


def notifications(home: Path) -> list[notifications_repo.Notification]:
    conn = open_db(home)
    try:
        rows = conn.execute("SELECT * FROM notifications ORDER BY id").fetchall()
        return [notifications_repo.Notification.from_row(row) for row in rows]
    finally:
        conn.close()


def test_a_failure_and_a_publication_are_sent_once_saying_what_to_do(
    home: Path, receiver: Receiver
) -> None:
    """A real `autoqueue tick` subprocess: the failed task's message names it, the stage, the
    error and the commands; the published one its URL. ntfy (a real Apprise plugin, with a
    password) gets the same. A second tick sends nothing again."""
    ntfy = receiver.url("ntfy", "/alerts").replace("ntfy://", f"ntfy://bob:{SECRET}@")
    home_with(home, receiver.url(), ntfy)
    broken, good = tasks(home, ["fail_script=permanent"], [], titles=["깨진 영상", "Good one"])
    result = run_cli(home, "tick", "--drain")
    assert result.returncode == 0, result.stderr
    messages = receiver.wait_for(4)
    webhook = [m for m in messages if m.path == "/hook"]
    pushed = [m for m in messages if m.path == "/"]
    assert len(webhook) == 2 and len(pushed) == 2
    assert {m.body["topic"] for m in pushed} == {"alerts"}
    assert {m.basic_auth for m in pushed} == {f"bob:{SECRET}"}
    failed = next(m.text for m in webhook if "failed" in m.body["title"])
    assert f"{broken[:8]} “깨진 영상” failed at the script stage" in failed
    assert "bad input: cannot continue" in failed  # the stage's own error
    assert f"autoqueue retry {broken[:8]}" in failed and f"autoqueue show {broken[:8]}" in failed
    published = next(m.text for m in webhook if "published" in m.body["title"])
    assert f"{good[:8]} “Good one” is published: https://youtu.be/{good[:8]}" in published
    assert f"autoqueue show {good[:8]}" in published
    assert {m.body["type"] for m in webhook} == {"failure", "success"}
    assert sorted(m.text for m in pushed) == sorted(m.text for m in webhook)
    rows = notifications(home)
    assert [(r.kind.value, r.status.value, r.attempts) for r in rows] == [
        ("failed", "sent", 1),
        ("published", "sent", 1),
    ]
    tick(home)
    time.sleep(0.5)
    assert len(receiver.messages) == 4  # nothing twice
    # `show` lists what each task was told, and that it went
    shown = json.loads(run_cli(home, "show", broken[:8], "--json").stdout)["notifications"]
    assert [(n["kind"], n["status"], n["attempts"]) for n in shown] == [("failed", "sent", 1)]
    text = run_cli(home, "show", good[:8], env={"COLUMNS": "120"}).stdout
    row = next(line for line in text.splitlines() if line.lstrip().startswith("published"))
    assert "sent" in row and "1" in row, text


@pytest.mark.slow
def test_two_ticks_at_once_send_each_event_once(home: Path, receiver: Receiver) -> None:
    """Two real ticks drain the same queues side by side (on PostgreSQL, two claimers of one
    server); every event reaches the webhook exactly once."""
    home_with(home, receiver.url())
    ids = tasks(home, *(["fail_script=permanent"] if n % 2 else [] for n in range(6)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain"]
    ticks = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    for each in ticks:
        assert each.wait(timeout=120) == 0
    assert run_cli(home, "tick").returncode == 0
    try:
        messages = receiver.wait_for(6)
    except AssertionError as exc:
        rows = [(r.key, r.status, r.attempts, r.last_error) for r in notifications(home)]
        raise AssertionError(f"{exc}: {rows}") from None
    time.sleep(0.5)
    titles = sorted(m.body["title"] for m in receiver.messages)
    assert len(titles) == 6 and len(set(titles)) == 6, titles
    assert {t.split()[1] for t in titles} == {task_id[:8] for task_id in ids}
    assert {r.status.value for r in notifications(home)} == {"sent"}
    assert len(messages) == 6


@pytest.mark.slow
def test_two_workers_send_each_event_once(home: Path, receiver: Receiver) -> None:
    """Two resident workers (on PostgreSQL: two hosts' worth of claimers on one server), each
    with its notification thread polling the same rows: one message per event."""
    home_with(home, receiver.url())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "autoqueue", "--home", str(home), "worker", "--grace", "5"]
    workers = [
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        ids = tasks(home, *(["fail_script=permanent"] for _ in range(5)))
        receiver.wait_for(5, timeout=60)
        time.sleep(3)  # both notification threads polled again meanwhile
    finally:
        for each in workers:
            each.send_signal(signal.SIGTERM)
        for each in workers:
            each.wait(timeout=60)
    titles = sorted(m.body["title"] for m in receiver.messages)
    assert len(titles) == 5 and {t.split()[1] for t in titles} == {i[:8] for i in ids}


def test_a_failed_send_is_a_warn_log_row_and_goes_at_the_next_tick(
    home: Path, receiver: Receiver
) -> None:
    """The webhook answers 500: the event waits (attempt 1 of 5) with a warn log row on its
    task; the next tick, a minute later, sends it. The stage's own outcome is untouched."""
    home_with(home, receiver.url())
    [task_id] = tasks(home, ["fail_script=permanent"])
    receiver.status = 500
    tick(home, lambda: NOW)
    assert len(receiver.refused) == 1 and receiver.messages == []
    [row] = notifications(home)
    assert (row.status.value, row.attempts) == ("pending", 1)
    assert row.last_error and f"json://127.0.0.1:{receiver.port}/hook" in row.last_error
    warned = logged(
        home,
        "SELECT message, metadata FROM task_logs WHERE task_id = ? AND level = 'warn'",
        task_id,
    )
    assert len(warned) == 1 and "the failed notification was not sent (try 1 of 5)" in warned[0][0]
    assert json.loads(warned[0][1])["notification"] == row.key
    assert [r["status"] for r in queue_rows(home)][-1] == QueueStatus.FAILED
    receiver.status = 200
    tick(home, lambda: NOW + timedelta(seconds=10))  # before its retry time: nothing
    assert receiver.messages == []
    tick(home, lambda: NOW + timedelta(seconds=60))
    [message] = receiver.wait_for(1)
    assert f"{task_id[:8]} “task 0” failed" in message.body["title"]
    assert [(r.status.value, r.attempts) for r in notifications(home)] == [("sent", 2)]


def test_a_service_that_is_down_is_tried_again_and_given_up_after_five_tries(
    home: Path, receiver: Receiver
) -> None:
    """Nothing listens on the URL's port: each try is a warn row, and after the fifth the
    event is given up (never sent later)."""
    down = Receiver()
    url = down.url()
    down.close()
    home_with(home, url)
    [task_id] = tasks(home, ["fail_script=permanent"])
    for minutes in range(6):
        tick(home, lambda m=minutes: NOW + timedelta(minutes=10 * m))
    [row] = notifications(home)
    assert (row.status.value, row.attempts) == ("given_up", 5)
    messages = [
        r[0]
        for r in logged(
            home,
            "SELECT message FROM task_logs WHERE task_id = ? AND level = 'warn' ORDER BY id",
            task_id,
        )
    ]
    assert [m for m in messages if "not sent" in m][-1].count("try 4 of 5") == 1
    assert "given up after 5 tries" in messages[-1]
    text = run_cli(home, "show", task_id[:8], env={"COLUMNS": "160"}).stdout
    row = next(line for line in text.splitlines() if line.lstrip().startswith("failed │"))
    assert "given up" in row and "5" in row and row.split("│")[-1].strip(), text


def test_a_sender_that_dies_after_its_claim_never_sends_the_event(
    home: Path, receiver: Receiver
) -> None:
    """At most once: the tick is killed between the claim of the event and its send. The event
    is not sent by the next ticks; once its claim is ten minutes old it is given up, with a warn
    log row saying so."""
    home_with(home, receiver.url())
    [task_id] = tasks(home, ["fail_script=permanent"])
    crashed = run_cli(home, "tick", "--drain", env={"AUTOQUEUE_FAILPOINT": "notify_claimed"})
    assert crashed.returncode != 0
    [row] = notifications(home)
    assert (row.status.value, row.attempts) == ("sending", 1)
    tick(home, utcnow)  # the claim is fresh: its sender may still be sending
    assert notifications(home)[0].status.value == "sending"
    tick(home, lambda: utcnow() + timedelta(minutes=11))
    [row] = notifications(home)
    assert row.status.value == "given_up" and "not sent again (at most once)" in str(row.last_error)
    warned = logged(
        home, "SELECT message FROM task_logs WHERE task_id = ? AND level = 'warn'", task_id
    )
    assert any("the failed notification is given up" in w[0] for w in warned)
    time.sleep(0.3)
    assert receiver.messages == []


def test_secrets_are_masked_in_logs_json_and_notify_test(
    home: Path, receiver: Receiver, runner: CliRunner
) -> None:
    """A password in one URL, a token in another, a secret header in a third: none of them in
    the tick's output, a log row, `logs --json`, the notifications table or `notify test`
    (text and --json); the URLs show with *** in their place."""
    receiver.status = 500
    urls = [
        receiver.url().replace("json://", f"json://user:{SECRET}@"),
        receiver.url("ntfy", "/alerts") + f"?token={TOKEN}",
        receiver.url("json", "/other") + f"?-X-Api-Key={TOKEN}x",
    ]
    home_with(home, *urls)
    [task_id] = tasks(home, ["fail_script=permanent"])
    result = run_cli(home, "tick", "--drain")
    assert result.returncode == 0, result.stderr
    logs = run_cli(home, "logs", task_id[:8], "--json")
    tested = invoke(runner, home, "notify", "test")
    tested_json = invoke(runner, home, "notify", "test", "--json")
    stored = str([(r.last_error, r.payload) for r in notifications(home)])
    shown_task = run_cli(home, "show", task_id[:8], "--json").stdout
    shown_text = run_cli(home, "show", task_id[:8], env={"COLUMNS": "300"}).stdout
    texts = [result.stdout, result.stderr, logs.stdout, tested.output, tested_json.output, stored]
    for text in [*texts, shown_task, shown_text]:
        assert SECRET not in text and TOKEN not in text, text
    assert "json://user:***@127.0.0.1" in logs.stdout and "not sent" in logs.stdout
    assert "json://user:***@127.0.0.1" in shown_text  # show's notifications: the last error
    assert tested.exit_code == 1 and tested_json.exit_code == 1
    shown = [r["url"] for r in json.loads(tested_json.stdout)["results"]]
    assert shown[0] == f"json://user:***@127.0.0.1:{receiver.port}/hook"
    assert shown[1].startswith("ntfy://***@127.0.0.1") and shown[2].endswith("/other")
    assert len(receiver.refused) >= 6  # the requests did carry the secrets, to the service


def test_notify_test_says_which_url_failed(
    home: Path, receiver: Receiver, runner: CliRunner
) -> None:
    down = Receiver()
    refused = down.url("json", "/gone")
    down.close()
    home_with(home, receiver.url(), "bogus://nothing/here", refused)
    result = invoke(runner, home, "notify", "test")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"✅ sent: json://127.0.0.1:{receiver.port}/hook"
    assert lines[1].startswith("❌ not sent: bogus://***: Apprise cannot read this URL")
    assert lines[2].startswith(f"❌ not sent: json://127.0.0.1:{down.port}/gone: ")
    assert "2 of 3 notification URL(s) did not take the test message" in result.stderr
    [message] = receiver.wait_for(1)
    assert message.body["title"] == "autoqueue: test notification"
    as_json = json.loads(invoke(runner, home, "notify", "test", "--json").stdout)
    assert [r["sent"] for r in as_json["results"]] == [True, False, False]
    assert (as_json["sent"], as_json["failed"]) == (1, 2)
    checks = json.loads(invoke(runner, home, "doctor", "--json").stdout)
    [check] = [c for c in checks if c["name"] == "notify"]
    assert check["status"] == "fail" and check["detail"] == "Apprise cannot read bogus://***"
    # URLs given on the command line instead of the configured ones
    given = invoke(runner, home, "notify", "test", receiver.url("json", "/given"))
    assert given.exit_code == 0 and given.stdout.startswith("✅ sent: ")
    write_config(home, "[notify]\n")
    empty = invoke(runner, home, "notify", "test")
    assert empty.exit_code == 2 and "set [notify] urls" in empty.stderr


def test_the_digest_fires_once_a_day_at_its_time(home: Path, receiver: Receiver) -> None:
    """`digest = "09:00"` in Asia/Seoul: nothing at 08:59, one summary at 09:00 (however many
    rounds run then, by one or two workers), nothing more that day, the next one the next
    day at 09:00."""
    home_with(
        home,
        receiver.url(),
        extra='digest = "09:00"\nevents = []\n',
        zone="Asia/Seoul",
    )
    broken, good = tasks(home, ["fail_script=permanent"], [], titles=["broken", "good"])
    seoul_nine = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 09:00 on the 27th in Seoul
    # The runs, at 07:00 in Seoul (no event is sent for them: events = []).
    tick(home, lambda: seoul_nine - timedelta(hours=2))
    tick(home, lambda: seoul_nine - timedelta(minutes=1))
    assert receiver.messages == [] and notifications(home) == []
    for _ in range(2):
        tick(home, lambda: seoul_nine)
    tick(home, lambda: seoul_nine + timedelta(hours=5))
    [digest] = receiver.wait_for(1)
    assert digest.body["title"] == "📋 autoqueue: the day's summary, 2026-11-27"
    text = digest.body["message"]
    assert "In the 24 hours to 2026-11-27 09:00 (Asia/Seoul): 1 published, 1 failed." in text
    assert f"{good[:8]} “good”: https://youtu.be/{good[:8]}" in text
    assert f"{broken[:8]} “broken” at script" in text and f"autoqueue retry {broken[:8]}" in text
    assert "Now: 0 waiting, 0 processing, 1 failed." in text
    tick(home, lambda: seoul_nine + timedelta(hours=23))  # 08:00 the next day
    assert len(receiver.messages) == 1
    tick(home, lambda: seoul_nine + timedelta(days=1, minutes=2))
    receiver.wait_for(2)
    assert [r.key for r in notifications(home)] == ["digest:2026-11-27", "digest:2026-11-28"]
    assert "0 published, 0 failed" in receiver.messages[1].body["message"]


@pytest.mark.slow
def test_a_hanging_service_holds_up_no_stage(home: Path, receiver: Receiver) -> None:
    """The webhook takes every request and never answers: the stages run as fast as without
    notifications, the round ends within the timeout, and the event is tried again later."""
    receiver.hang = True
    home_with(home, receiver.url())
    config = (home / "autoqueue.toml").read_text()
    write_config(home, config.replace("timeout = 3\n", "timeout = 5\n"))
    tasks(home, ["fail_script=permanent"], ["fail_script=permanent"], [])
    ended: list[float] = []
    began = time.monotonic()
    worker = Worker(
        Workspace.load(home), clock=lambda: NOW, listener=lambda _: ended.append(time.monotonic())
    )
    report = worker.run(drain=True, max_seconds=120)
    took = time.monotonic() - began
    assert report.error is None
    assert len(ended) == 2 + 2 + 4  # two tasks' schedule and script, one task's four stages
    # Three events would hang for 5 s each on the service; none of it is spent in a stage.
    assert ended[-1] - began < 8, [t - began for t in ended]
    assert took < ended[-1] - began + 2 * 5 + 6
    rows = notifications(home)
    assert {r.status.value for r in rows} == {"pending"}
    tried = [r for r in rows if r.attempts]
    assert tried and all(r.last_error for r in tried)
    assert {r["status"] for r in queue_rows(home)} == {"completed", "failed"}
    receiver.hang = False
    receiver.release.set()
    tick(home, lambda: NOW + timedelta(hours=1))
    tick(home, lambda: NOW + timedelta(hours=2))
    assert len(receiver.wait_for(3)) == 3


def test_a_park_for_an_ai_spend_cap_is_sent(
    home: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dalle3 task whose provider allows one request a day: the second picture parks the
    item until midnight UTC (the spend cap, a budget: one `parked` message)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-notify-0123456789")
    with FakeOpenAI().running() as fake:
        write_config(
            home,
            'timezone = "UTC"\n[retry]\nmax_retry = 0\n'
            '[stages.video]\nresolution = 480\nnarration = "off"\n'
            f'[providers.openai]\nbase_url = "{fake.base_url}"\ndaily_requests = 1\n'
            f'[notify]\nurls = ["{receiver.url()}"]\ntimeout = 3\n',
        )
        init_home(Workspace.load(home))
        fake.replies = [picture(png()) for _ in range(3)]
        [task_id] = add_many(home, [AddRequest(title="Colours", media_mode="dalle3")])
        Worker(Workspace.load(home)).run(drain=True, max_seconds=120)
    [message] = receiver.wait_for(1)
    assert message.body["title"].startswith(f"⏸ {task_id[:8]} “Colours” waits until ")
    assert "waits at the video stage until" in message.body["message"]
    assert "daily OpenAI cap is reached" in message.body["message"]
    assert message.body["type"] == "warning"
    assert db_value(home, "SELECT kind FROM notifications") == "parked"


def test_events_are_recorded_only_when_something_is_sent(home: Path) -> None:
    """No [notify] urls: a failure records no event (a home that adds a URL later is not sent
    its history), and a row left from before is given up by the next round."""
    home_with(home)
    tasks(home, ["fail_script=permanent"])
    tick(home, lambda: NOW)
    assert notifications(home) == []
    conn = open_db(home)
    try:
        notifications_repo.add(
            conn, key="failed:1", kind=EventKind.FAILED, payload={}, now="2026-11-26 12:00:00"
        )
    finally:
        conn.close()
    tick(home, lambda: NOW)
    [row] = notifications(home)
    assert row.status.value == "given_up" and row.last_error == "no [notify] urls are set"


@pytest.mark.sqlite_only
def test_an_idle_tick_wakes_for_a_notification_or_a_due_digest(home: Path) -> None:
    from autoqueue.worker.idle import nothing_to_do

    home_with(home, "json://127.0.0.1:9/hook", extra='digest = "09:00"\n')
    database, config = home / "autoqueue.db", home / "autoqueue.toml"
    before = datetime(2026, 11, 26, 8, 59, tzinfo=UTC)  # UTC home: 08:59
    assert nothing_to_do(database, before, config)
    assert not nothing_to_do(database, before + timedelta(minutes=1), config)
    conn = open_db(home)
    try:
        notifications_repo.add(
            conn,
            key="digest:2026-11-26",
            kind=EventKind.DIGEST,
            payload={},
            now="2026-11-26 09:00:00",
        )
        conn.execute("UPDATE notifications SET status = 'sent'")
        assert nothing_to_do(database, before + timedelta(minutes=5), config)
        notifications_repo.add(
            conn, key="failed:7", kind=EventKind.FAILED, payload={}, now="2026-11-26 09:00:00"
        )
        assert not nothing_to_do(database, before + timedelta(minutes=5), config)
        conn.execute("UPDATE notifications SET next_try_at = '2026-11-26 10:00:00'")
        assert nothing_to_do(database, before + timedelta(minutes=5), config)
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_a_tick_with_nothing_to_send_does_not_load_apprise(home: Path, receiver: Receiver) -> None:
    """Apprise is imported to send, never before: a tick whose runs make no event (a task
    that completes, with only failures asked for) does not load it."""
    home_with(home, receiver.url(), extra='events = ["failed"]\n')
    tasks(home, [])
    result = run_cli(home, "tick", "--drain", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "autoqueue.notify.notifier" in modules  # the notification thread ran
    assert not {m for m in modules if m == "apprise" or m.startswith("apprise.")}


def test_a_schema_9_database_gains_the_notifications_table(home: Path) -> None:
    """SQLite's migration 10 and PostgreSQL's 5, on a database from before them."""
    from autoqueue.store.db import dialect

    home_with(home)
    conn = open_db(home)
    try:
        conn.execute("DROP TABLE notifications")
        if dialect(conn).name == "postgresql":
            conn.execute("DELETE FROM autoqueue_schema WHERE version >= 5")
        else:
            conn.execute("PRAGMA user_version = 9")
    finally:
        conn.close()
    conn = open_db(home)
    try:
        assert notifications_repo.add(
            conn,
            key="digest:2026-11-26",
            kind=EventKind.DIGEST,
            payload={},
            now="2026-11-26 09:00:00",
        )
        assert not notifications_repo.add(
            conn,
            key="digest:2026-11-26",
            kind=EventKind.DIGEST,
            payload={},
            now="2026-11-26 09:00:00",
        )  # once
    finally:
        conn.close()


@pytest.mark.no_db
def test_a_url_the_config_refuses_is_not_repeated(home: Path, runner: CliRunner) -> None:
    """A URL without its scheme is refused by number, never quoted: it may hold a password."""
    write_config(home, f'[notify]\nurls = ["json://127.0.0.1/hook", "user:{SECRET}@host"]\n')
    result = invoke(runner, home, "notify", "test")
    assert result.exit_code == 2
    assert "notify.urls: URL number 2 is not an Apprise URL" in result.stderr
    assert SECRET not in result.output and SECRET not in result.stderr


def test_an_item_held_for_review_is_told_with_the_command_that_approves_it(
    home: Path, receiver: Receiver
) -> None:
    """`[review] before = "youtube"`: the finished video waits for a person, who is told."""
    write_config(home, notify_config(receiver.url(), stages='[review]\nbefore = "youtube"\n'))
    init_home(Workspace.load(home))
    [task_id] = tasks(home, [], titles=["Check me"])
    tick(home, lambda: NOW)
    [message] = receiver.wait_for(1)
    short = task_id[:8]
    assert message.body["title"] == f"👀 {short} “Check me” waits for your review"
    assert "waits for your review after its video stage" in message.body["message"]
    assert f"autoqueue show {short}" in message.body["message"]
    assert f"autoqueue approve {short}" in message.body["message"]
    assert db_value(home, "SELECT kind FROM notifications") == "review"
