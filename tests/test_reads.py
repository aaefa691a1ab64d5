"""The read commands' fast path (autoqueue.cli.reads): a plain `list`, `tasks`, `show`, `logs` or
`contents` answers before typer and pydantic are imported, and says exactly what the full
command line says, on both backends; and the read layer prints each row as the engine's
models would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from autoqueue.cli.reads import plain_read
from autoqueue.kinds import LogLevel
from autoqueue.models import QueueItem, Schedule, Task
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo.views import QUEUE_FIELDS, SCHEDULE_FIELDS, TASK_FIELDS, row_json
from autoqueue.store.db import Connection, transaction
from autoqueue.workspace import Workspace

from .conftest import add, run_cli, write_config

# The full command line, as a process: typer parses, the same functions answer.
FULL = "import sys; from autoqueue.cli.app import main; sys.argv[0] = 'autoqueue'; main()"


def run_full(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FULL, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        timeout=120,
        check=False,
    )


@pytest.fixture
def task_id(workspace: Workspace, conn: Connection) -> str:
    """A task with a recurring schedule, a queue item, log rows and a contents row."""
    added = add(
        workspace, conn, "주간 요리 A week of cooking", at="2030-01-06 09:00", repeat="weekly"
    )
    add(workspace, conn, "Queued at once")  # a task with a waiting queue item
    with transaction(conn):
        logs_repo.add(
            conn,
            added,
            LogLevel.WARN,
            "a warning with metadata",
            now="2026-11-26 12:00:00",
            metadata={"n": 1},
        )
        contents_repo.insert_script(
            conn,
            content_id=str(uuid.uuid4()),
            user_id=None,
            format="shortform",
            title="주간 요리",
            content="{}",
            task_id=added,
            now="2026-11-26 12:00:00",
        )
    return added


COMMAND_LINES = [
    ("list",),
    ("list", "--json"),
    ("list", "schedule"),
    ("list", "예약큐", "--json"),
    ("list", "--limit=1", "schedule", "--json"),
    ("tasks",),
    ("tasks", "--json"),
    ("show", "{task}"),
    ("show", "{short}", "--json"),
    ("logs",),
    ("logs", "--json", "--limit", "3"),
    ("logs", "{short}", "--level", "warn", "--json"),
    ("logs", "--level", "warn", "--limit", "1"),
    ("logs", "{short}"),
    ("contents",),
    ("contents", "--task", "{short}", "--json"),
    # refused, by the same words and exit code
    ("show", "zzz"),
    ("show", "00000000-0000-0000-0000-000000000000"),
    ("logs", "--level", "loud"),
    ("list", "nowhere"),
    ("contents", "--task", "ffff"),
]


@pytest.mark.parametrize("args", COMMAND_LINES, ids=" ".join)
def test_the_fast_path_says_what_the_full_command_line_says(
    workspace: Workspace, task_id: str, args: tuple[str, ...]
) -> None:
    argv = [arg.format(task=task_id, short=task_id[:8]) for arg in args]
    assert plain_read(argv) is not None  # this command line takes the fast path
    fast = run_cli(workspace.home, *argv, env={"COLUMNS": "160"})
    full = run_full(workspace.home, *argv)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )
    if fast.returncode == 0:
        assert fast.stdout.strip(), "a read that printed nothing"
        if "--json" in argv:
            json.loads(fast.stdout)
    else:
        assert fast.stderr.count("\n") == 1 and "Traceback" not in fast.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["list", "--help"],
        ["logs", "-f"],
        ["logs", "--follow"],
        ["list", "a", "b"],
        ["show"],
        ["tasks", "extra"],
        ["list", "--limit"],
        ["--home"],
        ["--verbose", "list"],
        ["stop", "abc"],
    ],
    ids=" ".join,
)
def test_other_command_lines_go_to_the_full_command_line(argv: list[str]) -> None:
    assert plain_read(argv) is None


@pytest.mark.parametrize("limit", ["0", "-1", "x", "1000001"])
def test_a_bad_number_is_explained_by_the_full_command_line(
    workspace: Workspace, task_id: str, limit: str
) -> None:
    result = run_cli(workspace.home, "list", "schedule", f"--limit={limit}")
    assert result.returncode == 2 and "--limit" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_read_needs_only_the_time_zone_of_the_configuration(
    workspace: Workspace, task_id: str
) -> None:
    """A mistake elsewhere in autoqueue.toml does not hide the queue from its reader (a tick
    and `doctor` still refuse it); a time zone that is no text is refused by the whole
    file's check, in its words."""
    home = workspace.home
    write_config(home, 'timezone = "Asia/Seoul"\n[stages.video]\nno_such_key = 1\n')
    shown = run_cli(home, "tasks", "--json")
    assert shown.returncode == 0, shown.stderr
    listed = next(t for t in json.loads(shown.stdout) if t["id"] == task_id)
    assert listed["schedules"][0]["next_run_local"] == "2030-01-06 09:00"
    refused = run_cli(home, "add", "another")  # a command that changes the queue checks it all
    assert refused.returncode != 0 and "no_such_key" in refused.stderr, refused.stderr
    # the warning logged at 12:00 UTC, shown at 21:00 in Seoul
    text = run_cli(home, "logs", "--level", "warn", env={"COLUMNS": "160"})
    assert "21:00" in text.stdout and "12:00" not in text.stdout, text.stdout
    write_config(home, "timezone = 5\n")
    refused = run_cli(home, "list", "schedule")
    assert refused.returncode != 0 and "timezone" in refused.stderr, refused.stderr
    assert run_full(home, "list", "schedule").stderr == refused.stderr


