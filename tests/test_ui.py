"""``autoqueue ui``: the terminal app driven through Textual's pilot (keys pressed, then the
database and the screen read back), snapshots of its screens at 80x24, and ``ui --web`` served
to a websocket client as a browser would connect."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Select, Static, TabbedContent

from autoqueue import i18n
from autoqueue.cli.terminal import AutoqueueApp
from autoqueue.cli.terminal_dialogs import Confirm, Notice, TaskDetail
from autoqueue.repo import logs as logs_repo
from autoqueue.store.db import Connection
from autoqueue.tasks.add import AddRequest, prepare_add
from autoqueue.tasks.views import get_task
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import NOW, add, open_db, run_cli, stage_config, write_config
from .helpers.journal import event
from .helpers.processes import dead, start, wait_for
from .helpers.terminal import drive, make_app, settle, status, until


def label(app: AutoqueueApp, pane: str) -> str:
    return app.main_screen.query_one("#tabs", TabbedContent).get_tab(pane).label.plain


def table_rows(app: AutoqueueApp, pane: str) -> list[list[str]]:
    table = app.main_screen.query_one(f"#table-{pane}", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def screen_text(app: AutoqueueApp) -> str:
    """The screen as a person reads it: the top screen's text, as plain lines."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def schedules_active(conn: Connection, task_id: str) -> list[int]:
    rows = conn.execute(
        "SELECT is_active FROM task_schedules WHERE task_id = ? ORDER BY id", (task_id,)
    )
    return [int(row[0]) for row in rows]


def test_tabs_count_live_and_rows_fit_80_columns(workspace: Workspace, conn: Connection) -> None:
    first = add(workspace, conn, "first video")
    app = make_app(workspace, refresh=0.2)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert label(app, "schedule") == "schedule 1"
        assert label(app, "failed") == "failed 0"
        assert label(app, "tasks") == "tasks 1"
        rows = table_rows(app, "schedule")
        assert [row[1] for row in rows] == [first[:8]]
        assert "schedule waiting" in rows[0][3]
        # Another process adds a task: the counts and rows follow without a key pressed.
        second = add(workspace, conn, "second video")
        await until(pilot, lambda: label(app, "schedule") == "schedule 2")
        assert [row[1] for row in table_rows(app, "schedule")] == [first[:8], second[:8]]
        # Every column stays on screen at 80 columns: the widths add up to the terminal's.
        for pane in ("schedule", "tasks", "logs"):
            table = app.main_screen.query_one(f"#table-{pane}", DataTable)
            assert sum(c.get_render_width(table) for c in table.columns.values()) <= 78

    drive(app, scenario)


def test_retry_from_the_failed_tab(home: Path) -> None:
    write_config(home, stage_config(stages=("script",)))
    assert run_cli(home, "init").returncode == 0
    task_id = run_cli(home, "add", "fails", "--set", "fail_script=permanent").stdout.strip()
    assert run_cli(home, "tick", "--drain").returncode == 0
    workspace = Workspace.load(home)
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("6")
        assert app.main_screen.query_one("#tabs", TabbedContent).active == "failed"
        assert label(app, "failed") == "failed 1"
        detail = str(app.main_screen.query_one("#row-detail", Static).content)
        assert task_id in detail and "bad input: cannot continue" in detail  # the error, whole
        await pilot.press("r")
        await until(pilot, lambda: label(app, "failed") == "failed 0")
        assert label(app, "failed") == "failed 0"
        assert "is waiting again" in status(app)

    drive(app, scenario)
    conn = open_db(home)
    try:
        statuses = [
            row[0]
            for row in conn.execute(
                "SELECT status FROM task_queue WHERE task_id = ? AND queue_type = 'script'",
                (task_id,),
            )
        ]
    finally:
        conn.close()
    assert statuses == ["waiting"]


