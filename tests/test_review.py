"""Review before publishing (docs/review.md): an item held before its stage is claimed by no
worker until `approve`; `reject` ends the run, which is never published; through real ticks,
the commands and the terminal app, on both backends."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from autoqueue.workspace import Workspace

from .conftest import open_db, run_cli, stage_config, write_config
from .helpers.terminal import drive, make_app, settle, status, until

REVIEW_YOUTUBE = '[review]\nbefore = "youtube"\n'


def youtube_items(home: Path, task_id: str) -> list[tuple[str, bool, str | None]]:
    """The task's youtube items: status, whether held for review, error."""
    conn = open_db(home)
    try:
        rows = conn.execute(
            "SELECT status, review_since, error_message FROM task_queue "
            "WHERE task_id = ? AND queue_type = 'youtube' ORDER BY id",
            (task_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(str(r[0]), r[1] is not None, r[2]) for r in rows]


def log_messages(home: Path, task_id: str) -> list[str]:
    return [
        entry["message"]
        for entry in json.loads(run_cli(home, "logs", task_id[:8], "--json").stdout)
    ]


def held_task(home: Path, *add_args: str, config: str = REVIEW_YOUTUBE) -> str:
    """A task run as far as its review: the video is made, the upload waits."""
    write_config(home, stage_config(top=config))
    assert run_cli(home, "init").returncode == 0
    added = run_cli(home, "add", "검토할 영상", *add_args)
    assert added.returncode == 0, added.stderr
    task_id = added.stdout.strip()
    drained = run_cli(home, "tick", "--drain")
    assert drained.returncode == 0, drained.stderr
    return task_id


def test_a_held_upload_waits_for_approve_then_runs(home: Path) -> None:
    task_id = held_task(home)
    assert youtube_items(home, task_id) == [("waiting", True, None)]
    # No tick takes it: a draining tick ends instead of waiting on it, and cron's idle tick
    # finds nothing to do.
    again = run_cli(home, "tick", "--drain", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["processed"] == []
    assert run_cli(home, "tick").stdout.strip() == "nothing to do"
    assert youtube_items(home, task_id) == [("waiting", True, None)]
    # What waits, and what to look at.
    (waiting,) = json.loads(run_cli(home, "review", "--json").stdout)
    assert waiting["task_id"] == task_id and waiting["before"] == "youtube"
    assert Path(waiting["video"]).read_bytes().startswith(b"fake mp4")
    assert Path(waiting["thumbnail"]).is_file()
    text = run_cli(home, "review", env={"COLUMNS": "200"}).stdout
    assert task_id[:8] in text and "output.mp4" in text
    (listed,) = json.loads(run_cli(home, "tasks", "--json").stdout)
    assert listed["state"] == "review"
    assert "youtube waiting for review" in run_cli(home, "list", "youtube").stdout

    approved = run_cli(home, "approve", task_id[:8])
    assert approved.returncode == 0, approved.stderr
    assert youtube_items(home, task_id) == [("waiting", False, None)]
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert youtube_items(home, task_id) == [("completed", False, None)]
    messages = log_messages(home, task_id)
    assert any("waits for review" in m and f"approve {task_id[:8]}" in m for m in messages)
    assert any(f"approved by {getpass.getuser()}" in m for m in messages), messages
    # Nothing waits any more.
    assert json.loads(run_cli(home, "review", "--json").stdout) == []
    nothing = run_cli(home, "approve", task_id[:8])
    assert nothing.returncode == 2 and "nothing waiting for review" in nothing.stderr


def test_a_rejected_run_ends_with_its_reason_and_is_never_published(home: Path) -> None:
    task_id = held_task(home)
    rejected = run_cli(home, "reject", task_id[:8], "--reason", "썸네일이 흐립니다")
    assert rejected.returncode == 0, rejected.stderr
    ((state, held, error),) = youtube_items(home, task_id)
    assert state == "failed" and held and "썸네일이 흐립니다" in str(error)
    assert getpass.getuser() in str(error)
    shown = json.loads(run_cli(home, "show", task_id[:8], "--json").stdout)
    assert "썸네일이 흐립니다" in shown["task"]["last_error"]
    # Never published: no tick runs it, and retry refuses it in one line.
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert youtube_items(home, task_id)[0][0] == "failed"
    retried = run_cli(home, "retry", task_id[:8])
    assert retried.returncode == 2 and "rejected in review" in retried.stderr
    assert retried.stderr.count("\n") == 1
    assert youtube_items(home, task_id)[0][0] == "failed"
    assert any("rejected by" in m and "썸네일이 흐립니다" in m for m in log_messages(home, task_id))


def test_a_task_chooses_for_itself(home: Path) -> None:
    """--no-review wins over [review] before; --review holds before youtube with no [review]."""
    write_config(home, stage_config(top=REVIEW_YOUTUBE))
    assert run_cli(home, "init").returncode == 0
    free = run_cli(home, "add", "no review", "--no-review").stdout.strip()
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert youtube_items(home, free) == [("completed", False, None)]
    write_config(home, stage_config())
    asked = run_cli(home, "add", "asks for one", "--review").stdout.strip()
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert youtube_items(home, asked) == [("waiting", True, None)]


def test_review_before_the_render_shows_the_script(home: Path) -> None:
    task_id = held_task(home, config='[review]\nbefore = "video"\n')
    conn = open_db(home)
    try:
        stages = conn.execute(
            "SELECT queue_type, status, review_since IS NOT NULL FROM task_queue "
            "WHERE task_id = ? AND queue_type IN ('video', 'youtube') ORDER BY id",
            (task_id,),
        ).fetchall()
    finally:
        conn.close()
    assert [tuple(row) for row in stages] == [("video", "waiting", True)]
    (waiting,) = json.loads(run_cli(home, "review", "--json").stdout)
    assert waiting["before"] == "video" and waiting["script"], waiting
    assert run_cli(home, "approve", task_id).returncode == 0
    assert run_cli(home, "tick", "--drain").returncode == 0
    assert youtube_items(home, task_id) == [("completed", False, None)]


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_a_task_with_nothing_held_is_refused_in_one_line(home: Path, command: str) -> None:
    write_config(home, stage_config())
    assert run_cli(home, "init").returncode == 0
    task_id = run_cli(home, "add", "plain").stdout.strip()
    result = run_cli(home, command, task_id[:8])
    assert result.returncode == 2 and "nothing waiting for review" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_terminal_app_approves_and_rejects(home: Path) -> None:
    first = held_task(home)
    assert run_cli(home, "add", "second").returncode == 0
    assert run_cli(home, "tick", "--drain").returncode == 0
    listed = json.loads(run_cli(home, "tasks", "--json").stdout)
    second = next(t["id"] for t in listed if t["id"] != first)
    app = make_app(Workspace.load(home))

    def review_keys() -> list[Any]:
        table = app.main_screen.query_one("#table-review", DataTable)
        return [key.value for key in table.rows]

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("0")  # the tenth tab: review
        assert app.main_screen.query_one("#tabs", TabbedContent).active == "review"
        await until(pilot, lambda: len(review_keys()) == 2)
        table = app.main_screen.query_one("#table-review", DataTable)
        assert table.get_row_at(0)[0] == first[:8]
        await pilot.press("o")  # approve the first
        await until(pilot, lambda: len(review_keys()) == 1)
        assert "approved" in status(app)
        await pilot.press("x")  # reject the second, after a yes/no question
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: len(review_keys()) == 0)
        assert "rejected" in status(app)

    drive(app, scenario)
    assert youtube_items(home, first) == [("waiting", False, None)]
    ((state, _held, error),) = youtube_items(home, second)
    assert state == "failed" and "terminal app" in str(error)
