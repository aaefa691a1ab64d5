"""The command line through typer's CliRunner: output, --json, and every kind of bad input."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue.cli.app import app
from autoqueue.tasks.add import AddRequest

from .conftest import add_many, has_db, invoke, open_db, run_cli, stage_config, write_config


def db_rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    conn = open_db(home)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def add_ok(runner: CliRunner, home: Path, *args: str) -> str:
    if not has_db(home):
        assert invoke(runner, home, "init").exit_code == 0
    result = invoke(runner, home, "add", *args)
    assert result.exit_code == 0, result.output
    task_id = result.stdout.strip().splitlines()[-1]
    uuid.UUID(task_id)
    return task_id


def test_init_is_idempotent_and_writes_a_commented_config(runner: CliRunner, home: Path) -> None:
    first = invoke(runner, home, "init")
    assert first.exit_code == 0, first.output
    assert "created" in first.stdout
    config = (home / "autoqueue.toml").read_text(encoding="utf-8")
    assert "[stages.script]" in config and "delays = [5, 10, 30]" in config
    (home / "autoqueue.toml").write_text(config + "\n# mine\n", encoding="utf-8")
    second = invoke(runner, home, "init")
    assert second.exit_code == 0 and "created" not in second.stdout
    assert (home / "autoqueue.toml").read_text(encoding="utf-8").endswith("# mine\n")
    assert all((home / name).is_dir() for name in ("tasks", "music", "media"))


@pytest.mark.no_db
def test_the_language_setting_says_what_it_covers() -> None:
    """Not only "the stop messages": every message, help screen, log row and the app."""
    from autoqueue.config import DEFAULT_CONFIG_TEXT

    root = Path(__file__).parents[1]
    # The configuration's documentation moved from the README to docs/configuration.md: read
    # every page, so that the old wording comes back nowhere.
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    assert root / "docs" / "configuration.md" in pages
    for text in (DEFAULT_CONFIG_TEXT, *(page.read_text(encoding="utf-8") for page in pages)):
        assert "stop messages" not in text
    assert "every message, help screen, log row and the terminal app" in DEFAULT_CONFIG_TEXT
    configuration = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "every message, help screen, log row and the" in configuration


def test_add_prints_the_id_and_list_counts_tabs(runner: CliRunner, home: Path) -> None:
    task_id = add_ok(
        runner, home, "첫 영상", "--product-info", '{"name": "가습기", "price": 39000}'
    )
    counts = invoke(runner, home, "list", "--json")
    assert counts.exit_code == 0, counts.output
    assert json.loads(counts.stdout) == {
        "schedule": 1,
        "script": 0,
        "image": 0,
        "video": 0,
        "youtube": 0,
        "failed": 0,
        "completed": 0,
    }
    rows = json.loads(invoke(runner, home, "list", "schedule", "--json").stdout)
    assert [(r["task_id"], r["status"], r["title"]) for r in rows] == [
        (task_id, "waiting", "첫 영상")
    ]
    assert json.loads(invoke(runner, home, "list", "예약큐", "--json").stdout) == rows
    human = invoke(runner, home, "list", "schedule")
    assert task_id[:8] in human.stdout and "schedule waiting" in human.stdout
    product = db_rows(home, "SELECT product_info FROM tasks")[0][0]
    assert json.loads(str(product)) == {"name": "가습기", "price": 39000}


def test_add_with_every_option(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    info = tmp_path / "product.json"
    info.write_text('{"name": "텀블러"}', encoding="utf-8")
    image = tmp_path / "a.jpg"
    __import__("PIL.Image").Image.new("RGB", (32, 32), (1, 2, 3)).save(image)
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(
        runner,
        home,
        "add",
        "Weekly",
        "--type",
        "product",
        "--media-mode",
        "upload",
        "--at",
        "2030-01-06 18:30",
        "--tz",
        "Asia/Seoul",
        "--repeat",
        "weekly",
        "--privacy",
        "unlisted",
        "--channel",
        "main",
        "--product-info",
        f"@{info}",
        "--set",
        "voice=ko-KR",
        "--set",
        "speed=1.2",
        "--image",
        str(image),
        "--user",
        "u1",
        "--max-retry",
        "5",
        "--json",
    )
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert added["next_run_at"] == "2030-01-06 09:30:00" and added["queued"] is False
    task = json.loads(invoke(runner, home, "show", added["task_id"], "--json").stdout)
    assert task["task"]["settings"] == {
        "voice": "ko-KR",
        "speed": 1.2,
        "mediaMode": "upload",
        "format": "product",
        # where each value the task stores came from (docs/configuration.md "Channel profiles")
        "taken_from": {"channel": "option", "privacy": "option", "tz": "option", "voice": "option"},
    }
    assert task["task"]["max_retry"] == 5  # a column, not a key of the settings
    assert task["task"]["product_info"] == {"name": "텀블러"}
    assert task["task"]["user_id"] == "u1"
    schedule = task["schedules"][0]
    assert (
        schedule["repeat_type"],
        schedule["youtube_privacy"],
        schedule["channel_setting_id"],
    ) == ("weekly", "unlisted", "main")
    assert schedule["repeat_config"] == {"tz": "Asia/Seoul", "anchor": "2030-01-06 18:30:00"}
    assert task["outputs"]["scene_images"] == ["scene_01.jpg"]


def test_publish_at_forces_private_with_a_warning(runner: CliRunner, home: Path) -> None:
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(
        runner,
        home,
        "add",
        "t",
        "--privacy",
        "public",
        "--publish-at",
        "2030-01-01 09:00",
        "--tz",
        "UTC",
    )
    assert result.exit_code == 0, result.output
    assert "changed to private" in result.stderr
    assert db_rows(home, "SELECT youtube_privacy, youtube_publish_time FROM task_schedules") == [
        ("private", "2030-01-01 09:00:00")
    ]


def test_publish_at_without_privacy_says_it_made_the_video_private(
    runner: CliRunner, home: Path
) -> None:
    """The default privacy is public: --publish-at alone still changes it, and says so."""
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(runner, home, "add", "t", "--publish-at", "2099-01-01 09:00", "--tz", "UTC")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "changed to private" in result.stderr
    assert db_rows(home, "SELECT youtube_privacy FROM task_schedules") == [("private",)]
    quiet = invoke(runner, home, "add", "t", "--privacy", "private", "--publish-at", "2099-01-01")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # private already: nothing changed


def test_product_info_from_a_file_must_be_an_object_too(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "product.json"
    listing.write_text('["가습기", 39000]', encoding="utf-8")
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(runner, home, "add", "t", "--product-info", f"@{listing}")
    assert result.exit_code == 2, result.output
    assert (
        f"{listing} must be a JSON object" in result.stderr
        and "it is a JSON array" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert db_rows(home, "SELECT count(*) FROM tasks") == [(0,)]


BAD_ADDS = [
    (["add", ""], "title must not be empty"),
    (["add", "   "], "title must not be empty"),
    (["add", "t", "--type", "reel"], "unknown type 'reel'"),
    (["add", "t", "--media-mode", "paint"], "unknown media mode 'paint'"),
    (["add", "t", "--repeat", "hourly"], "unknown repeat 'hourly'"),
    (["add", "t", "--privacy", "secret"], "unknown privacy 'secret'"),
    (["add", "t", "--at", "tomorrow-ish"], "cannot read time 'tomorrow-ish'"),
    (["add", "t", "--at", "2026-13-01 09:00"], "cannot read time"),
    (["add", "t", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["add", "t", "--publish-at", "soon"], "cannot read time 'soon'"),
    (["add", "t", "--product-info", "{name: 1}"], "--product-info is not valid JSON"),
    (["add", "t", "--product-info", "@/no/such/file.json"], "cannot read --product-info file"),
    (["add", "t", "--product-info", "[1,2]"], "--product-info must be a JSON object"),
    (["add", "t", "--product-info", '"str"'], "--product-info must be a JSON object"),
    (["add", "t", "--product-info", "3"], "--product-info must be a JSON object"),
    (["add", "t", "--product-info", "null"], "--product-info must be a JSON object"),
    (["add", "t", "--publish-at", "2020-01-01 10:00"], "--publish-at 2020-01-01 10:00 is in the"),
    (
        ["add", "t", "--media-mode", "upload", "--image", "/no/such/image.png"],
        "image file not found",
    ),
    (["add", "t", "--image", "x.png"], "--image is for --media-mode upload"),
    (["add", "t", "--max-retry", "-1"], "Invalid value for '--max-retry'"),
    (["add", "t", "--set", "novalue"], "--set wants key=value"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ADDS)
def test_bad_add_input_is_one_line_exit_2_and_writes_nothing(
    runner: CliRunner, home: Path, args: list[str], message: str
) -> None:
    result = invoke(runner, home, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert list(home.iterdir()) == []  # no database, no task folder


def test_bad_input_against_an_existing_database_changes_nothing(
    runner: CliRunner, home: Path
) -> None:
    add_ok(runner, home, "keep me")
    before = db_rows(home, "SELECT count(*) FROM tasks")
    assert invoke(runner, home, "add", "t", "--type", "reel").exit_code == 2
    assert db_rows(home, "SELECT count(*) FROM tasks") == before


@pytest.mark.parametrize(
    "args",
    [
        ["\0"],
        ["title", "--product-info", '{"name": "a\\u0000b"}'],
        ["title", "--set", "voice=\0"],
    ],
)
def test_a_nul_character_is_refused_on_both_backends(
    runner: CliRunner, home: Path, args: list[str]
) -> None:
    """PostgreSQL cannot store a NUL character (a fuzzed title of one was a 'database error',
    exit 1); SQLite would. Refused alike, one line, exit 2, nothing written."""
    add_ok(runner, home, "keep me")
    before = db_rows(home, "SELECT count(*) FROM tasks")
    result = invoke(runner, home, "add", *args)
    assert result.exit_code == 2, result.output
    assert "NUL character" in result.output and result.output.count("\n") == 1
    assert db_rows(home, "SELECT count(*) FROM tasks") == before


BAD_IDS = [
    (["show", "not-a-uuid"], 2, "is not a task id"),
    (["show", "../../etc/passwd"], 2, "is not a task id"),
    (["retry", "12 345"], 2, "is not a task id"),
    (["logs", "xyz"], 2, "is not a task id"),
    (["contents", "--task", "a%"], 2, "is not a task id"),
    (["stop", "-abc"], 2, "No such option"),
    (["retry", "12345"], 1, "no task id starts with 12345"),
    (["contents", "--task", "ABC"], 1, "no task id starts with abc"),
    (
        ["show", "0b6ad2b4-4b0f-4ad4-9a57-6d5a1c2b7f10"],
        1,
        "no task 0b6ad2b4-4b0f-4ad4-9a57-6d5a1c2b7f10",
    ),
    (["retry", "0b6ad2b4-4b0f-4ad4-9a57-6d5a1c2b7f10"], 1, "no task"),
    (["logs", "0b6ad2b4-4b0f-4ad4-9a57-6d5a1c2b7f10"], 1, "no task"),
    (["list", "drafts"], 2, "unknown tab 'drafts'"),
    (["logs", "--level", "debug"], 2, "unknown level 'debug'"),
    (["logs", "--queue-type", "audio"], 2, "unknown queue type 'audio'"),
    (["logs", "--action", "halt"], 2, "unknown action 'halt'"),
    (["cleanup", "--older-than", "a while"], 2, "cannot read duration 'a while'"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_IDS)
@pytest.mark.slow
def test_bad_ids_and_filters_are_one_clear_line(
    runner: CliRunner, home: Path, args: list[str], code: int, message: str
) -> None:
    add_ok(runner, home, "exists")
    result = invoke(runner, home, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_commands_other_than_init_need_a_database(runner: CliRunner, home: Path) -> None:
    # A mistyped --home must not create a database that cron will never see: add refuses too.
    for args in (["list"], ["tick"], ["logs"], ["contents"], ["cleanup"], ["add", "t"]):
        result = invoke(runner, home, *args)
        assert result.exit_code == 1, result.output
        assert "no autoqueue database" in result.stderr and "autoqueue init" in result.stderr
    assert list(home.iterdir()) == []


USAGE_ERRORS = [
    (["list", "--limit", "0"], "Invalid value for '--limit'"),
    (["logs", "--limit", "99999999999999999999999"], "Invalid value for '--limit'"),
    (["add", "t", "--max-retry", "abc"], "Invalid value for '--max-retry'"),
    (["add", "t", "--max-retry", "99999999999999999999"], "Invalid value for '--max-retry'"),
    (["list", "--bogus"], "No such option: --bogus"),
    (["lsit"], "No such command 'lsit'"),
    (["show"], "Missing argument 'task'"),
    (["tick", "--max-seconds", "soon"], "Invalid value for '--max-seconds'"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_are_one_line(
    runner: CliRunner, home: Path, args: list[str], message: str
) -> None:
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(runner, home, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert message in result.stderr and "--help" in result.stderr
    assert "Usage:" not in result.output and "╭" not in result.output


def test_a_home_that_is_a_file_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("mine", encoding="utf-8")
    for args in (["init"], ["list"], ["add", "t"], ["demo"]):
        result = invoke(runner, note, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"error: --home {note} is a file, not a folder"
    home = tmp_path / "home"
    demo = runner.invoke(app, ["--home", str(home), "demo", "--dir", str(note)])
    assert (
        demo.exit_code == 2
        and demo.stderr.strip() == f"error: --dir {note} is a file, not a folder"
    )
    database = runner.invoke(app, ["--home", str(home), "--db", str(tmp_path), "list"])
    assert database.exit_code == 2
    assert database.stderr.strip() == f"error: --db {tmp_path} is a folder, not a database file"
    assert note.read_text(encoding="utf-8") == "mine" and not home.exists()


def test_reupload_is_for_a_youtube_item(runner: CliRunner, home: Path) -> None:
    write_config(home, stage_config(max_retry=0))
    task_id = add_ok(runner, home, "no script", "--set", "fail_script=permanent")
    assert invoke(runner, home, "tick", "--drain", "--max-seconds", "60").exit_code == 0
    result = invoke(runner, home, "retry", task_id, "--reupload")
    assert result.exit_code == 2
    assert "--reupload is for a failed youtube item" in result.stderr
    assert "in the script queue" in result.stderr
    assert db_rows(home, "SELECT status FROM task_queue WHERE queue_type = 'script'") == [
        ("failed",)
    ]


@pytest.mark.sqlite_only
def test_init_that_refuses_writes_nothing(runner: CliRunner, home: Path) -> None:
    (home / "autoqueue.db").write_text("this is my diary", encoding="utf-8")
    result = invoke(runner, home, "init")
    assert result.exit_code == 1 and "not a SQLite database" in result.stderr
    assert sorted(p.name for p in home.iterdir()) == ["autoqueue.db"]


def test_init_in_a_folder_it_may_not_write_is_one_line(runner: CliRunner, home: Path) -> None:
    if os.geteuid() == 0:  # root writes everywhere: make the home's parent a file instead
        blocked = home / "file"
        blocked.write_text("x", encoding="utf-8")
        target = blocked / "sub"
    else:
        home.chmod(0o500)
        target = home / "sub"
    try:
        result = invoke(runner, target, "init")
    finally:
        home.chmod(0o700)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: cannot use ") and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def make_bomb(path: Path) -> Path:
    """A tiny PNG whose header claims 40,000 x 40,000 pixels (a decompression bomb)."""
    import struct
    import zlib

    from PIL import Image

    Image.new("L", (8, 8)).save(path, format="PNG")
    data = bytearray(path.read_bytes())
    at = data.index(b"IHDR")
    data[at + 4 : at + 12] = struct.pack(">II", 40_000, 40_000)
    data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["text", "empty", "symlink", "bomb", "truncated"])
def test_add_decodes_every_image_and_refuses_what_is_not_one(
    runner: CliRunner, home: Path, tmp_path: Path, kind: str
) -> None:
    from PIL import Image

    assert invoke(runner, home, "init").exit_code == 0
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(good)
    bad = tmp_path / f"bad-{kind}.png"
    if kind == "text":
        bad.write_text("my shopping list", encoding="utf-8")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "symlink":
        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture", encoding="utf-8")
        bad.symlink_to(notes)
    elif kind == "bomb":
        make_bomb(bad)
    else:
        bad.write_bytes(good.read_bytes()[:40])
    result = invoke(
        runner,
        home,
        "add",
        "t",
        "--media-mode",
        "upload",
        "--image",
        str(good),
        "--image",
        str(bad),
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {bad}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert db_rows(home, "SELECT count(*) FROM tasks") == [(0,)]
    assert list((home / "tasks").iterdir()) == []


@pytest.mark.sqlite_only
def test_a_non_sqlite_database_is_refused_and_untouched(runner: CliRunner, home: Path) -> None:
    (home / "autoqueue.db").write_text("this is my diary", encoding="utf-8")
    for args in (["list"], ["add", "t"], ["tick"]):
        result = invoke(runner, home, *args)
        assert result.exit_code == 1, result.output
        assert "not a SQLite database" in result.stderr
    assert (home / "autoqueue.db").read_text(encoding="utf-8") == "this is my diary"
    assert sorted(p.name for p in home.iterdir()) == ["autoqueue.db"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[retry\ndelays = [1]", "autoqueue.toml"),
        ("[retry]\ndelays = []", "retry.delays"),
        ("[retry]\nmax_retry = -2", "retry.max_retry"),
        ('[stages.script]\ncommand = "python3 writer.py"', "stages.script.command"),
        ('[stages.render]\ncommand = ["x"]', "stages.render"),
        ("[retyr]\ndelays = [1]", "retyr"),
        (
            '[stages.video]\nhandler = "template"',
            "'template' is not a video handler (use command or ffmpeg)",
        ),
        ('[stages.schedule]\ncommand = ["x"]', "the schedule stage is internal"),
    ],
)
def test_a_broken_config_is_reported_with_its_key(
    runner: CliRunner, home: Path, config: str, message: str
) -> None:
    write_config(home, config)
    result = invoke(runner, home, "add", "t")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (home / "autoqueue.db").exists()


def test_db_option_and_environment_variables(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "h"
    home.mkdir()
    other = tmp_path / "elsewhere" / "queue.db"
    app = __import__("autoqueue.cli.app").cli.app.app
    assert runner.invoke(app, ["--home", str(home), "--db", str(other), "init"]).exit_code == 0
    result = runner.invoke(app, ["--home", str(home), "--db", str(other), "add", "t"])
    assert result.exit_code == 0, result.output
    assert other.exists() and not (home / "autoqueue.db").exists()
    monkeypatch.setenv("AUTOQUEUE_HOME", str(home))
    monkeypatch.setenv("AUTOQUEUE_DB", str(other))
    listed = runner.invoke(__import__("autoqueue.cli.app").cli.app.app, ["list", "schedule", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) == 1


@pytest.mark.slow
def test_tick_show_logs_contents_retry_cleanup(runner: CliRunner, home: Path) -> None:
    write_config(home, stage_config(max_retry=0))
    good = add_ok(runner, home, "좋은 영상", "--media-mode", "crawl")
    bad = add_ok(runner, home, "실패할 영상", "--set", "fail_script=permanent")
    result = invoke(runner, home, "tick", "--drain", "--max-seconds", "60")
    assert result.exit_code == 0, result.output
    assert f"youtube  {good} completed" in result.stdout
    assert f"script   {bad} failed" in result.stdout

    completed = json.loads(invoke(runner, home, "list", "completed", "--json").stdout)
    assert [r["task_id"] for r in completed] == [good]
    failed = json.loads(invoke(runner, home, "list", "실패", "--json").stdout)
    assert [(r["task_id"], r["queue_type"]) for r in failed] == [(bad, "script")]

    shown = json.loads(invoke(runner, home, "show", good, "--json").stdout)
    assert shown["outputs"]["video"] and shown["outputs"]["story"]
    assert [q["queue_type"] for q in shown["queue"]] == [
        "schedule",
        "script",
        "image",
        "video",
        "youtube",
    ]
    human = invoke(runner, home, "show", good)
    assert "좋은 영상" in human.stdout and "queue history" in human.stdout

    errors = json.loads(invoke(runner, home, "logs", bad, "--level", "error", "--json").stdout)
    assert (
        len(errors) == 1
        and errors[0]["action_type"] == "fail"
        and errors[0]["queue_type"] == "script"
    )
    starts = json.loads(
        invoke(
            runner, home, "logs", good, "--action", "start", "--queue-type", "video", "--json"
        ).stdout
    )
    assert len(starts) == 1 and starts[0]["pid"] > 0
    limited = json.loads(invoke(runner, home, "logs", "--limit", "2", "--json").stdout)
    assert len(limited) == 2 and limited[0]["id"] > limited[1]["id"]

    contents = json.loads(invoke(runner, home, "contents", "--json").stdout)
    assert {c["task_id"] for c in contents} == {good}
    assert (
        contents[0]["published"] is True and contents[0]["video_path"] == f"tasks/{good}/output.mp4"
    )

    retried = invoke(runner, home, "retry", bad)
    assert retried.exit_code == 0, retried.output
    again = invoke(runner, home, "retry", bad)
    assert again.exit_code == 2 and "has a run waiting" in again.stderr
    assert invoke(runner, home, "retry", good).exit_code == 2

    dry = json.loads(
        invoke(runner, home, "cleanup", "--older-than", "0s", "--dry-run", "--json").stdout
    )
    old = db_rows(
        home,
        f"SELECT count(*) FROM task_queue WHERE status = 'completed' AND completed_at < '{dry['cutoff']}'",
    )
    assert dry["matched"] == old[0][0] and dry["deleted"] == 0
    assert db_rows(home, "SELECT count(*) FROM task_queue WHERE status = 'completed'") == [(6,)]


def test_tick_with_nothing_to_do(runner: CliRunner, home: Path) -> None:
    invoke(runner, home, "init")
    result = invoke(runner, home, "tick")
    assert result.exit_code == 0 and "nothing to do" in result.stdout


def test_a_tick_runs_stages_while_another_worker_leads(runner: CliRunner, home: Path) -> None:
    """The lock is the leader's (periodic duties), not a gate on stage work: a tick runs what
    is ready while another worker leads, and leaves the lock to it."""
    write_config(home, stage_config())
    add_ok(runner, home, "work to do", "--media-mode", "upload")
    conn = open_db(home)
    conn.execute(
        "INSERT INTO scheduler_lock (lock_name, locked_at, locked_by, expires_at) "
        "VALUES ('main_scheduler', '2026-01-01 00:00:00', 'other-host:1', '2999-01-01 00:00:00')"
    )
    conn.close()
    result = invoke(runner, home, "tick")
    assert result.exit_code == 0, result.output
    statuses = db_rows(home, "SELECT queue_type, status FROM task_queue ORDER BY id")
    assert statuses[0] == ("schedule", "completed")
    assert db_rows(home, "SELECT locked_by FROM scheduler_lock") == [("other-host:1",)]
    # With nothing ready here, it says who leads.
    conn = open_db(home)
    conn.execute("UPDATE task_queue SET status = 'failed' WHERE status = 'waiting'")
    conn.close()
    idle = invoke(runner, home, "tick", "--drain")
    assert idle.exit_code == 0, idle.output
    assert idle.stdout.strip() == (
        "another worker leads (other-host:1): it enqueues and recovers; nothing ready here"
    )


def test_a_follower_tick_recovers_what_a_dead_worker_of_its_host_left(
    runner: CliRunner, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another host leads for a long while; an item is processing under a worker of this host
    whose process is gone (pid and start time). A tick here recovers it at once, without
    leading and without waiting for the item's lease, and runs it."""
    import psutil

    monkeypatch.setenv("AUTOQUEUE_HOST", "here")
    write_config(home, stage_config())
    add_ok(runner, home, "left behind", "--media-mode", "upload")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(gone.pid).create_time()
    gone.wait()
    conn = open_db(home)
    conn.execute(
        "INSERT INTO scheduler_lock (lock_name, locked_at, locked_by, expires_at) "
        "VALUES ('main_scheduler', '2026-01-01 00:00:00', 'other-host:1', '2999-01-01 00:00:00')"
    )
    conn.execute(
        "UPDATE task_queue SET status = 'processing', owner_host = 'here', owner_pid = ?, "
        "owner_started = ?, claim_token = 'dead', lease_expires_at = '2999-01-01 00:00:00'",
        (gone.pid, started),
    )
    conn.close()
    result = invoke(runner, home, "tick")
    assert result.exit_code == 0, result.output
    assert f"its tick here:{gone.pid} died" in result.stdout
    assert db_rows(home, "SELECT queue_type, status FROM task_queue ORDER BY id")[0] == (
        "schedule",
        "completed",
    )
    assert db_rows(home, "SELECT locked_by FROM scheduler_lock") == [("other-host:1",)]