def test_pause_resume_and_delete_ask_and_act(workspace: Workspace, conn: Connection) -> None:
    task_id = add(workspace, conn, "daily", repeat="daily", at="2026-12-01 09:00", tz="UTC")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("8")  # the tasks tab
        await pilot.press("p")
        await until(pilot, lambda: schedules_active(conn, task_id) == [0])
        assert schedules_active(conn, task_id) == [0]
        assert "paused" in table_rows(app, "tasks")[0][4]
        await pilot.press("p")
        await until(pilot, lambda: schedules_active(conn, task_id) == [1])
        assert schedules_active(conn, task_id) == [1]
        assert "waiting" in table_rows(app, "tasks")[0][4]
        # Delete asks first; "n" keeps the task.
        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        assert "daily" in app.screen.question
        await pilot.press("n")
        await until(pilot, lambda: get_task(conn, task_id).id == task_id)
        assert get_task(conn, task_id).id == task_id
        await pilot.press("d", "y")
        await until(pilot, lambda: table_rows(app, "tasks") == [])
        assert table_rows(app, "tasks") == []
        assert label(app, "tasks") == "tasks 0"

    drive(app, scenario)
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
    assert not workspace.task_dir(task_id).exists()


def test_add_form_adds_through_the_same_validation(workspace: Workspace, conn: Connection) -> None:
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("a")
        await pilot.press(*"made in the app")
        await pilot.press("enter")
        await until(pilot, lambda: "added task" in status(app))
        assert "added task" in status(app)
        # A bad time is refused with add's own message, in the form, which stays open.
        await pilot.press("a")
        await pilot.press(*"bad", "tab", "tab", "tab", "tab", *"2026-13-45 99:99", "enter")
        await settle(pilot)
        refusal = str(app.screen.query_one("#add-error", Static).content)
        assert "--at" in refusal or "time" in refusal
        await pilot.press("escape")
        await settle(pilot)

    drive(app, scenario)
    titles = [row[0] for row in conn.execute("SELECT title FROM tasks")]
    assert titles == ["made in the app"]


def test_log_viewer_filters_and_follows(workspace: Workspace, conn: Connection) -> None:
    from autoqueue.kinds import ActionType, LogLevel

    task_id = add(workspace, conn, "logged")
    app = make_app(workspace, refresh=0.2)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("9")
        before = len(table_rows(app, "logs"))
        assert before >= 1
        logs_repo.add(
            conn,
            task_id,
            LogLevel.ERROR,
            "boom from elsewhere",
            now="2026-11-26 12:00:05",
            action=ActionType.FAIL,
        )
        await until(pilot, lambda: len(table_rows(app, "logs")) == before + 1)
        rows = table_rows(app, "logs")
        assert len(rows) == before + 1 and rows[0][4] == "boom from elsewhere"  # newest first
        app.main_screen.query_one("#filter-level", Select).value = "error"
        await until(pilot, lambda: len(table_rows(app, "logs")) == 1)
        assert [row[4] for row in table_rows(app, "logs")] == ["boom from elsewhere"]
        app.main_screen.query_one("#filter-level", Select).value = "info"
        app.main_screen.query_one("#filter-action", Select).value = "fail"
        await until(pilot, lambda: table_rows(app, "logs") == [])

    drive(app, scenario)


def test_task_detail_shows_schedules_and_outputs(workspace: Workspace, conn: Connection) -> None:
    task_id = add(
        workspace, conn, "detailed", repeat="weekly", at="2026-12-01 09:00", tz="Asia/Seoul"
    )
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("8", "enter")
        assert isinstance(app.screen, TaskDetail)
        text = screen_text(app)
        assert task_id in text
        assert "weekly, next 2026-12-01 09:00 Asia/Seoul" in text
        assert "no outputs yet" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, TaskDetail)

    drive(app, scenario)


def test_stop_kills_the_stage_and_lists_what_it_killed(home: Path, tmp_path: Path) -> None:
    write_config(home, stage_config(stages=("script",)))
    assert run_cli(home, "init").returncode == 0
    add_result = run_cli(home, "add", "long one", "--set", "child_script=1")
    task_id = add_result.stdout.strip()
    journal = tmp_path / "journal.jsonl"
    tick = start(home, "tick", "--drain", env={"JOURNAL": str(journal)})
    try:
        child = wait_for(lambda: event(journal, "child"), message="the stage's child")
        app = make_app(Workspace.load(home))
        killed_text: list[str] = []

        async def scenario(pilot: Pilot[Any]) -> None:
            await pilot.press("2")  # the script tab, where the item runs
            await until(pilot, lambda: "script processing" in table_rows(app, "script")[0][3])
            assert "script processing" in table_rows(app, "script")[0][3]
            await pilot.press("s")
            assert isinstance(app.screen, Confirm)
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, Notice))
            assert isinstance(app.screen, Notice)
            killed_text.extend(app.screen.lines)
            await pilot.press("escape")

        drive(app, scenario)
        assert any(f"pid {child['pid']}" in line for line in killed_text), killed_text
        assert any(f"pid {child['child_pid']}" in line for line in killed_text), killed_text
        _, err = tick.communicate(timeout=60)
        assert tick.returncode == 0, err
    finally:
        if tick.poll() is None:
            tick.kill()
            tick.wait()
    result = run_cli(home, "show", task_id, "--json")
    assert json.loads(result.stdout)["schedules"][0]["active"] is False


