"""Errors that name their real cause (issue 22, point 6): a read-only home, an empty database
file, a stage script that is not there."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import open_db, run_cli, write_config

READ_COMMANDS = (
    ["list"],
    ["list", "script"],
    ["tasks"],
    ["logs"],
    ["contents"],
    ["watch", "--once"],
)


@contextmanager
def read_only_mount(source: Path, target: Path) -> Iterator[Path]:
    """``target``: ``source`` bind-mounted read-only, as a read-only medium or share is."""
    target.mkdir()
    try:
        subprocess.run(
            ["mount", "--bind", str(source), str(target)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot bind-mount here (needs root / CAP_SYS_ADMIN): {exc}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(target)], check=True, capture_output=True
        )
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True, capture_output=True)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time: what a write changes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def filled_home(home: Path) -> tuple[Path, str]:
    """A home with one task, made by real processes."""
    assert run_cli(home, "init").returncode == 0
    added = run_cli(home, "add", "Read me anyway")
    assert added.returncode == 0, added.stderr
    return home, added.stdout.strip()


# -- a read-only home ------------------------------------------------------------------------------


def test_the_read_commands_work_on_a_read_only_home(
    filled_home: tuple[Path, str], tmp_path: Path
) -> None:
    # On PostgreSQL the data lives on the server: only the home's files are read-only.
    home, task_id = filled_home
    before = snapshot(home)
    with read_only_mount(home, tmp_path / "ro") as ro:
        for args in READ_COMMANDS:
            result = run_cli(ro, *args)
            assert result.returncode == 0, (args, result.stderr)
            assert result.stderr == "", (args, result.stderr)
        assert "Read me anyway" in run_cli(ro, "tasks").stdout
        shown = run_cli(ro, "show", task_id[:8])
        assert shown.returncode == 0 and task_id in shown.stdout, shown.stderr
        listed = json.loads(run_cli(ro, "list", "schedule", "--json").stdout)
        assert [row["task_id"] for row in listed] == [task_id]
    assert snapshot(home) == before  # nothing written, not even a -wal or -shm file


@pytest.mark.sqlite_only  # PostgreSQL keeps its data elsewhere: a read-only home is no matter
def test_a_read_only_home_is_named_by_every_command_that_writes(
    filled_home: tuple[Path, str], tmp_path: Path
) -> None:
    home, _task_id = filled_home
    before = snapshot(home)
    with read_only_mount(home, tmp_path / "ro") as ro:
        for args in (["add", "t"], ["tick"], ["tick", "--drain"], ["cleanup"], ["init"]):
            result = run_cli(ro, *args)
            assert result.returncode == 1, (args, result.stdout, result.stderr)
            line = one_line(result)
            assert "read-only" in line and str(ro) in line, (args, line)
            assert "corrupt" not in line and "autoqueue init" not in line, (args, line)
        doctor = run_cli(ro, "doctor", "--json")
        assert doctor.returncode == 1
        database = {c["name"]: c for c in json.loads(doctor.stdout)}["database"]
        assert database["status"] == "fail" and "read-only" in database["detail"]
        assert str(ro) in database["detail"] and "init" not in database["fix"]
    assert snapshot(home) == before


@pytest.mark.sqlite_only  # SQLite's write-ahead log
def test_a_read_only_home_shows_what_a_writer_elsewhere_has_in_its_log(
    filled_home: tuple[Path, str], tmp_path: Path
) -> None:
    # The same folder, writable by another path: its -wal and -shm files exist while a writer
    # has it open, and rows still only in the -wal are read through them.
    home, _task_id = filled_home
    writer = open_db(home)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # the new row stays in the -wal
        writer.execute("UPDATE tasks SET title = 'Changed elsewhere'")
        assert (home / "autoqueue.db-wal").stat().st_size > 0
        with read_only_mount(home, tmp_path / "ro") as ro:
            result = run_cli(ro, "tasks")
            assert result.returncode == 0, result.stderr
            assert "Changed elsewhere" in result.stdout
    finally:
        writer.close()


# -- an empty database file --------------------------------------------------------------------


@pytest.mark.sqlite_only  # a file
def test_an_empty_database_file_is_not_initialised_and_stays_empty(home: Path) -> None:
    database = home / "autoqueue.db"
    database.touch()
    missing = run_cli(home, "list")
    for args in (["list"], ["add", "t"], ["tick"], ["tick", "--drain"], ["logs"], ["show", "ab"]):
        result = run_cli(home, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert one_line(result) == one_line(missing)
        assert "no autoqueue database" in one_line(result) and "autoqueue init" in one_line(result)
    assert sorted(p.name for p in home.iterdir()) == ["autoqueue.db"]
    assert database.stat().st_size == 0
    doctor = run_cli(home, "doctor", "--json")
    database_check = {c["name"]: c for c in json.loads(doctor.stdout)}["database"]
    assert database_check["status"] == "fail" and "autoqueue init" in database_check["fix"]
    assert database.stat().st_size == 0
    # init on the empty file initialises it
    assert run_cli(home, "init").returncode == 0
    assert database.stat().st_size > 0
    listed = run_cli(home, "list")
    assert listed.returncode == 0, listed.stderr


# -- a stage script that is not there ----------------------------------------------------------


def _stage_check(home: Path) -> dict[str, str]:
    result = run_cli(home, "doctor", "--json")
    return {c["name"]: c for c in json.loads(result.stdout)}["stage script"]  # type: ignore[no-any-return]


def test_doctor_fails_a_python_script_that_is_not_in_the_home(home: Path) -> None:
    write_config(
        home, '[stages.script]\ncommand = ["{python}", "-u", "my_writer.py", "--lang", "ko"]\n'
    )
    assert run_cli(home, "init").returncode == 0
    check = _stage_check(home)
    assert check["status"] == "fail", check
    assert "'my_writer.py'" in check["detail"] and str(home / "my_writer.py") in check["detail"]
    assert check["fix"]
    (home / "my_writer.py").write_text("print('hi')\n", encoding="utf-8")
    check = _stage_check(home)
    assert check["status"] == "ok" and str(home / "my_writer.py") in check["detail"], check


@pytest.mark.parametrize(
    "command",
    [
        '["{python}", "-m", "json.tool", "--help"]',  # a module, not a file
        '["{python}", "-c", "print(1)"]',
    ],
)
def test_doctor_does_not_take_a_module_or_code_for_a_script(home: Path, command: str) -> None:
    write_config(home, f"[stages.script]\ncommand = {command}\n")
    assert run_cli(home, "init").returncode == 0
    assert _stage_check(home)["status"] == "ok"


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("command", "script"),
    [
        (["{python}", "my_writer.py"], "my_writer.py"),
        (["{python}", "-u", "-X", "utf8", "w.py", "--lang", "ko"], "w.py"),
        (["/usr/bin/python3.11", "-W", "ignore", "sub/w.py"], "sub/w.py"),
        (["{python}", "-m", "writer", "w.py"], None),
        (["{python}", "-Bc", "print(1)"], None),
        (["{python}", "-"], None),
        (["node", "w.js"], None),
    ],
)
def test_the_script_a_python_stage_runs(command: list[str], script: str | None) -> None:
    from autoqueue.cli.doctor import python_script

    assert python_script(command) == script
