"""Korean throughout: the catalog covers every marked message, the compiled catalog is the one
autoqueue reads, and commands, help screens, errors and log rows come out in Korean when the
home says ``language = "ko"`` or the locale is Korean."""

from __future__ import annotations

import ast
import gettext
import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue import i18n

from .conftest import invoke, open_db, run_cli, stage_config, write_config

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "autoqueue"
PO = SOURCE / "locale" / "ko" / "LC_MESSAGES" / "autoqueue.po"
MO = SOURCE / "locale" / "ko" / "LC_MESSAGES" / "autoqueue.mo"
HANGUL = re.compile("[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def extracted() -> set[str]:
    """Every message the source marks, extracted as scripts/translations.sh extracts them
    (babel.cfg's map: the command modules' help texts, and every _() and N_())."""
    from babel.messages.extract import extract_from_dir

    method_map = [
        ("src/autoqueue/cli/**.py", "autoqueue.i18n:extract_cli"),
        ("src/autoqueue/**.py", "python"),
    ]
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map
    ):
        text = message if isinstance(message, str) else message[0]
        if text:
            found.add(text)
    return found


def korean_catalog() -> dict[str, str]:
    from babel.messages.pofile import read_po

    with PO.open("rb") as handle:
        catalog = read_po(handle)
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}  # type: ignore[misc]


@pytest.mark.no_db
def test_every_marked_message_has_a_korean_translation() -> None:
    catalog = korean_catalog()
    messages = extracted()
    assert len(messages) > 300  # the extraction found the source's messages
    missing = sorted(m for m in messages if not catalog.get(m))
    assert not missing, (
        f"no Korean for {len(missing)} message(s) (scripts/translations.sh): {missing[:10]}"
    )
    for message in messages:
        assert sorted(PLACEHOLDER.findall(catalog[message])) == sorted(
            PLACEHOLDER.findall(message)
        ), f"the translation of {message!r} changes its placeholders"


@pytest.mark.no_db
def test_the_compiled_catalog_is_the_po_file() -> None:
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        message
        for message, translation in korean_catalog().items()
        if compiled.gettext(message) != translation
    ]
    assert not stale, f"the .mo is older than the .po (run scripts/translations.sh): {stale[:5]}"


@pytest.mark.no_db
def test_no_translation_hides_inside_an_f_string() -> None:
    """Babel cannot see a _() inside an f-string: such a message would never be translated."""
    hidden = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                for part in ast.walk(node):
                    if (
                        isinstance(part, ast.Call)
                        and isinstance(part.func, ast.Name)
                        and part.func.id in ("_", "N_")
                    ):
                        hidden.append(f"{path.name}:{part.lineno}")
    assert not hidden


@pytest.mark.no_db
def test_the_language_comes_from_the_config_then_the_locale(tmp_path: Path) -> None:
    (tmp_path / "autoqueue.toml").write_text('language = "ko"\n', encoding="utf-8")
    assert i18n.language_for(["--home", str(tmp_path), "list"], {}) == "ko"
    assert i18n.language_for([f"--home={tmp_path}"], {"LANG": "en_US.UTF-8"}) == "ko"
    assert i18n.language_for(["list"], {"AUTOQUEUE_HOME": str(tmp_path)}) == "ko"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert i18n.language_for(["--home", str(empty)], {"LANG": "ko_KR.UTF-8"}) == "ko"
    assert i18n.language_for(["--home", str(empty)], {"LC_ALL": "C", "LANG": "ko_KR"}) == "en"
    assert i18n.language_for(["--home", str(empty)], {}) == "en"
    # A command's own --home after the command name is not the global one.
    assert i18n.language_for(["list", "--home", str(tmp_path)], {}) == "en"


def korean_home(home: Path) -> None:
    write_config(home, stage_config(top='language = "ko"'))