def test_korean_when_configured(workspace: Workspace, conn: Connection) -> None:
    add(workspace, conn, "한국어 작업")
    i18n.set_language("ko")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert label(app, "schedule") == "예약 1"
        assert label(app, "failed") == "실패 0"
        await until(pilot, lambda: "중지" in screen_text(app))  # the footer, once it is drawn
        screen = screen_text(app)
        assert "재시도" in screen and "중지" in screen  # the footer's keys

    drive(app, scenario)


def test_an_action_refused_is_a_line_not_a_crash(workspace: Workspace, conn: Connection) -> None:
    add(workspace, conn, "nothing failed")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("r")  # its item is waiting: nothing to retry
        await until(pilot, lambda: "nothing to retry" in status(app))
        assert "nothing to retry" in status(app)
        await pilot.press("6", "r")  # an empty tab
        assert "no row selected" in status(app)

    drive(app, scenario)


def test_a_refused_add_keeps_the_form_and_shows_the_whole_error(
    workspace: Workspace, conn: Connection
) -> None:
    from textual.widgets import Input

    from autoqueue.cli.terminal_dialogs import AddTask
    from autoqueue.errors import AutoqueueError

    bad_time = "2026-13-45 99:99"
    with pytest.raises(AutoqueueError) as refused:
        prepare_add(workspace, AddRequest(title="kept", at=bad_time), utcnow())
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("a", *"kept", "tab", "tab", "tab", "tab", *bad_time, "enter")
        await until(pilot, lambda: isinstance(app.screen, AddTask))
        assert isinstance(app.screen, AddTask)  # still open, with what was typed
        assert app.screen.query_one("#title", Input).value == "kept"
        assert app.screen.query_one("#at", Input).value == bad_time
        shown = str(app.screen.query_one("#add-error", Static).content)
        assert shown == str(refused.value)  # whole, not cut to a line
        assert " ".join(str(refused.value).split()[:4]) in " ".join(screen_text(app).split())
        # Mended in place, the same form adds the task.
        app.screen.query_one("#at", Input).value = "2026-12-01 09:00"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AddTask))
        assert not isinstance(app.screen, AddTask)
        assert "added task" in status(app)

    drive(app, scenario)
    assert [row[0] for row in conn.execute("SELECT title FROM tasks")] == ["kept"]


def test_delete_leaves_the_cursor_on_the_neighbour(workspace: Workspace, conn: Connection) -> None:
    """After a delete the cursor is on the next row (the previous one after the last), so a
    second ``d y`` deletes the row beside the first, not the top one."""
    for title in ("alpha", "bravo", "charlie", "delta"):
        add(workspace, conn, title, repeat="daily", at="2026-12-01 09:00", tz="UTC")
    app = make_app(workspace)
    questions: list[str] = []

    async def delete(pilot: Pilot[Any]) -> None:
        await pilot.press("d")
        assert isinstance(app.screen, Confirm)
        questions.append(app.screen.question)
        await pilot.press("y")
        await settle(pilot)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("8")
        table = app.main_screen.query_one("#table-tasks", DataTable)
        titles = [row[1] for row in table_rows(app, "tasks")]  # in the table's own order
        await pilot.press("down")  # the second row
        await delete(pilot)
        assert [row[1] for row in table_rows(app, "tasks")] == [titles[0], *titles[2:]]
        assert table.cursor_row == 1  # the third row, the next one
        await delete(pilot)
        assert table.cursor_row == 1  # the fourth row, now the last
        await delete(pilot)
        assert table.cursor_row == 0  # the first row, the previous one
        assert titles[0] in str(app.main_screen.query_one("#row-detail", Static).content)
        expected.extend(titles)

    expected: list[str] = []
    drive(app, scenario)
    assert [q.split("(")[1].split(")")[0] for q in questions] == expected[1:]
    assert [row[0] for row in conn.execute("SELECT title FROM tasks")] == expected[:1]


