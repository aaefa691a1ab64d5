"""The command line: each command parses, calls one function, renders. Nothing else.

Commands import what they use inside their bodies: every run pays for Python, typer and the
command it runs, not for every library autoqueue has (an idle cron tick stays cheap).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from autoqueue.errors import AutoqueueError, DatabaseError

if TYPE_CHECKING:
    from autoqueue.workspace import Workspace


class AutoqueueGroup(TyperGroup):
    """Turns every error we raise into one line on stderr and a non-zero exit, no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AutoqueueError as exc:
            from autoqueue import output

            output.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except sqlite3.DatabaseError as exc:
            from autoqueue import output

            output.error(f"database error: {exc}")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=AutoqueueGroup,
    help="Run a YouTube content pipeline (schedule → script → image → video → youtube) from cron.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (database column names).")]


LimitOption = Annotated[int, typer.Option("--limit", min=1, help="Show at most this many rows.")]


class State:
    """What the global options chose; the workspace is read only when a command needs it."""

    def __init__(self, home: Path, db: Path | None) -> None:
        self.home = home
        self.db = db
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            from autoqueue.workspace import Workspace

            self._workspace = Workspace.load(self.home, self.db)
        return self._workspace

    @property
    def tz(self) -> str:
        from autoqueue.timeutil import local_zone_name

        return self.workspace.config.timezone or local_zone_name()

    @contextmanager
    def connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        """Open the database; only commands that create things may create it."""
        workspace = self.workspace
        if not create and not workspace.db_path.exists():
            raise DatabaseError(
                f"no autoqueue database at {workspace.db_path} "
                "(run `autoqueue init` there, or pass --home / set AUTOQUEUE_HOME)"
            )
        conn = workspace.connect()
        try:
            yield conn
        finally:
            conn.close()


def _state(ctx: typer.Context) -> State:
    state = ctx.obj
    assert isinstance(state, State)
    return state


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[
        Path,
        typer.Option(
            "--home",
            envvar="AUTOQUEUE_HOME",
            help="Folder with autoqueue.db, tasks/ and autoqueue.toml.",
            show_default="current directory",
        ),
    ] = Path("."),
    db: Annotated[
        Path | None,
        typer.Option("--db", envvar="AUTOQUEUE_DB", help="Use this database file instead."),
    ] = None,
) -> None:
    """autoqueue: a queue that runs your content pipeline unattended."""
    ctx.obj = State(home, db)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="autoqueue")


# The command modules register themselves on ``app``.
from autoqueue.cli import commands, run, youtube  # noqa: E402, F401