def test_without_a_time_zone_a_read_shows_times_on_the_machines_clock(
    workspace: Workspace, task_id: str
) -> None:
    """No ``timezone`` in autoqueue.toml: times are shown as this machine's clock keeps them
    (TZ, else the system's zone), both ways, and without tzlocal (test_imports.py)."""
    home = workspace.home
    write_config(home, "")
    for zone, shown, hidden in (("Asia/Seoul", "21:00", "12:00"), ("UTC", "12:00", "21:00")):
        env = {"COLUMNS": "160", "TZ": zone}
        fast = run_cli(home, "logs", "--level", "warn", env=env)
        assert fast.returncode == 0, fast.stderr
        # the warning logged at 12:00 UTC
        assert shown in fast.stdout and hidden not in fast.stdout, (zone, fast.stdout)
        full = subprocess.run(
            [sys.executable, "-c", FULL, "--home", str(home), "logs", "--level", "warn"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
            check=False,
        )
        assert full.stdout == fast.stdout, full.stderr


def test_the_read_layer_prints_rows_as_the_engine_models_do(
    workspace: Workspace, conn: Connection, task_id: str
) -> None:
    """show --json prints rows without pydantic: field for field what the models print, odd
    stored forms (JavaScript times, epoch numbers, JSON text) included."""
    with transaction(conn):
        conn.execute(
            "UPDATE tasks SET last_run_at = '2026-11-26T10:00:00.000Z', product_info = ? "
            "WHERE id = ?",
            ('{"price": 39000}', task_id),
        )
        conn.execute(
            "UPDATE task_queue SET owner_started = 12, "
            "next_retry_at = '2026-11-26T10:00:00+09:00' WHERE task_id = ?",
            (task_id,),
        )
    cases = [
        ("SELECT * FROM tasks", Task, TASK_FIELDS),
        ("SELECT * FROM task_schedules", Schedule, SCHEDULE_FIELDS),
        ("SELECT * FROM task_queue", QueueItem, QUEUE_FIELDS),
    ]
    for sql, model, fields in cases:
        rows = conn.execute(sql).fetchall()
        assert rows
        for row in rows:
            expected = model.model_validate(dict(row)).model_dump(mode="json")
            assert row_json(row, fields) == expected
            assert list(row_json(row, fields)) == list(expected)  # and in the same order
    task = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    assert row_json(task, TASK_FIELDS)["last_run_at"] == "2026-11-26 10:00:00"


def test_log_rows_and_contents_as_json(
    workspace: Workspace, conn: Connection, task_id: str
) -> None:
    (entry,) = logs_repo.query(
        conn, logs_repo.LogFilter(task_id=task_id, level=LogLevel.WARN)
    )
    shown = entry.as_json()
    assert shown["level"] == "warn" and shown["metadata"] == {"n": 1}
    assert list(shown) == [
        "id",
        "task_id",
        "queue_id",
        "level",
        "message",
        "action_type",
        "queue_type",
        "pid",
        "process_name",
        "metadata",
        "created_at",
    ]
    (content,) = contents_repo.list_contents(conn, task_id=task_id, limit=5)
    assert content.as_json()["published"] is False and content.as_json()["progress"] == 100