def test_korean_headers_keep_their_width(workspace: Workspace, conn: Connection) -> None:
    """재시도 is three characters but six cells: its column is wide enough for all of it."""
    from rich.cells import cell_len

    add(workspace, conn, "한국어 작업")
    i18n.set_language("ko")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        header = [line for line in screen_text(app).splitlines() if i18n._("stage") in line]
        assert header and "재시도" in header[0], header
        table = app.main_screen.query_one("#table-schedule", DataTable)
        for column in table.columns.values():
            assert column.width >= cell_len(column.label.plain), column.label
        for pane in ("schedule", "tasks", "logs"):
            table = app.main_screen.query_one(f"#table-{pane}", DataTable)
            assert sum(c.get_render_width(table) for c in table.columns.values()) <= 78

    drive(app, scenario)


def test_a_once_task_about_to_run_is_not_inactive(workspace: Workspace, conn: Connection) -> None:
    """Added to run now, a once-task's schedule is spent but its run waits: it shows as queued;
    stopped, it will not run, and shows inactive."""
    add(workspace, conn, "right now")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("8")
        schedules = table_rows(app, "tasks")[0][3]
        assert "inactive" not in schedules and schedules == "once, queued"
        assert "inactive" not in str(app.main_screen.query_one("#row-detail", Static).content)
        await pilot.press("s", "y")
        await settle(pilot, 0.5)
        await pilot.press("escape")
        await until(pilot, lambda: table_rows(app, "tasks")[0][3] == "once (inactive)")
        assert table_rows(app, "tasks")[0][3] == "once (inactive)"

    drive(app, scenario)


# -- snapshots -----------------------------------------------------------------------------------


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task ids from a counter, so a screen is the same on every run."""
    counter = itertools.count(1)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=(0xA0000000 + next(counter)) << 96))


def snapshot_home(workspace: Workspace, conn: Connection) -> AutoqueueApp:
    add(workspace, conn, "오늘의 환율 정리", now=NOW)
    add(
        workspace,
        conn,
        "A daily market wrap with a long title that wraps",
        now=NOW,
        repeat="daily",
        at="2026-11-27 09:00",
        tz="Asia/Seoul",
    )
    add(
        workspace,
        conn,
        "Weekly product review",
        now=NOW,
        type="product",
        repeat="weekly",
        at="2026-11-30 18:00",
        tz="America/New_York",
    )
    return AutoqueueApp(Workspace.load(workspace.home), "UTC", lambda: NOW, refresh_seconds=3600)


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("fixed_ids")
def test_snapshot_schedule_tab(workspace: Workspace, conn: Connection, snap_compare: Any) -> None:
    assert snap_compare(snapshot_home(workspace, conn), terminal_size=(80, 24))


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("fixed_ids")
def test_snapshot_tasks_tab(workspace: Workspace, conn: Connection, snap_compare: Any) -> None:
    assert snap_compare(snapshot_home(workspace, conn), press=["8"], terminal_size=(80, 24))


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("fixed_ids")
def test_snapshot_korean_logs_tab(
    workspace: Workspace, conn: Connection, snap_compare: Any
) -> None:
    i18n.set_language("ko")
    assert snap_compare(snapshot_home(workspace, conn), press=["9"], terminal_size=(80, 24))


# -- ui --web --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_web(home: Path, port: int, *args: str) -> subprocess.Popen[str]:
    """``autoqueue ui --web`` as a real server process on ``port``."""
    argv = [sys.executable, "-m", "autoqueue", "--home", str(home), "ui", "--web"]
    return subprocess.Popen(
        [*argv, "--port", str(port), *args],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def fetch_page(session: Any, url: str) -> Any:
    """The first answer of a server still starting (connection refused until it listens)."""
    import aiohttp

    deadline = time.monotonic() + 30
    while True:
        try:
            async with session.get(url) as page:
                await page.read()
                return page
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def read_screen(ws: Any, wanted: bytes) -> bytes:
    """What the served app draws, until ``wanted`` is on it (or the app stops drawing)."""
    import aiohttp

    screen = b""
    end = time.monotonic() + 60
    while wanted not in screen and time.monotonic() < end:
        message = await ws.receive(timeout=60)
        if message.type == aiohttp.WSMsgType.BINARY:
            screen += message.data
        elif message.type != aiohttp.WSMsgType.TEXT:
            break
    return screen


def sessions(server: subprocess.Popen[str]) -> list[psutil.Process]:
    """The server's session processes: every live process under it."""
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if not dead(child.pid)]