def command_paths(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        paths.append((*prefix, name))
        paths += command_paths(command, (*prefix, name))
    return paths


def test_every_help_screen_is_korean(runner: CliRunner, home: Path) -> None:
    import typer

    from autoqueue.cli.app import app

    korean_home(home)
    paths = command_paths(typer.main.get_command(app))
    assert len(paths) > 20
    for path in [(), *paths]:
        result = runner.invoke(app, ["--home", str(home), *path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        for english in ("Options", "Arguments", "Commands", "Show this message", "[default:"):
            assert english not in text, (path, english)
        assert HANGUL.search(text), path
        # Every option's and argument's description is Korean: each row with one has Hangul.
        rows = [
            line for line in text.splitlines() if re.match(r"^│ +(\*? +)?-{1,2}\w|^│ +\* +\w", line)
        ]
        for row in rows:
            description = row.split(">", 1)[-1] if ">" in row else row
            if re.search(r"[a-z]{4,} [a-z]{4,} [a-z]{4,}", description):
                assert HANGUL.search(description), (path, row)


def test_commands_speak_korean(runner: CliRunner, home: Path) -> None:
    korean_home(home)
    assert invoke(runner, home, "init").exit_code == 0
    bad = invoke(runner, home, "add", "제목", "--at", "어제 아침")
    assert bad.exit_code != 0
    assert "시각" in bad.stderr and "읽을 수 없습니다" in bad.stderr
    assert bad.stderr.startswith("오류:")
    task_id = invoke(runner, home, "add", "한국어 작업").stdout.strip()
    listed = invoke(runner, home, "list", "schedule")
    assert "예약 대기" in listed.stdout and "제목 / 오류" in listed.stdout
    counts = invoke(runner, home, "list")
    assert "유튜브" in counts.stdout and "완료" in counts.stdout
    stopped = invoke(runner, home, "stop", task_id[:8])
    assert "대기 항목 1개 삭제" in stopped.stdout
    assert "이 작업의 프로세스는 실행 중이 아니었습니다" in stopped.stdout
    unknown = invoke(runner, home, "list", "--limit", "0")
    assert "값이 잘못되었습니다" in unknown.stderr and "참고" in unknown.stderr
    nothing = invoke(runner, home, "nosuch")
    assert "명령은 없습니다" in nothing.stderr


def test_a_korean_locale_is_enough(home: Path) -> None:
    """No language setting, a Korean locale: Korean, in a real process as cron starts it."""
    write_config(home, stage_config())
    assert run_cli(home, "init").returncode == 0
    result = run_cli(home, "show", "zzzz", env={"LANG": "ko_KR.UTF-8"})
    assert result.returncode != 0
    assert "작업 ID가 아닙니다" in result.stderr
    english = run_cli(home, "show", "zzzz", env={"LANG": "en_US.UTF-8"})
    assert "is not a task id" in english.stderr


def test_stage_logs_are_written_in_korean(home: Path) -> None:
    """The tick and the stage attempts it starts (in supervisor processes of their own) log in
    the home's language."""
    write_config(home, stage_config(top='language = "ko"', stages=("script",)))
    assert run_cli(home, "init").returncode == 0
    assert run_cli(home, "add", "한국어 로그").returncode == 0
    result = run_cli(home, "tick", "--drain")
    assert result.returncode == 0, result.stderr
    conn = open_db(home)
    try:
        messages = [row[0] for row in conn.execute("SELECT message FROM task_logs")]
    finally:
        conn.close()
    assert any("작업 추가됨" in m for m in messages), messages
    assert any("실행을 등록했습니다" in m for m in messages), messages
    assert any("실행 시작" in m for m in messages), messages
    logs = json.loads(run_cli(home, "logs", "--json").stdout)
    assert all(not m["message"].startswith("task added") for m in logs)


def test_help_words_are_translated_without_slowing_other_commands(home: Path) -> None:
    """typer's help module (about 0.1 s to import) is loaded for a help screen only, and the
    help screens a bare group prints are Korean too."""
    import subprocess
    import sys

    korean_home(home)
    assert run_cli(home, "init").returncode == 0
    listed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autoqueue", "--home", str(home), "list"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "typer.rich_utils" not in listed.stderr
    alone = subprocess.run(  # `autoqueue` alone prints its help screen
        [sys.executable, "-m", "autoqueue"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "AUTOQUEUE_HOME": str(home), "COLUMNS": "100"},
    )  # fmt: skip
    assert "옵션" in alone.stdout and "명령" in alone.stdout and "Options" not in alone.stdout
    group = run_cli(home, "db")  # a group without its command: one Korean line
    assert group.returncode == 2 and "명령이 없습니다" in group.stderr


class Pseudo(gettext.NullTranslations):
    """A language in which every marked message comes out «wrapped»: what was not marked
    stays bare (the catalog cannot be edited here, so new messages have no Korean yet)."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"


def test_tick_prints_in_korean(home: Path) -> None:
    """What a tick prints per item (its queue and how it ended) is Korean, the task ids in one
    column though Hangul is two cells wide (이미지 is six cells, 예약 four)."""
    write_config(home, stage_config(top='language = "ko"', stages=("script",)))
    assert run_cli(home, "init").returncode == 0
    assert run_cli(home, "add", "한국어 틱").returncode == 0
    result = run_cli(home, "tick", "--drain")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if " 완료" in line]
    assert [line.split()[0] for line in lines][:2] == ["예약", "대본"], result.stdout
    assert "schedule" not in result.stdout and "completed" not in result.stdout
    from rich.cells import cell_len

    task_id = lines[0].split()[1]
    assert {cell_len(line[: line.index(task_id)]) for line in lines} == {9}


def test_engine_log_rows_are_marked_for_translation(
    runner: CliRunner, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows the tick writes when a stage completes, retries or fails are messages in the
    writer's language, with the queue names translated too."""
    write_config(home, stage_config(top='language = "ko"', stages=("script",), max_retry=1))
    assert invoke(runner, home, "init").exit_code == 0
    assert invoke(runner, home, "add", "fine").exit_code == 0
    assert invoke(runner, home, "add", "breaks", "--set", "fail_script=always").exit_code == 0
    monkeypatch.setattr(i18n._gettext, "translation", lambda *args, **kwargs: Pseudo())
    result = invoke(runner, home, "tick", "--drain")
    assert result.exit_code == 0, result.output
    conn = open_db(home)
    try:
        rows = conn.execute(
            "SELECT action_type, message FROM task_logs WHERE action_type IN "
            "('complete', 'retry', 'fail') ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert {row[0] for row in rows} == {"complete", "retry", "fail"}, rows
    for _action, message in rows:
        assert message.startswith("«") and message.endswith("»"), message
    assert any("«schedule» done → «script» waiting" in row[1] for row in rows), rows
    assert any("«youtube» done → run complete" in row[1] for row in rows), rows
    printed = [line for line in result.stdout.splitlines() if "«completed»" in line]
    assert len(printed) >= 3 and all(line.startswith("«") for line in printed), result.stdout


def log_entry(number: int, queue: str | None, action: str | None, message: str) -> object:
    from autoqueue.repo.views import LogEntry

    return LogEntry.from_row(
        {
            "id": number,
            "task_id": f"{number:08d}",
            "level": "info",
            "message": message,
            "queue_type": queue,
            "action_type": action,
            "created_at": "2026-11-26 12:00:00",
        }
    )


def message_columns(lines: list[str], messages: list[str]) -> set[int]:
    """The terminal cell where each line's message starts."""
    from rich.cells import cell_len

    return {cell_len(line[: line.index(m)]) for line, m in zip(lines, messages, strict=True)}


def test_log_columns_align_by_terminal_cells(capsys: pytest.CaptureFixture[str]) -> None:
    """`logs` and `watch`/`show`: Korean stage names (two cells a syllable) and Latin ones,
    with or without a stage, start their messages in the same cell."""
    import io

    from rich.console import Console

    from autoqueue.cli import display
    from autoqueue.cli.grid import render_line, to_rich

    i18n.set_language("ko")
    messages = ["🎬 영상 저장됨 one", "youtube done two", "plain three", "스크립트 four"]
    entries = [
        log_entry(1, "script", "fail", messages[0]),
        log_entry(2, "youtube", "complete", messages[1]),
        log_entry(3, None, None, messages[2]),
        log_entry(4, "video", None, messages[3]),
    ]
    display.console().width = 200
    display.log_rows(entries, "UTC")  # type: ignore[arg-type]
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(message_columns(printed, messages)) == 1, printed
    console = Console(width=120, file=io.StringIO(), record=True)
    for entry in entries:
        console.print(to_rich(display.short_log_line(entry, "UTC")))  # type: ignore[arg-type]
    lines = console.export_text().splitlines()
    assert len(message_columns(lines, messages)) == 1, lines
    plain = [render_line(display.short_log_line(e, "UTC"), 120, False)[0] for e in entries]  # type: ignore[arg-type]
    assert len(message_columns(plain, messages)) == 1, plain