@pytest.mark.sqlite_only  # PostgreSQL's column types refuse such values
def test_bad_schedule_rows_are_set_aside_and_the_rest_runs(runner: CliRunner, home: Path) -> None:
    """Rows another program wrote: an empty, a garbage and a NULL next run are set aside with a
    log row each; an epoch-milliseconds number and a JavaScript '...T...Z' time are read as the
    times they are, and run now; the healthy task beside them runs too. Through `autoqueue tick`
    as cron runs it, fast path included."""
    from datetime import UTC, datetime, timedelta

    write_config(home, stage_config())
    healthy = add_ok(runner, home, "healthy", "--media-mode", "upload")
    later = ["--at", "2099-01-01 09:00", "--media-mode", "upload"]
    broken = {value: add_ok(runner, home, f"bad {value}", *later) for value in ("", "garbage")}
    null = add_ok(runner, home, "null", *later)
    minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    millis = add_ok(runner, home, "millis", *later)
    legacy = add_ok(runner, home, "legacy", *later)
    conn = open_db(home)
    with conn:
        for value, task_id in broken.items():
            conn.execute(
                "UPDATE task_schedules SET next_run_at = ? WHERE task_id = ?", (value, task_id)
            )
        conn.execute("UPDATE task_schedules SET next_run_at = NULL WHERE task_id = ?", (null,))
        conn.execute(
            "UPDATE task_schedules SET next_run_at = ? WHERE task_id = ?",
            (int(minute_ago.timestamp() * 1000), millis),
        )
        conn.execute(
            "UPDATE task_schedules SET next_run_at = ? WHERE task_id = ?",
            (minute_ago.strftime("%Y-%m-%dT%H:%M:%S.000Z"), legacy),
        )
    conn.close()
    result = run_cli(home, "tick", "--drain", "--max-seconds", "60")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    done = {
        row[0]
        for row in db_rows(
            home,
            "SELECT task_id FROM task_queue WHERE queue_type = 'youtube' AND status = 'completed'",
        )
    }
    assert done == {healthy, millis, legacy}
    for task_id in (*broken.values(), null):
        assert db_rows(
            home, f"SELECT is_active FROM task_schedules WHERE task_id = '{task_id}'"
        ) == [(0,)]
        [(level, message)] = db_rows(
            home,
            f"SELECT level, message FROM task_logs WHERE task_id = '{task_id}' AND action_type = 'skip'",
        )
        assert level == "error" and "set aside" in message
    # An idle tick (the fast path) still sees a time written in another form.
    legacy_only = add_ok(runner, home, "legacy only", *later)
    conn = open_db(home)
    with conn:
        conn.execute(
            "UPDATE task_schedules SET next_run_at = ? WHERE task_id = ?",
            (
                (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                legacy_only,
            ),
        )
    conn.close()
    ticked = run_cli(home, "tick")
    assert ticked.returncode == 0 and "nothing to do" not in ticked.stdout, ticked.stdout
    assert (legacy_only,) in db_rows(
        home, "SELECT task_id FROM task_queue WHERE queue_type = 'youtube' AND status = 'completed'"
    )


def test_cleanup_prunes_old_routine_log_rows_and_keeps_what_tells_the_story(
    runner: CliRunner, home: Path
) -> None:
    add_ok(runner, home, "logs")
    conn = open_db(home)
    task_id = conn.execute("SELECT id FROM tasks").fetchone()[0]
    from autoqueue.timeutil import to_db, utcnow

    old, fresh = "2020-01-01 00:00:00", to_db(utcnow())
    rows = [
        ("routine line", "info", None, "script", old),
        ("routine progress", "info", "progress", "youtube", old),
        ("routine stage start", "info", "start", "video", old),
        ("routine stage end", "info", "complete", "video", old),
        ("kept warn", "warn", None, "video", old),
        ("kept error", "error", "fail", "video", old),
        ("kept run start", "info", "start", "schedule", old),
        ("kept run end", "info", "complete", "youtube", old),
        ("kept pause", "info", "pause", None, old),
        ("kept retry", "info", "retry", "video", old),
        ("kept fresh line", "info", None, "script", fresh),
    ]
    for message, level, action, queue_type, created in rows:
        conn.execute(
            "INSERT INTO task_logs (task_id, level, message, action_type, queue_type, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, level, message, action, queue_type, created),
        )
    conn.close()
    dry = json.loads(invoke(runner, home, "cleanup", "--dry-run", "--json").stdout)
    assert (dry["log_rows_matched"], dry["log_rows_deleted"]) == (4, 0)
    assert (
        "would delete 4 routine log row(s)" in invoke(runner, home, "cleanup", "--dry-run").stdout
    )
    assert len(db_rows(home, "SELECT id FROM task_logs WHERE message LIKE 'routine%'")) == 4
    done = json.loads(invoke(runner, home, "cleanup", "--json").stdout)
    assert (done["log_rows_matched"], done["log_rows_deleted"]) == (4, 4)
    left = {str(r[0]) for r in db_rows(home, "SELECT message FROM task_logs")}
    assert not any(message.startswith("routine") for message in left)
    assert {m for m, *_ in rows if m.startswith("kept")} <= left


def test_cleanup_deletes_only_old_completed_rows(runner: CliRunner, home: Path) -> None:
    add_ok(runner, home, "a")
    conn = open_db(home)
    task_id = conn.execute("SELECT id FROM tasks").fetchone()[0]
    rows = [
        ("completed", "2020-01-01 00:00:00"),
        ("completed", "2999-01-01 00:00:00"),
        ("failed", None),
    ]
    for status, completed in rows:
        conn.execute(
            "INSERT INTO task_queue (task_id, queue_type, status, completed_at, updated_at) VALUES (?, 'video', ?, ?, '2020-01-01 00:00:00')",
            (task_id, status, completed),
        )
    conn.execute(
        "INSERT INTO task_logs (task_id, queue_id, level, message) VALUES (?, (SELECT min(id) FROM task_queue WHERE completed_at = '2020-01-01 00:00:00'), 'info', 'old')",
        (task_id,),
    )
    conn.close()
    result = invoke(runner, home, "cleanup", "--older-than", "30d", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 1
    assert sorted(db_rows(home, "SELECT status, completed_at FROM task_queue"), key=str) == sorted(
        [("completed", "2999-01-01 00:00:00"), ("failed", None), ("waiting", None)], key=str
    )
    # The log row that pointed at the deleted item stays, detached.
    assert db_rows(home, "SELECT queue_id FROM task_logs WHERE message = 'old'") == [(None,)]


def test_cron_prints_absolute_lines(runner: CliRunner, home: Path) -> None:
    result = invoke(runner, home, "cron", "--json")
    assert result.exit_code == 0, result.output
    lines = json.loads(result.stdout)
    assert lines["crontab"].startswith("* * * * * cd ")
    # The interpreter as it is named (a venv's bin/python), not the file it links to.
    assert f"{sys.executable} -m autoqueue --home {home.resolve()} " in lines["crontab"]
    assert " tick >> " in lines["crontab"]
    assert lines["crontab"].endswith("2>&1")
    assert lines["schtasks"].startswith("schtasks /Create /F /SC MINUTE /MO 1")
    assert "tick" in lines["schtasks"]


@pytest.mark.skipif(sys.platform == "win32", reason="cron and /bin/sh")
def test_the_printed_cron_line_runs_a_due_task_from_an_empty_environment(
    runner: CliRunner, home: Path
) -> None:
    """What cron does: no PATH, no VIRTUAL_ENV, nothing but the line itself."""
    write_config(home, stage_config())
    task_id = add_ok(runner, home, "크론", "--media-mode", "upload")
    line = json.loads(invoke(runner, home, "cron", "--json").stdout)["crontab"]
    command = line.split(" ", 5)[5]  # after the five schedule fields
    ran = subprocess.run(
        ["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = (home / "autoqueue-cron.log").read_text(encoding="utf-8")
    assert "No module named" not in log, log
    assert f"youtube  {task_id} completed" in log, log
    assert db_rows(home, "SELECT status FROM task_queue WHERE queue_type = 'youtube'") == [
        ("completed",)
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="crontab")
def test_cron_install_adds_the_line_once(
    runner: CliRunner, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    table = tmp_path / "crontab.txt"
    table.write_text("MAILTO=me\n", encoding="utf-8")
    fake = bin_dir / "crontab"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat "{table}"; else cat > "{table}"; fi\n',
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert invoke(runner, home, "cron", "--install").exit_code == 0
    assert invoke(runner, home, "cron", "--install").exit_code == 0
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "MAILTO=me"
    assert len([line for line in lines if "autoqueue" in line]) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="crontab")
def test_cron_install_without_crontab_names_the_package_to_install(
    home: Path, tmp_path: Path
) -> None:
    """A machine without cron: the message says what to install, for this system."""
    assert invoke(CliRunner(), home, "init").exit_code == 0
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_cli(home, "cron", "--install", env={"PATH": str(empty)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "crontab is not installed" in result.stderr
    release = Path("/etc/os-release")
    text = release.read_text(encoding="utf-8") if release.exists() else ""
    if re.search(r"^ID(_LIKE)?=.*\b(debian|ubuntu)\b", text, flags=re.MULTILINE):
        assert "apt-get install cron" in result.stderr
    else:
        assert "install" in result.stderr.split(":", 1)[1]


@pytest.mark.no_db
def test_the_cron_install_hint_follows_os_release() -> None:
    from autoqueue.cli.run import cron_install_hint

    assert "apt-get install cron" in cron_install_hint("ID=ubuntu\nID_LIKE=debian\n")
    assert "apt-get install cron" in cron_install_hint('ID=linuxmint\nID_LIKE="ubuntu debian"\n')
    assert "dnf install cronie" in cron_install_hint('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    assert "pacman -S cronie" in cron_install_hint("ID=arch\n")
    unknown = cron_install_hint(None)
    assert "apt-get install cron" in unknown and "dnf install cronie" in unknown


def test_cron_prints_only_this_systems_line(runner: CliRunner, home: Path) -> None:
    assert invoke(runner, home, "init").exit_code == 0
    text = invoke(runner, home, "cron").stdout
    lines = json.loads(invoke(runner, home, "cron", "--json").stdout)
    if sys.platform == "win32":
        assert lines["system"] == "schtasks"
        assert lines["schtasks"] in text and "crontab" not in text
    else:
        assert lines["system"] == "crontab"
        assert lines["crontab"] in text and "schtasks" not in text


@pytest.mark.no_db
def test_help_screens_show_flags_without_a_type(home: Path) -> None:
    """`--help`, `--json`, `--dry-run` take no value: no `<bool>` after them, in a real process."""
    for args in (["--help"], ["cleanup", "--help"], ["youtube", "--help"]):
        result = run_cli(home, *args, env={"COLUMNS": "100"})
        assert result.returncode == 0, result.stderr
        assert re.search(r"--help\s+Show this message and exit", result.stdout), result.stdout
        assert "<bool>" not in result.stdout, result.stdout
    cleanup = run_cli(home, "cleanup", "--help", env={"COLUMNS": "100"}).stdout
    assert re.search(r"--dry-run\s+Only count", cleanup)
    assert re.search(r"--older-than\s+<str>", cleanup)  # an option with a value keeps its type


def test_watch_draws_the_dashboard(runner: CliRunner, home: Path) -> None:
    from autoqueue.attempt import processes
    from autoqueue.kinds import QueueType
    from autoqueue.queue.attempts import record_supervisor
    from autoqueue.queue.claims import claim_next
    from autoqueue.queue.policy import Policy
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import Workspace

    task_id = add_ok(runner, home, "지켜보기")
    conn = Workspace.load(home).connect()
    item = claim_next(conn, QueueType.SCHEDULE, processes.current_owner(), Policy(), utcnow())
    assert item is not None
    record_supervisor(conn, item, pid=4321, started=1.0, name="render.py")
    conn.close()
    result = invoke(runner, home, "watch", "--once")
    assert result.exit_code == 0, result.output
    assert "processing" in result.stdout and "지켜보기" in result.stdout
    assert "render.py (supervisor pid 4321)" in result.stdout
    assert task_id[:8] in result.stdout and "task added: 지켜보기" in result.stdout


def test_bad_queues_and_an_unreachable_server_are_one_line(runner: CliRunner, home: Path) -> None:
    add_ok(runner, home, "t")
    bad = invoke(runner, home, "tick", "--queues", "video,renders")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "error: unknown queue type 'renders' in --queues "
        "(choose from: schedule, script, image, video, youtube)"
    )
    empty = invoke(runner, home, "worker", "--queues", " , ")
    assert empty.exit_code == 2 and len(empty.stderr.strip().splitlines()) == 1
    nowhere = "postgresql://aq:secret@127.0.0.1:1/autoqueue"
    refused = invoke(runner, home, "db", "copy", "--to", nowhere)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: cannot connect to postgresql://aq:***@127.0.0.1:1/")
    assert "secret" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.no_db
def test_init_against_an_unreachable_database_writes_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    """init connects (and makes the tables) before it writes the home: a server that does not
    answer leaves no autoqueue.toml, tasks/ or autoqueue.id behind, and no home folder."""
    nowhere = "postgresql://aq:secret@127.0.0.1:1/autoqueue"
    existing = tmp_path / "home"
    existing.mkdir()
    for home in (existing, tmp_path / "not-yet"):
        result = runner.invoke(app, ["--home", str(home), "--db", nowhere, "init"])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: cannot connect to postgresql://aq:***@127.0.0.1:1/")
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(existing.iterdir()) == []
    assert not (tmp_path / "not-yet").exists()


# A URL whose [ is never closed, and passwords with an unencoded @ or a stray %: libpq read
# the second as the password "hun" and the host "ter2@127.0.0.1", and said so.
BAD_URLS = [
    "postgresql://aq:hunter2@[::1/autoqueue",
    "postgresql://aq:hun@ter2@127.0.0.1:1/autoqueue",
    "postgresql://aq:hun%zter2@127.0.0.1:1/autoqueue",
    "postgresql://aq:hunter2@127.0.0.1:1/autoqueue?no_such_option=1",
]


@pytest.mark.no_db
@pytest.mark.parametrize("url", BAD_URLS)
def test_a_database_url_that_does_not_parse_is_one_line_without_the_password(
    runner: CliRunner, home: Path, url: str
) -> None:
    """Every command: exit 2, one line that shows the URL as aq:***@, no piece of the
    password, no traceback, and nothing written in the home (`doctor` reports it in its
    table)."""
    commands = [["init"], ["list"], ["tasks"], ["add", "t"], ["tick"], ["worker"]]
    if "no_such_option" not in url:  # only libpq finds that one wrong, when db copy connects
        commands.append(["db", "copy", "--to", url])  # (after it has refused the empty home)
    doctor = runner.invoke(app, ["--home", str(home), "--db", url, "doctor"])
    assert doctor.exit_code in (1, 2) and "Traceback" not in doctor.output
    assert "hun" not in doctor.output and "ter2" not in doctor.output
    for command in commands:
        db = [] if command[0] == "db" else ["--db", url]
        result = runner.invoke(app, ["--home", str(home), *db, *command])
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (command, result.stderr)
        assert "aq:***@" in lines[0], lines[0]
        for piece in ("hun", "ter2"):
            assert piece not in result.output, (command, result.output)
    assert list(home.iterdir()) == []


@pytest.mark.no_db
def test_libpq_s_words_never_carry_the_password() -> None:
    """What libpq says about a URL goes through dburl.scrub: the URL shown redacted, the
    password (as written and decoded) and the whole user part cut out wherever they appear."""
    from autoqueue.store import dburl

    url = "postgresql://aq:s%40fe:zq9x@db.example/q?password=other1"
    said = (
        f'invalid URI "{url}": host "s@fe:zq9x@db.example", token "s%40fe:zq9x", '
        'user part "aq:s@fe:zq9x", password "other1"'
    )
    scrubbed = dburl.scrub(said, url)
    for secret in ("s%40fe", "s@fe", "zq9x", "other1"):
        assert secret not in scrubbed, scrubbed
    assert "postgresql://aq:***@db.example/q?password=***" in scrubbed
    assert dburl.redact("postgresql://aq:pw@[::1/q") == "postgresql://aq:***@[::1/q"
    assert dburl.redact("postgresql://aq@/q?host=/run") == "postgresql://aq@/q?host=/run"


def test_db_copy_checks_every_row_and_refuses_while_items_run(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    """`db copy` into a SQLite file (from either backend): every row arrives, counts and
    checksums are compared, the copy works as a database; a copy while an item is processing,
    or into a database that has rows, is refused in one line and writes nothing."""
    write_config(home, stage_config())
    add_ok(runner, home, "copied", "--media-mode", "upload")
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    target = tmp_path / "copy.db"
    result = invoke(runner, home, "db", "copy", "--to", str(target), "--json")
    assert result.exit_code == 0, result.output
    copied = json.loads(result.stdout)
    assert copied["rows"]["task_queue"] == 4 and copied["rows"]["tasks"] == 1
    assert len(copied["sha256"]["task_logs"]) == 64
    rows = db_rows(home, "SELECT id, queue_type, status, completed_at FROM task_queue ORDER BY id")
    with sqlite3.connect(target) as copy:
        assert (
            copy.execute(
                "SELECT id, queue_type, status, completed_at FROM task_queue ORDER BY id"
            ).fetchall()
            == rows
        )
    again = invoke(runner, home, "db", "copy", "--to", str(target))
    assert again.exit_code == 1 and "is not empty" in again.stderr
    conn = open_db(home)
    conn.execute("UPDATE task_queue SET status = 'processing' WHERE id = 1")
    conn.close()
    busy = invoke(runner, home, "db", "copy", "--to", str(tmp_path / "other.db"))
    assert busy.exit_code == 1 and "items are processing" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "other.db").exists()


def test_a_task_is_named_by_any_unique_start_of_its_id(runner: CliRunner, home: Path) -> None:
    """As git takes a commit's first characters: the 8 that `logs` and `watch` print, or fewer,
    in any case; a start that several tasks share lists them and changes nothing."""
    write_config(home, stage_config())
    first = add_ok(runner, home, "첫째", "--media-mode", "upload")
    shown = invoke(runner, home, "show", first[:8].upper(), "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["task"]["id"] == first
    logs = invoke(runner, home, "logs", first[:8], "--json")
    assert {entry["task_id"] for entry in json.loads(logs.stdout)} == {first}
    # Seventeen ids: by the pigeonhole principle two of them start with the same hex digit.
    more = add_many(home, [AddRequest(title=f"t{n}", media_mode="upload") for n in range(16)])
    ids = [first, *more]
    digit, sharing = next(
        (d, [i for i in ids if i.startswith(d)])
        for d in "0123456789abcdef"
        if sum(i.startswith(d) for i in ids) > 1
    )
    before = db_rows(home, "SELECT id, status FROM task_queue ORDER BY id")
    ambiguous = invoke(runner, home, "stop", digit)
    assert ambiguous.exit_code == 2
    assert f"{digit} is the start of several task ids" in ambiguous.stderr
    assert all(i in ambiguous.stderr for i in sharing[:5])
    assert len(ambiguous.stderr.strip().splitlines()) == 1
    assert db_rows(home, "SELECT id, status FROM task_queue ORDER BY id") == before
    unique = next(
        i[:n] for i in ids for n in range(1, 37) if sum(j.startswith(i[:n]) for j in ids) == 1
    )
    stopped = invoke(runner, home, "stop", unique, "--json")
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.stdout)["task_id"].startswith(unique)


def test_logs_are_newest_first_as_text_and_as_json(runner: CliRunner, home: Path) -> None:
    write_config(home, stage_config())
    task_id = add_ok(runner, home, "ordered", "--media-mode", "upload")
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    entries = json.loads(invoke(runner, home, "logs", task_id, "--json").stdout)
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    text = invoke(runner, home, "logs", task_id).stdout.strip().splitlines()
    assert "task added: ordered" in text[-1]  # the oldest row comes last
    assert entries[0]["message"][:20] in text[0]  # the newest first, as in --json


def test_tasks_lists_every_task_with_its_schedule_in_its_own_zone_and_its_state(
    runner: CliRunner, home: Path
) -> None:
    write_config(home, stage_config(max_retry=0))
    daily = add_ok(
        runner, home, "아침 숏폼", "--repeat", "daily", "--at", "2030-01-06 09:00",
        "--tz", "Asia/Seoul", "--media-mode", "upload",
    )  # fmt: skip
    done = add_ok(runner, home, "finished", "--media-mode", "upload")
    broken = add_ok(runner, home, "broken", "--set", "fail_script=permanent")
    stopped = add_ok(runner, home, "stopped", "--at", "2030-01-01 00:00", "--tz", "UTC")
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    assert invoke(runner, home, "stop", stopped).exit_code == 0
    listed = {t["id"]: t for t in json.loads(invoke(runner, home, "tasks", "--json").stdout)}
    assert {t: listed[t]["state"] for t in (daily, done, broken, stopped)} == {
        daily: "waiting",
        done: "done",
        broken: "failed",
        stopped: "paused",
    }
    [schedule] = listed[daily]["schedules"]
    assert (schedule["repeat"], schedule["tz"], schedule["active"]) == ("daily", "Asia/Seoul", True)
    assert schedule["next_run_local"] == "2030-01-06 09:00"  # Seoul's wall clock, not UTC
    assert schedule["next_run_at"] == "2030-01-06 00:00:00"
    assert listed[done]["last_run"] and listed[done]["media_mode"] == "upload"
    assert listed[stopped]["schedules"][0]["active"] is False
    # At 80 columns the short id, the schedule's zone and the state are all there.
    table = at_80_columns(home, "tasks")
    assert max(len(line) for line in table.splitlines()) <= 80
    for task_id, state in ((daily, "waiting"), (broken, "failed"), (stopped, "paused")):
        row = next(line for line in table.splitlines() if line.strip().startswith(task_id[:8]))
        assert state in row
    assert "Asia/Seoul" in table


def test_delete_removes_a_task_its_rows_and_files_and_keeps_its_contents(
    runner: CliRunner, home: Path
) -> None:
    write_config(home, stage_config())
    gone = add_ok(runner, home, "to delete", "--media-mode", "upload")
    kept = add_ok(runner, home, "to keep files", "--media-mode", "upload")
    other = add_ok(runner, home, "untouched", "--media-mode", "upload")
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    assert (home / "tasks" / gone / "output.mp4").is_file()
    refused = runner.invoke(app, ["--home", str(home), "delete", gone[:8]], input="n\n")
    assert refused.exit_code == 1 and (home / "tasks" / gone).is_dir()  # asked, and told no
    result = invoke(runner, home, "delete", gone[:8], "--json", "--yes")
    assert result.exit_code == 0, result.output
    deleted = json.loads(result.stdout)
    assert deleted["rows"]["queue_items"] == 4 and deleted["rows"]["contents_kept"] == 1
    assert not (home / "tasks" / gone).exists()
    for table in ("tasks", "task_schedules", "task_queue", "task_logs"):
        column = "id" if table == "tasks" else "task_id"
        assert db_rows(home, f"SELECT count(*) FROM {table} WHERE {column} = '{gone}'") == [(0,)]
    # The content row stays in the library, as an orphan without file paths.
    orphans = db_rows(home, "SELECT title, video_path FROM contents WHERE task_id IS NULL")
    assert orphans == [("to delete", None)]
    assert invoke(runner, home, "delete", kept, "--keep-files", "--yes").exit_code == 0
    assert (home / "tasks" / kept / "output.mp4").is_file()
    assert invoke(runner, home, "show", other).exit_code == 0
    assert invoke(runner, home, "show", gone).exit_code == 1


def test_delete_refuses_a_running_task_unless_told_to_stop_it(
    runner: CliRunner, home: Path
) -> None:
    write_config(home, stage_config())
    task_id = add_ok(runner, home, "busy", "--media-mode", "upload")
    conn = open_db(home)
    conn.execute("UPDATE task_queue SET status = 'processing', owner_host = 'elsewhere'")
    conn.close()
    refused = invoke(runner, home, "delete", task_id, "--yes")
    assert refused.exit_code == 2
    assert "has a stage running" in refused.stderr and "--stop" in refused.stderr
    assert db_rows(home, "SELECT count(*) FROM tasks") == [(1,)]
    stopped = invoke(runner, home, "delete", task_id, "--stop", "--yes")
    assert stopped.exit_code == 0, stopped.output
    assert db_rows(home, "SELECT count(*) FROM tasks") == [(0,)]


def test_edit_changes_title_and_schedule_with_adds_checks(runner: CliRunner, home: Path) -> None:
    task_id = add_ok(
        runner, home, "draft title", "--repeat", "daily", "--at", "2030-01-06 09:00",
        "--tz", "Asia/Seoul",
    )  # fmt: skip
    moved = invoke(runner, home, "edit", task_id[:8], "--title", "final", "--tz", "Europe/Paris",
                   "--json")  # fmt: skip
    assert moved.exit_code == 0, moved.output
    schedule = json.loads(moved.stdout)
    # The wall clock is kept, in the new zone: 09:00 in Paris.
    assert (schedule["tz"], schedule["next_run_local"]) == ("Europe/Paris", "2030-01-06 09:00")
    assert schedule["next_run_at"] == "2030-01-06 08:00:00"
    weekly = json.loads(invoke(runner, home, "edit", task_id, "--repeat", "weekly",
                               "--at", "2030-02-01 18:30", "--json").stdout)  # fmt: skip
    assert (weekly["repeat"], weekly["next_run_local"]) == ("weekly", "2030-02-01 18:30")
    private = invoke(runner, home, "edit", task_id, "--privacy", "public",
                     "--publish-at", "2030-03-01 10:00")  # fmt: skip
    assert private.exit_code == 0 and "changed to private" in private.stderr
    detail = json.loads(invoke(runner, home, "show", task_id, "--json").stdout)
    assert detail["task"]["title"] == "final"
    assert detail["schedules"][0]["youtube_privacy"] == "private"
    assert detail["schedules"][0]["youtube_publish_time"] == "2030-03-01 09:00:00"
    # The same checks as add; a refused edit changes nothing.
    before = db_rows(home, "SELECT * FROM task_schedules")
    for args, message in (
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--repeat", "hourly"], "unknown repeat 'hourly'"),
        (["--at", "someday"], "cannot read"),
        (["--title", "  "], "title must not be empty"),
        ([], "nothing to change"),
    ):
        bad = invoke(runner, home, "edit", task_id, *args)
        assert bad.exit_code == 2, (args, bad.output)
        assert message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert db_rows(home, "SELECT * FROM task_schedules") == before


def test_edit_refuses_a_publish_time_in_the_past_but_keeps_one_that_has_passed(
    runner: CliRunner, home: Path
) -> None:
    """edit --publish-at follows add's rules; a publish time already stored is not checked
    again when something else changes (the video may be online by now)."""
    task_id = add_ok(runner, home, "draft", "--repeat", "daily", "--at", "2030-01-06 09:00")
    before = db_rows(home, "SELECT * FROM task_schedules")
    past = invoke(runner, home, "edit", task_id, "--publish-at", "2020-01-01 10:00")
    assert past.exit_code == 2, past.output
    assert "is in the past" in past.stderr and len(past.stderr.strip().splitlines()) == 1
    assert db_rows(home, "SELECT * FROM task_schedules") == before
    later = invoke(runner, home, "edit", task_id, "--publish-at", "2099-01-01 10:00")
    assert later.exit_code == 0, later.output
    assert "changed to private" in later.stderr  # it was public: say that it is private now
    conn = open_db(home)
    conn.execute("UPDATE task_schedules SET youtube_publish_time = '2021-01-01 00:00:00'")
    conn.close()
    renamed = invoke(runner, home, "edit", task_id, "--title", "final")
    assert renamed.exit_code == 0, renamed.output
    assert db_rows(home, "SELECT youtube_publish_time FROM task_schedules") == [
        ("2021-01-01 00:00:00",)
    ]


def test_cleanup_removes_old_runs_outbox_copies_and_attempt_records(
    runner: CliRunner, home: Path
) -> None:
    """Retention by age: --dry-run counts folders, files and bytes and removes nothing; the
    real run removes them, clears the paths of contents that pointed there, and keeps the
    current run's files, anything newer, and the record of an attempt still processing."""
    write_config(home, stage_config())
    task_id = add_ok(runner, home, "old", "--media-mode", "upload")
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    task_dir = home / "tasks" / task_id
    old_run = task_dir / "runs" / "run-20250101"
    old_run.mkdir(parents=True)
    (old_run / "output.mp4").write_bytes(b"x" * 3000)
    outbox = home / "outbox" / task_id
    outbox.mkdir(parents=True)
    (outbox / "video.mp4").write_bytes(b"y" * 2000)
    fresh_run = task_dir / "runs" / "run-now"
    fresh_run.mkdir()
    (fresh_run / "output.mp4").write_bytes(b"z")
    running = task_dir / "attempts" / "999-video-1"
    running.mkdir(parents=True)
    (running / "result.json").write_text("{}")
    conn = open_db(home)
    conn.execute(
        "INSERT INTO task_queue (id, task_id, queue_type, status, slot) "
        "VALUES (999, ?, 'video', 'processing', 1)",
        (task_id,),
    )
    conn.execute(
        "UPDATE contents SET video_path = ? WHERE task_id = ?",
        (f"tasks/{task_id}/runs/run-20250101/output.mp4", task_id),
    )
    conn.close()
    old = time.time() - 60 * 86400
    for folder in (old_run, outbox, running, *(task_dir / "attempts").iterdir()):
        for path in (folder, *folder.rglob("*")):
            os.utime(path, (old, old))
    dry = json.loads(invoke(runner, home, "cleanup", "--dry-run", "--json").stdout)
    assert dry["folders"]["runs"] == 1 and dry["folders"]["outbox"] == 1
    assert dry["folders"]["attempts"] >= 1 and dry["bytes"] >= 5000
    assert old_run.exists() and outbox.exists()
    done = json.loads(invoke(runner, home, "cleanup", "--json").stdout)
    assert done["folders"] == dry["folders"] and done["bytes"] == dry["bytes"]
    assert not old_run.exists() and not outbox.exists()
    assert fresh_run.exists() and (task_dir / "output.mp4").exists()
    assert running.exists()  # its item is processing: its record is how a crash is recovered
    assert [p.name for p in (task_dir / "attempts").iterdir()] == ["999-video-1"]
    assert db_rows(home, f"SELECT video_path FROM contents WHERE task_id = '{task_id}'") == [
        (None,)
    ]


def test_doctor_names_each_problem_and_its_fix(runner: CliRunner, home: Path) -> None:
    (home / "not-a-font.ttf").write_text("no glyphs here", encoding="utf-8")
    write_config(
        home,
        stage_config(programs={"script": "/nowhere/llm-writer"}, stages=("script", "video"))
        + '[stages.image]\nfont = "not-a-font.ttf"\n[stages.youtube]\nhandler = "youtube"\n',
    )
    missing = invoke(runner, home, "doctor", "--json")
    assert missing.exit_code == 1
    assert {c["name"]: c["status"] for c in json.loads(missing.stdout)}["database"] == "fail"
    assert invoke(runner, home, "init").exit_code == 0
    result = invoke(runner, home, "doctor", "--json")
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["config"]["status"] == checks["database"]["status"] == "ok"
    assert checks["stage script"]["status"] == "fail"
    assert "/nowhere/llm-writer" in checks["stage script"]["detail"]
    assert checks["stage video"]["status"] == "ok"  # {python} and the stage program exist
    assert checks["font"]["status"] == "fail" and "[stages.image] font" in checks["font"]["fix"]
    assert checks["ffmpeg"]["status"] == "ok" and "ffmpeg version" in checks["ffmpeg"]["detail"]
    assert checks["youtube"]["status"] == "fail" and "youtube auth" in checks["youtube"]["fix"]
    assert checks["scheduler"]["status"] == "warn"
    # A live worker's lease counts as something that runs the queue.
    conn = open_db(home)
    conn.execute(
        "INSERT INTO scheduler_lock (lock_name, locked_at, locked_by, expires_at) "
        "VALUES ('main_scheduler', '2026-01-01 00:00:00', 'render-1:42', '2999-01-01 00:00:00')"
    )
    conn.close()
    again = {c["name"]: c for c in json.loads(invoke(runner, home, "doctor", "--json").stdout)}
    assert again["scheduler"]["status"] == "ok" and "render-1:42" in again["scheduler"]["detail"]
    text = invoke(runner, home, "doctor")
    assert "fix:" in text.stdout and text.exit_code == 1


def test_doctor_warns_while_music_is_empty_and_names_a_music_setting_that_finds_none(
    runner: CliRunner, home: Path
) -> None:
    """Without music the pauses between lines are silent: a warning (not a failure) that says
    where tracks go; a track there is ok; a [stages.video] music that finds nothing fails."""
    assert invoke(runner, home, "init").exit_code == 0
    checks = {c["name"]: c for c in json.loads(invoke(runner, home, "doctor", "--json").stdout)}
    assert checks["music"]["status"] == "warn"
    assert (
        str(home / "music") in checks["music"]["detail"]
        and "royalty-free" in checks["music"]["fix"]
    )
    (home / "music" / "calm.mp3").write_bytes(b"ID3")
    checks = {c["name"]: c for c in json.loads(invoke(runner, home, "doctor", "--json").stdout)}
    assert checks["music"]["status"] == "ok" and "1 audio file(s)" in checks["music"]["detail"]
    write_config(home, '[stages.video]\nmusic = "songs/"\n')
    result = invoke(runner, home, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["music"]["status"] == "fail" and result.exit_code == 1
    assert "[stages.video] music" in checks["music"]["fix"]


OLD_FFMPEG = """#!{python}
import sys
if "-version" in sys.argv:
    print("ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers")
else:
    print("Unknown filter 'subtitles'.")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a script as the ffmpeg binary needs #!")
def test_doctor_fails_an_ffmpeg_that_cannot_draw_the_captions(
    runner: CliRunner, home: Path
) -> None:
    """A system ffmpeg without libass, or older than 5.1 (no alpha for libass), would fail every
    captioned render: doctor says so, and how to fix it; the bundled one passes."""
    old = home / "old-ffmpeg"
    old.write_text(OLD_FFMPEG.replace("{python}", sys.executable), encoding="utf-8")
    old.chmod(0o755)
    write_config(home, stage_config(stages=("video",)) + f'ffmpeg = "{old.as_posix()}"\n')
    assert invoke(runner, home, "init").exit_code == 0
    checks = {c["name"]: c for c in json.loads(invoke(runner, home, "doctor", "--json").stdout)}
    assert checks["ffmpeg"]["status"] == "fail"
    assert "4.4.2" in checks["ffmpeg"]["detail"] and "captions" in checks["ffmpeg"]["detail"]
    assert "[stages.video] ffmpeg" in checks["ffmpeg"]["fix"]
    write_config(
        home, stage_config(stages=("video",)) + f'ffmpeg = "{old.as_posix()}"\ncaptions = false\n'
    )
    checks = {c["name"]: c for c in json.loads(invoke(runner, home, "doctor", "--json").stdout)}
    assert checks["ffmpeg"]["status"] == "ok"  # without captions it will do


def at_80_columns(home: Path, *args: str) -> str:
    """A command's output in a real process whose terminal is 80 columns wide."""
    return subprocess.run(
        [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, check=True,
    ).stdout  # fmt: skip


def test_list_and_watch_keep_their_key_columns_at_80_columns(runner: CliRunner, home: Path) -> None:
    """At 80 columns the failed tab keeps the item, the task's short id, the stage and its
    status, the retry count, and the whole error wrapped under the title; the watch screen's
    log lines keep time, level, task and stage."""
    write_config(home, stage_config(max_retry=0))
    task_id = add_ok(
        runner, home, "a long title that has to wrap at eighty columns", "--set",
        "fail_script=permanent",
    )  # fmt: skip
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    failed = at_80_columns(home, "list", "failed")
    lines = failed.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = next(line for line in lines if task_id[:8] in line)
    assert "script failed" in row and "0/0" in row
    error = db_rows(home, "SELECT error_message FROM task_queue WHERE status = 'failed'")[0][0]
    assert error.split()[-1] in failed  # the error's last word: nothing cut off
    watch = at_80_columns(home, "watch", "--once")
    assert max(len(line) for line in watch.splitlines()) <= 80
    log_line = next(line for line in watch.splitlines() if "script/fail" in line)
    assert " error " in log_line and task_id[:8] in log_line


def test_show_and_contents_read_at_80_columns(runner: CliRunner, home: Path) -> None:
    """At 80 columns `show`'s history keeps the item, the stage with its status, the retries and
    both times, with the error wrapped under the stage; `contents` keeps the id, the task's short
    id, the status and the date, with the video's path under the title."""
    write_config(home, stage_config(max_retry=0))
    task_id = add_ok(
        runner, home, "a long title that has to wrap at eighty columns", "--set",
        "fail_video=permanent",
    )  # fmt: skip
    assert invoke(runner, home, "tick", "--drain").exit_code == 0
    shown = at_80_columns(home, "show", task_id[:8])
    assert max(len(line) for line in shown.splitlines()) <= 80
    script_row = next(line for line in shown.splitlines() if "script completed" in line)
    assert "0/0" in script_row
    assert len(re.findall(r"\d\d-\d\d \d\d:\d\d", script_row)) == 2  # created, completed
    video_row = next(line for line in shown.splitlines() if "video failed" in line)
    assert "0/0" in video_row
    error = db_rows(home, "SELECT error_message FROM task_queue WHERE status = 'failed'")[0][0]
    assert error.split()[-1] in shown  # the whole error, wrapped
    listed = at_80_columns(home, "contents")
    assert max(len(line) for line in listed.splitlines()) <= 80
    content_id = db_rows(home, "SELECT id FROM contents")[0][0]
    row = next(line for line in listed.splitlines() if task_id[:8] in line)
    status = db_rows(home, "SELECT status FROM contents")[0][0]
    assert str(content_id)[:8] in row and status in row
    assert re.search(r"\d\d-\d\d \d\d:\d\d", row)  # updated
    assert "a long title" in listed
