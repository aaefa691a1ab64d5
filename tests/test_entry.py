"""The executable's fast path: a bare idle `autoqueue tick` answers from one query."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoqueue.entry import plain_tick_database

from .conftest import run_cli, stage_config, write_config

# The idle fast path reads a SQLite file; a PostgreSQL tick always takes the full path.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["tick"], {}, "./autoqueue.db"),
        (["tick"], {"AUTOQUEUE_HOME": "/srv/aq"}, "/srv/aq/autoqueue.db"),
        (["--home", "/srv/aq", "tick"], {"AUTOQUEUE_HOME": "/other"}, "/srv/aq/autoqueue.db"),
        (["--home=/srv/aq", "tick"], {}, "/srv/aq/autoqueue.db"),
        (["--home", "/srv/aq", "--db", "/data/q.db", "tick"], {}, "/data/q.db"),
        (["tick"], {"AUTOQUEUE_DB": "/data/q.db"}, "/data/q.db"),
        (["tick", "--drain"], {}, None),
        (["tick", "--json"], {}, None),
        (["list"], {}, None),
        (["--home"], {}, None),
        (["--verbose", "tick"], {}, None),
        ([], {}, None),
    ],
)
def test_only_a_bare_tick_takes_the_fast_path(
    argv: list[str], env: dict[str, str], expected: str | None
) -> None:
    found = plain_tick_database(argv, env)
    if expected is None:
        assert found is None
    else:
        assert found == Path(expected).expanduser().resolve()


def test_an_idle_tick_answers_without_the_full_cli(home: Path) -> None:
    write_config(home, stage_config())
    assert run_cli(home, "init").returncode == 0
    result = run_cli(home, "tick", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0 and result.stdout == "nothing to do\n"
    imported = result.stderr
    for heavy in ("typer", "pydantic", "autoqueue.queue.claims", "rich", "apprise"):
        assert f" {heavy}\n" not in imported and f" {heavy}." not in imported, heavy


def test_a_tick_with_work_or_trouble_goes_through_the_full_cli(home: Path) -> None:
    assert run_cli(home, "tick").returncode == 1  # no database: the full CLI says so
    write_config(home, stage_config())
    assert run_cli(home, "init").returncode == 0
    assert run_cli(home, "add", "work").returncode == 0
    write_config(home, "[retry]\nmax_retry = -1\n")
    result = run_cli(home, "tick")
    assert result.returncode == 2 and "retry.max_retry" in result.stderr
