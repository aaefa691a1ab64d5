"""The commands that only read (`list`, `tasks`, `show`, `logs`, `contents`, `--help`) import
what reading needs, not the libraries of the stages, the voices, the terminal app or the other
backend: every such import costs each run of a command milliseconds (issue 24)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from autoqueue.repo import contents as contents_repo
from autoqueue.store.db import Connection
from autoqueue.workspace import Workspace

from .conftest import add, run_cli

# On a SQLite home: psycopg is the PostgreSQL backend's, loaded only for a postgresql:// URL.
pytestmark = pytest.mark.sqlite_only

# Packages no read command may import, with everything under them.
HEAVY = (
    "psycopg",
    "textual",
    "textual_serve",
    "aiohttp",
    "PIL",
    "numpy",
    "googleapiclient",
    "google.auth",
    "google_auth_oauthlib",
    "google.genai",
    "httplib2",
    "openai",
    "requests",
    "elevenlabs",
    "edge_tts",
    "piper",
    "pyttsx3",
    "espeakng_loader",
    "imageio_ffmpeg",
    "apprise",
    "autoqueue.notify",
    "autoqueue.stages",
    "autoqueue.voices",
    "autoqueue.youtube",
    "autoqueue.queue.claims",
    "autoqueue.queue.outcomes",
    "autoqueue.queue.occurrences",
    "autoqueue.worker.tick",
    "autoqueue.attempt.supervisor",
    "autoqueue.cli.terminal",
    "autoqueue.cli.terminal_dialogs",
    "autoqueue.cli.terminal_tables",
    "autoqueue.cli.web",
)


def imported_by(home: Path, *args: str) -> set[str]:
    """The modules a real ``autoqueue --home HOME ARGS`` process imports (python -X importtime)."""
    result = run_cli(home, *args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    }


def under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.fixture
def task_id(workspace: Workspace, conn: Connection) -> str:
    """A task with a queue item, log rows and a contents row, so that every read renders rows."""
    added = add(workspace, conn, "A week of home cooking")
    contents_repo.insert_script(
        conn,
        content_id=str(uuid.uuid4()),
        user_id=None,
        format="shortform",
        title="A week of home cooking",
        content="{}",
        task_id=added,
        now="2026-11-26 12:00:00",
    )
    return added


# What a plain read never loads: its fast path (autoqueue.cli.reads) answers before the command
# line library, the validation library, the engine's row models and the configuration's; it
# shows times on the machine's clock without naming its zone (tzlocal, about 30 ms), prints
# its tables without rich (about 40 ms), and holds no dataclass (ARCHITECTURE.md "Fast reads").
FAST = (
    "typer",
    "pydantic",
    "autoqueue.models",
    "autoqueue.config",
    "autoqueue.cli.app",
    "tzlocal",
    "rich",
    "dataclasses",
)

READS = [
    # The counts need no tasks layer, and none of the repositories it brings.
    (("list",), ("autoqueue.tasks", *FAST)),
    (("list", "schedule"), FAST),
    (("list", "--json"), ("autoqueue.tasks", *FAST)),
    (("list", "--limit=5", "failed", "--json"), FAST),
    (("tasks",), FAST),
    (("tasks", "--json"), FAST),
    (("show", "{task}"), FAST),
    (("show", "{task}", "--json"), FAST),
    (("logs",), FAST),
    (("logs", "{task}", "--level", "info", "--limit", "5"), FAST),
    (("contents",), ("autoqueue.tasks", *FAST)),
    (("contents", "--task", "{task}"), FAST),
    # A help screen is printed while parsing: no database module, no sqlite3.
    (("--help",), ("autoqueue.store.db", "sqlite3")),
]


@pytest.mark.parametrize(
    ("args", "also_not"),
    [pytest.param(args, also_not, id=" ".join(args)) for args, also_not in READS],
)
def test_a_read_command_imports_no_heavy_module(
    workspace: Workspace, task_id: str, args: tuple[str, ...], also_not: tuple[str, ...]
) -> None:
    argv = [arg.format(task=task_id[:8]) for arg in args]
    modules = imported_by(workspace.home, *argv)
    assert "autoqueue.cli" in modules  # the measurement saw the command line load
    found = {package: under(modules, package) for package in (*HEAVY, *also_not)}
    assert {package: names for package, names in found.items() if names} == {}