def server_children(server: subprocess.Popen[str]) -> list[psutil.Process]:
    try:
        return psutil.Process(server.pid).children()
    except psutil.NoSuchProcess:
        return []


def stop_server(server: subprocess.Popen[str]) -> tuple[str, str]:
    if server.poll() is None:
        server.terminate()
    return server.communicate(timeout=30)


def test_ui_web_serves_the_app_to_a_browser(workspace: Workspace, conn: Connection) -> None:
    import aiohttp

    add(workspace, conn, "served to a browser")
    port = free_port()
    server = serve_web(workspace.home, port)

    async def browse() -> str:
        async with aiohttp.ClientSession() as session:
            page = await fetch_page(session, f"http://127.0.0.1:{port}/")
            assert "/ws" in await page.text()
            async with session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=80&height=24") as ws:
                screen = await read_screen(ws, b"served to a browser")
                await ws.send_json(["stdin", "q"])
            return screen.decode("utf-8", "replace")

    try:
        screen = asyncio.run(browse())
    finally:
        out, err = stop_server(server)
    assert "served to a browser" in screen, (screen[-2000:], err)
    assert "schedule" in screen
    assert f"http://127.0.0.1:{port}" in out
    assert "token" not in out + err  # loopback: no token asked for


@pytest.mark.sqlite_only  # about the page, not the database
def test_ui_web_refuses_a_websocket_opened_by_another_site(
    workspace: Workspace, conn: Connection
) -> None:
    """On 127.0.0.1 there is no token: a page of any site open in the browser could open the
    app's websocket and press its keys. A browser names the page that opens a socket (Origin):
    another site's is refused; the app's own page, through a tunnel too, is served."""
    import aiohttp

    port = free_port()
    server = serve_web(workspace.home, port)
    url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"

    async def open_from(origin: str, host: str | None = None) -> int | bytes:
        headers = {"Origin": origin} | ({"Host": host} if host else {})
        async with aiohttp.ClientSession() as session:
            await fetch_page(session, f"http://127.0.0.1:{port}/")  # the server is up
            try:
                async with session.ws_connect(url, headers=headers) as ws:
                    return await read_screen(ws, b"schedule")
            except aiohttp.WSServerHandshakeError as refused:
                return refused.status

    async def rebound() -> tuple[int, int | bytes]:
        """A site whose name an attacker points at 127.0.0.1 is its own page's origin."""
        evil = f"evil.example:{port}"
        async with aiohttp.ClientSession(headers={"Host": evil}) as session:
            page = await fetch_page(session, f"http://127.0.0.1:{port}/")
        return page.status, await open_from(f"http://{evil}", host=evil)

    try:
        assert asyncio.run(rebound()) == (403, 403)
        assert asyncio.run(open_from("https://evil.example")) == 403
        assert asyncio.run(open_from(f"http://127.0.0.1:{port + 1}")) == 403  # another port
        assert asyncio.run(open_from("null")) == 403  # a sandboxed frame or a file
        own = asyncio.run(open_from(f"http://127.0.0.1:{port}"))
        tunnel = asyncio.run(open_from("http://localhost:9000", host="localhost:9000"))
    finally:
        stop_server(server)
    assert isinstance(own, bytes) and b"schedule" in own
    assert isinstance(tunnel, bytes) and b"schedule" in tunnel


@pytest.mark.sqlite_only  # about the page, not the database
def test_ui_web_page_addresses_are_on_the_host_the_browser_asked_for(
    workspace: Workspace, conn: Connection
) -> None:
    """Through a tunnel (``ssh -L 9000:127.0.0.1:8000``) the browser asks for localhost:9000: the
    page's websocket and assets are there, not on the address the server listens on."""
    import aiohttp

    port = free_port()
    server = serve_web(workspace.home, port)

    async def page_through_a_tunnel() -> str:
        async with aiohttp.ClientSession(headers={"Host": "localhost:9000"}) as session:
            page = await fetch_page(session, f"http://127.0.0.1:{port}/")
            return str(await page.text())

    async def page_for_a_forged_host() -> int:
        forged = {"Host": 'x"><script>alert(1)</script>'}
        async with aiohttp.ClientSession(headers=forged) as session:
            return int((await fetch_page(session, f"http://127.0.0.1:{port}/")).status)

    try:
        html = asyncio.run(page_through_a_tunnel())
        # refused, never written into the page (403 on loopback: not a loopback name)
        assert asyncio.run(page_for_a_forged_host()) in (400, 403)
    finally:
        stop_server(server)
    assert "ws://localhost:9000/ws" in html
    assert "http://localhost:9000/static/js/textual.js" in html
    assert f"127.0.0.1:{port}" not in html


