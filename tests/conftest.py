"""Shared fixtures: every test gets its own home directory, database and clock.

Every test runs twice, once per backend: ``[sqlite]`` with the home's own file, and
``[postgresql]`` with a fresh database on a PostgreSQL server that this test run starts itself
(tests/pgserver.py). The backend reaches every command through ``AUTOQUEUE_DB``, in this process
and in every process a test starts. A test about one backend only carries the marker
``sqlite_only`` or ``postgresql_only``; a test that never opens a database carries ``no_db`` and
runs once.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue import i18n
from autoqueue.cli.app import app
from autoqueue.store.db import Connection
from autoqueue.tasks.add import AddRequest, add_task, prepare_add
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .pgserver import PgServer

# The helpers that test modules share (tests/helpers) assert too: pytest rewrites their asserts
# as it does a test module's, so that their failures say what the values were.
pytest.register_assert_rewrite(f"{__package__}.helpers")

PROGRAMS = Path(__file__).parent / "programs"
STAGE_PROGRAM = PROGRAMS / "stage.py"
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


LOOPBACK = {"localhost", "127.0.0.1", "::1", None}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to 127.0.0.1 only: a lookup of any other host fails the test at once."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in LOOPBACK:
            raise AssertionError(f"a test tried to reach {host!r}; only 127.0.0.1 is allowed")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "PEXELS_API_KEY",
    "ELEVENLABS_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's AUTOQUEUE_* variables or writes outside its temp dir."""
    for name in list(os.environ):
        if name.startswith("AUTOQUEUE_") or name in ("COLUMNS", "LINES"):
            monkeypatch.delenv(name)  # the terminal's width too: a test that wants 80 says so
    for name in PROVIDER_KEYS:  # a provider's key only when a test gives one
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    # English unless a test asks for Korean: the developer's locale does not count.
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.set_language("en")


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``backend`` runs once per backend its marker leaves it (no marker:
    both)."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("no_db"):
        backends: tuple[str, ...] = ("sqlite",)
    elif metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ("sqlite",)
    elif metafunc.definition.get_closest_marker("postgresql_only"):
        backends = ("postgresql",)
    else:
        backends = BACKENDS
    metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """This test process's own PostgreSQL cluster (started on first use; a missing server
    binary fails the tests that need it, it never skips them). Its folder is outside pytest's
    temporary tree, which another pytest run may lock down (0700) or rotate away."""
    folder = Path(tempfile.mkdtemp(prefix="autoqueue-pg-"))
    folder.chmod(0o755)
    server = PgServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


_database_numbers = itertools.count()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database on the test run's server."""
    name = f"t{os.getpid()}_{next(_database_numbers)}"
    pg_server.create_database(name)
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(autouse=True)
def backend(
    request: pytest.FixtureRequest, _isolated_env: None, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The backend this run of the test uses; PostgreSQL through AUTOQUEUE_DB."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        monkeypatch.setenv("AUTOQUEUE_DB", request.getfixturevalue("pg_url"))
    return str(name)


def open_db(home: Path) -> Connection:
    """The test's database (whichever backend), as autoqueue opens it."""
    return Workspace.load(home).connect(create=False)


def has_db(home: Path) -> bool:
    """Whether the home's database exists yet (whichever backend)."""
    return Workspace.load(home).database_exists()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty folder for the test's home, in its temporary directory."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def write_config(home: Path, text: str) -> None:
    """Write ``text`` as the home's autoqueue.toml."""
    (home / "autoqueue.toml").write_text(text, encoding="utf-8")


ALL_STAGES = ("script", "image", "video", "youtube")


def stage_config(
    *,
    timeout: float = 60,
    delays: str = "[0]",
    max_retry: int = 3,
    stages: tuple[str, ...] = ALL_STAGES,
    programs: dict[str, str] | None = None,
    top: str = "",
) -> str:
    """An autoqueue.toml whose stages run tests/programs/stage.py, through ``{python}`` unless
    ``programs`` names another executable for a stage."""
    lines = ['timezone = "UTC"', top, "[retry]", f"delays = {delays}", f"max_retry = {max_retry}"]
    for stage in stages:
        program = (programs or {}).get(stage, "{python}")
        lines += [
            f"[stages.{stage}]",
            f'command = ["{program}", "{STAGE_PROGRAM.as_posix()}"]',
            f"timeout = {timeout}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def workspace(home: Path) -> Workspace:
    """The home, set up with every stage running tests/programs/stage.py (``stage_config``)."""
    write_config(home, stage_config())
    ws = Workspace.load(home)
    init_home(ws)
    return Workspace.load(home)


@pytest.fixture
def conn(workspace: Workspace) -> Iterator[Connection]:
    """A connection to the workspace's database, closed after the test."""
    connection = workspace.connect()
    yield connection
    connection.close()


def add(
    workspace: Workspace,
    conn: Connection,
    title: str = "A title",
    now: datetime = NOW,
    **fields: object,
) -> str:
    """Add a task through the tasks layer, as `autoqueue add` does."""
    request = AddRequest(title=title, **fields)  # type: ignore[arg-type]
    prepared = prepare_add(workspace, request, now)
    return add_task(workspace, conn, prepared, now).task_id


def stage_context(workspace: Workspace, conn: Connection, task_id: str):  # type: ignore[no-untyped-def]
    """A context to call a built-in stage directly in this process, and the log rows it asks
    for."""
    from autoqueue.repo import queue as queue_repo
    from autoqueue.repo import tasks as tasks_repo
    from autoqueue.stages.base import StageContext, StageLog

    task = tasks_repo.get(conn, task_id)
    assert task is not None
    logs: list[StageLog] = []
    ctx = StageContext(
        workspace=workspace,
        task=task,
        schedule=None,
        item=queue_repo.for_task(conn, task_id)[0],
        log=lambda *entries: logs.extend(entries),
    )
    return ctx, logs


def add_many(home: Path, requests: list[AddRequest]) -> list[str]:
    """Add tasks through the tasks layer in this process, as `autoqueue add` does (50 processes
    starting Python would spend most of a test doing that)."""
    workspace = Workspace.load(home)
    init_home(workspace)
    conn = workspace.connect()
    try:
        ids = []
        for request in requests:
            now = utcnow()
            prepared = prepare_add(workspace, request, now)
            ids.append(add_task(workspace, conn, prepared, now).task_id)
        return ids
    finally:
        conn.close()


@pytest.fixture
def runner() -> CliRunner:
    """A CliRunner to ``invoke`` the command line in this process."""
    return CliRunner()


def invoke(runner: CliRunner, home: Path, *args: str):  # type: ignore[no-untyped-def]
    """Run the CLI in-process against ``home``."""
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process, as cron would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "autoqueue", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
