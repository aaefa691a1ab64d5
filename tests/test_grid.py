"""The read commands' tables (autoqueue.cli.grid), printed by real processes: columns line up by
terminal cells with Korean in them, a table fits the screen it is given, colours appear on a
terminal only, and a console whose encoding has no box drawing gets ASCII bars."""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from autoqueue.cli.grid import Grid, Line, cells, render_line
from autoqueue.store.db import Connection
from autoqueue.workspace import Workspace

from .conftest import add, run_cli

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# Rendering is the same on either backend.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def home_with_tasks(workspace: Workspace, conn: Connection) -> Path:
    """Tasks with Korean and Latin titles, one long enough to wrap, and one with a schedule."""
    add(workspace, conn, "아침 숏폼: 제주도 여행 브이로그 세 번째 이야기 and some English")
    add(
        workspace, conn, "plain Latin title", at="2030-01-06 09:00", repeat="daily", tz="Asia/Seoul"
    )
    add(workspace, conn, "x" * 70)  # one word longer than its column: folded
    return workspace.home


def bar_offsets(line: str) -> list[int]:
    """Where a table line's column bars stand, in terminal cells."""
    return [cells(line[:i]) for i, char in enumerate(line) if char in "┃│╇"]


@pytest.mark.parametrize("columns", [200, 80, 60])
def test_a_table_fits_its_screen_and_its_columns_line_up_by_cells(
    home_with_tasks: Path, columns: int
) -> None:
    shown = run_cli(home_with_tasks, "tasks", env={"COLUMNS": str(columns), "LANG": "ko_KR.UTF-8"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(cells(line) for line in lines) <= columns, shown.stdout
    table = [line for line in lines if any(bar in line for bar in "┃│╇")]
    assert len({tuple(bar_offsets(line)) for line in table}) == 1, shown.stdout
    # nothing is lost to the wrapping: each title is all there, in order
    rows = [line.split("│") for line in table if "│" in line]
    titles = "".join("".join(row[1].split()) for row in rows)
    assert "아침숏폼:제주도여행브이로그세번째이야기andsomeEnglish" in titles
    assert "x" * 70 in titles
    assert "Asia/Seoul" in "".join("".join(row[3].split()) for row in rows)


def test_colours_only_on_a_terminal_and_never_with_no_color(home_with_tasks: Path) -> None:
    piped = run_cli(home_with_tasks, "tasks")
    assert not ANSI.search(piped.stdout)
    on_a_terminal = in_a_terminal(home_with_tasks, "tasks")
    assert ANSI.search(on_a_terminal), on_a_terminal
    assert "\x1b[1m" in on_a_terminal  # the bold headers
    assert ANSI.sub("", on_a_terminal).split() == piped.stdout.split()  # the same words
    assert not ANSI.search(in_a_terminal(home_with_tasks, "tasks", NO_COLOR="1"))


def in_a_terminal(home: Path, *args: str, _env: dict[str, str] | None = None, **env: str) -> str:
    """A command's output when its stdout is a terminal (a pseudo-terminal, 200 columns wide
    by COLUMNS unless ``_env`` replaces the environment)."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=_env if _env is not None else {**os.environ, "COLUMNS": "200", **env},
            timeout=120,
            check=True,
        )
        assert not process.stderr
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_a_console_without_box_drawing_gets_ascii_bars(
    workspace: Workspace, conn: Connection
) -> None:
    add(workspace, conn, "plain Latin title")
    shown = run_cli(workspace.home, "tasks", env={"PYTHONIOENCODING": "cp1252"})
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "title" in line)
    assert header.count("|") == 5 and "┃" not in shown.stdout
    assert re.search(r"^-+\+-+", shown.stdout, re.MULTILINE), shown.stdout


def test_a_long_line_wraps_at_spaces_keeping_its_styles() -> None:
    line = Line(
        (("error:", "red"), (" the video stage failed: 영상 저장 실패 after three tries", ""))
    )
    wrapped = render_line(line, 24, color=True)
    assert all(cells(ANSI.sub("", piece)) <= 24 for piece in wrapped), wrapped
    assert " ".join(ANSI.sub("", piece) for piece in wrapped) == (
        "error: the video stage failed: 영상 저장 실패 after three tries"
    )
    assert wrapped[0].startswith("\x1b[31merror:\x1b[0m")
    cut = render_line(Line(line.spans, cut=True), 24, color=False)
    assert cut == ["error: the video stage …"]


def test_the_widest_wrapping_column_gives_way_first() -> None:
    table = Grid("")
    table.column("id", wrap=False)
    table.column("short")
    table.column("long")
    table.row("12345678", "a few words", "many more words than the screen has room for at all")
    widths = table.widths(50)
    assert widths[0] == 8 and widths[1] == len("a few words")  # untouched
    assert sum(widths) + 3 * len(widths) - 1 == 50


def test_a_terminal_that_says_it_has_no_width_gets_80_columns(home_with_tasks: Path) -> None:
    """A fresh pseudo-terminal reports 0 columns (as `docker exec -t` may): the table is laid
    out for 80, not one character a line."""
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    shown = ANSI.sub("", in_a_terminal(home_with_tasks, "tasks", _env=env))
    lines = shown.splitlines()
    assert max(cells(line) for line in lines) <= 80, shown
    assert max(cells(line) for line in lines) > 60, shown  # laid out for 80, not squeezed
    assert "plain" in shown and "Asia/Seoul" in shown


def test_force_color_colours_a_pipe_too(home_with_tasks: Path) -> None:
    assert ANSI.search(run_cli(home_with_tasks, "tasks", env={"FORCE_COLOR": "1"}).stdout)


def test_tabs_and_control_characters_cannot_break_a_row(
    workspace: Workspace, conn: Connection
) -> None:
    add(workspace, conn, "a\ttab and a\rcarriage\x1b[31m return\x08")
    add(workspace, conn, "plain")
    shown = run_cli(workspace.home, "tasks", env={"COLUMNS": "100"}).stdout
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", shown), repr(shown)
    table = [line for line in shown.splitlines() if "│" in line or "┃" in line]
    assert len({tuple(bar_offsets(line)) for line in table}) == 1, shown
    titles = "".join(line.split("│")[1] for line in table if "│" in line)
    assert "a       tab and" in titles  # the tab as spaces to the next multiple of 8
    assert "acarriage[31m" in "".join(titles.split())


def test_decomposed_hangul_takes_the_cells_it_shows_in() -> None:
    composed = "한국어.mp4"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed and cells(decomposed) == cells(composed) == 10


def test_a_workspace_copies_and_pickles(workspace: Workspace) -> None:
    assert copy.deepcopy(workspace) == workspace == pickle.loads(pickle.dumps(workspace))
    with pytest.raises(AttributeError):
        workspace.home = Path("elsewhere")  # type: ignore[misc]