def printed_address(server: subprocess.Popen[str]) -> str:
    """The address with a token the server printed when it started, as a person copies it."""
    import queue
    import threading

    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            if "?token=" in line:
                found.put(next(word for word in line.split() if "?token=" in word))
                return
        found.put("")  # the server ended without printing one

    threading.Thread(target=read, daemon=True).start()
    try:
        address = found.get(timeout=30)
    except queue.Empty:
        address = ""
    assert address, "no address with a token printed"
    return address


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts_need_no_token(host: str, loopback: bool) -> None:
    from autoqueue.cli import web as ui_web

    assert ui_web.is_loopback(host) is loopback
    assert (ui_web.new_token(host) is None) is loopback


@pytest.mark.sqlite_only  # about the server, not the database
def test_ui_web_off_loopback_asks_for_the_printed_token(
    workspace: Workspace, conn: Connection
) -> None:
    """``--host 0.0.0.0``: without the printed token, the page, an asset and the websocket are
    refused (403); with it, the page sets a cookie that lets its assets and websocket through,
    and the app is served."""
    import aiohttp

    add(workspace, conn, "behind a token")
    port = free_port()
    server = serve_web(workspace.home, port, "--host", "0.0.0.0")
    page_url = f"http://127.0.0.1:{port}/"
    ws_url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"

    async def refused(session: Any, query: str = "") -> list[int]:
        statuses = []
        for path in ("", "static/js/textual.js"):
            async with session.get(f"{page_url}{path}{query}") as answer:
                statuses.append(answer.status)
        with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
            await session.ws_connect(f"{ws_url}{query.replace('?', '&')}")
        return [*statuses, handshake.value.status]

    async def browse(token: str) -> str:
        async with aiohttp.ClientSession() as stranger:
            assert (await fetch_page(stranger, page_url)).status == 403
            assert await refused(stranger) == [403, 403, 403]
            assert await refused(stranger, f"?token={token[:-1]}") == [403, 403, 403]
            assert await refused(stranger, "?token=%ED%A0%80") == [403, 403, 403]
        jar = aiohttp.CookieJar(unsafe=True)  # a browser keeps a cookie set by 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(f"{page_url}?token={token}") as page:
                assert page.status == 200
                assert f"ws://127.0.0.1:{port}/ws" in await page.text()
            async with browser.get(f"{page_url}static/js/textual.js") as asset:
                assert asset.status == 200
            async with browser.ws_connect(ws_url) as ws:
                screen = await read_screen(ws, b"behind a token")
                await ws.send_json(["stdin", "q"])
            return screen.decode("utf-8", "replace")

    try:
        address = printed_address(server)
        token = address.split("?token=", 1)[1]
        assert address == f"http://0.0.0.0:{port}/?token={token}"
        screen = asyncio.run(browse(token))
    finally:
        _, err = stop_server(server)
    assert "behind a token" in screen, (screen[-2000:], err)
    assert "not a loopback address" in err and "SSH tunnel" in err


async def leave_mid_load(ws_url: str, delays: tuple[float, ...]) -> None:
    """Browsers that leave before the app has drawn (a headless one taking a screenshot): each
    opens the websocket, says its size as textual.js does, and closes after ``delay``."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for delay in delays:
            async with session.ws_connect(ws_url) as ws:
                await ws.send_json(["resize", {"width": 120, "height": 40}])
                await asyncio.sleep(delay)


@pytest.mark.sqlite_only  # about processes, not the database
def test_ui_web_a_browser_that_leaves_mid_load_leaves_no_session(
    workspace: Workspace, conn: Connection
) -> None:
    import aiohttp

    port = free_port()
    server = serve_web(workspace.home, port)

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await fetch_page(session, f"http://127.0.0.1:{port}/")
        await leave_mid_load(f"ws://127.0.0.1:{port}/ws", (0, 0.05, 0.3, 1.0))

    try:
        asyncio.run(main())
        wait_for(lambda: not sessions(server), 10, "the sessions to end with their browser")
    finally:
        for process in sessions(server):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        stop_server(server)


@pytest.mark.sqlite_only  # about processes, not the database
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_web_stopping_the_server_ends_every_session(
    workspace: Workspace, conn: Connection, stop: signal.Signals
) -> None:
    """A browser still on the page and one that has just left mid-load: the server's stop ends
    both sessions, and the server itself exits."""
    import aiohttp

    port = free_port()
    server = serve_web(workspace.home, port)
    ws_url = f"ws://127.0.0.1:{port}/ws?width=80&height=24"

    async def main() -> list[psutil.Process]:
        async with aiohttp.ClientSession() as session:
            await fetch_page(session, f"http://127.0.0.1:{port}/")
            async with session.ws_connect(ws_url):
                await leave_mid_load(ws_url, (0,))
                await asyncio.to_thread(wait_for, lambda: len(server_children(server)) >= 2, 30)
                await asyncio.sleep(0.3)  # each shell has started its app
                started = sessions(server)
                server.send_signal(stop)
                await asyncio.to_thread(server.wait, 30)
                return started

    started: list[psutil.Process] = []
    try:
        started = asyncio.run(main())
        assert server.returncode is not None
        wait_for(lambda: all(dead(p.pid) for p in started), 10, "every session to end")
    finally:
        for process in [*started, *sessions(server)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        stop_server(server)


def packet(kind: bytes, meta: dict[str, object]) -> bytes:
    """A packet as textual-serve writes it to the app's input: type, length, JSON."""
    payload = json.dumps(meta).encode()
    return kind + len(payload).to_bytes(4, "big") + payload


@pytest.mark.sqlite_only  # about processes, not the database
@pytest.mark.parametrize("when", ["drawn", "told to quit mid-load"])
def test_ui_web_an_app_whose_server_has_gone_ends(
    workspace: Workspace, conn: Connection, tmp_path: Path, when: str
) -> None:
    """The app as textual-serve runs it (web driver, input and output piped) ends when its
    input closes, as it does when the server is killed: drawn, or after a quit it received
    while starting (which Textual never finishes)."""
    drawn = tmp_path / "drawn"
    with drawn.open("wb") as sink:
        app = subprocess.Popen(
            [sys.executable, "-m", "autoqueue", "--home", str(workspace.home), "ui"],
            env={**os.environ, "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"},
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    assert app.stdin is not None
    try:
        if when == "drawn":
            wait_for(lambda: b"__GANGLION__" in drawn.read_bytes(), 60, "the app to start")
        else:
            app.stdin.write(packet(b"M", {"type": "resize", "width": 120, "height": 40}))
            app.stdin.write(packet(b"M", {"type": "quit"}))
        app.stdin.close()
        app.wait(timeout=15)
    finally:
        app.kill()
        app.wait()


def test_the_mouse_switches_tabs_and_opens_a_task(workspace: Workspace, conn: Connection) -> None:
    task_id = add(workspace, conn, "clicked")
    app = make_app(workspace)

    async def scenario(pilot: Pilot[Any]) -> None:
        tabs = app.main_screen.query_one("#tabs", TabbedContent)
        await pilot.click(tabs.get_tab("failed"))
        await until(
            pilot, lambda: app.main_screen.query_one("#tabs", TabbedContent).active == "failed"
        )
        assert app.main_screen.query_one("#tabs", TabbedContent).active == "failed"
        await pilot.click(tabs.get_tab("script"))
        await until(
            pilot, lambda: app.main_screen.query_one("#tabs", TabbedContent).active == "script"
        )
        assert app.main_screen.query_one("#tabs", TabbedContent).active == "script"
        await pilot.press("1")
        # A click highlights a row; a click on the highlighted row opens it, as enter does.
        await pilot.click("#table-schedule", offset=(20, 1))
        await settle(pilot)
        await pilot.click("#table-schedule", offset=(20, 1))
        await until(
            pilot, lambda: isinstance(app.screen, TaskDetail) and app.screen.task_id == task_id
        )
        assert isinstance(app.screen, TaskDetail) and app.screen.task_id == task_id

    drive(app, scenario)
