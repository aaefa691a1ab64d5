"""The command line: each command parses, calls one function, renders. Nothing else.

Commands import what they use inside their bodies: every run pays for Python, typer and the
command it runs, not for every library autoqueue has (an idle cron tick stays cheap).

The modules of this package do without ``from __future__ import annotations``: on every run
typer reads the signature of every command to build the command tree, and a string annotation
costs a compile and an eval each time (7 ms of the tree's 11 ms, measured); evaluated once as
the module is imported, they cost next to nothing. A name imported only for type checking is
quoted where an annotation uses it.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from autoqueue.store.db import Connection
    from autoqueue.workspace import Workspace


class AutoqueueGroup(TyperGroup):
    """Turns every error into one line on stderr and a non-zero exit, no traceback: ours, the
    database's, and the command line's own (an unknown option, ``--limit 0``, a number that is
    no number), which click would print as a boxed usage screen."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        import os

        from autoqueue import i18n

        # The language is known before parsing, so that help screens are translated too.
        argv = list(args) if args is not None else sys.argv[1:]
        i18n.set_language(i18n.language_for(argv, os.environ))
        if "--help" in argv or not argv:
            # Help texts are only read on a help screen (--help, or `autoqueue` alone); typer's
            # help module alone costs ~0.1 s to import, so no other command pays for this.
            if i18n.current() != "en":
                i18n.translate_typer()
            i18n.translate_command(self)
            _show_flags_plainly()
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.Abort:
            from autoqueue.cli import display

            display.error(i18n._("aborted"))
            code = 1
        except Exception as exc:
            # click's own errors (typer vendors click, so matched by what they have): a usage
            # error knows its command and exit code and formats its one-line message.
            message = getattr(exc, "format_message", None)
            exit_code = getattr(exc, "exit_code", None)
            if not callable(message) or not isinstance(exit_code, int):
                raise
            code = exit_code
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.stdout.write(str(message()) + "\n")  # `autoqueue` alone: the help screen
            else:
                from autoqueue.cli import display

                context = getattr(exc, "ctx", None)
                where = getattr(context, "command_path", None) or "autoqueue"
                text = i18n.translate_parser_error(str(message()))
                if hasattr(exc, "ctx"):
                    text += " " + i18n._("(see `{command} --help`)").format(command=where)
                display.error(text)
        else:
            # Without standalone mode, click returns a command's exit code (typer.Exit) as its
            # result; a command that simply returned gives None.
            code = result if isinstance(result, int) else 0
            if not standalone_mode:
                return result
        if not standalone_mode:
            return code
        sys.exit(code)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from autoqueue.cli import display

            code = display.failure(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None


def _show_flags_plainly() -> None:
    """Help screens show a flag as ``--help``, not ``--help <bool>``: typer's rich help prints
    every option's type, a flag's too, though a flag takes no value."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if shown.__qualname__.startswith("_show_flags_plainly"):
        return  # already in place (CliRunner runs many commands in one process)

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


app = typer.Typer(
    cls=AutoqueueGroup,
    help="Run a YouTube content pipeline (schedule → script → image → video → youtube) from cron.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (database column names).")]


LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=1_000_000, help="Show at most this many rows.")
]


class State:
    """What the global options chose; the workspace is read only when a command needs it."""

    def __init__(self, home: Path, db: str | None, *, home_given: bool = True) -> None:
        self.home = home
        self.db = db
        self.home_given = home_given  # --home or AUTOQUEUE_HOME, rather than the default
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> "Workspace":
        if self._workspace is None:
            from autoqueue.workspace import Workspace

            self._workspace = Workspace.load(self.home, self.db)
        return self._workspace

    @property
    def reader(self) -> "Workspace":
        """The home for a read command: its configuration is not read beyond the time zone
        (autoqueue.cli.reads)."""
        if self._workspace is not None:
            return self._workspace
        from autoqueue.workspace import Workspace

        return Workspace.locate(self.home, self.db)

    @property
    def tz(self) -> str:
        return self.workspace.display_zone

    @contextmanager
    def connect(self, *, create: bool = False, read_only: bool = False) -> "Iterator[Connection]":
        """Open the database; only ``init`` (and the demo) may create it: a mistyped --home must
        not create a database that cron will never see. A command that only reads says so
        (``read_only``): it works on a read-only home too."""
        conn = self.workspace.connect(create=create, read_only=read_only)
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
        str | None,
        typer.Option(
            "--db",
            envvar="AUTOQUEUE_DB",
            help="Use this SQLite file, or a PostgreSQL server: postgresql://user@host/dbname.",
        ),
    ] = None,
) -> None:
    """autoqueue: a queue that runs your content pipeline unattended."""
    from autoqueue.cli.reads import check_places

    check_places(home, db)
    source = ctx.get_parameter_source("home")
    ctx.obj = State(home, db, home_given=getattr(source, "name", "DEFAULT") != "DEFAULT")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="autoqueue")


# The command modules register themselves on ``app``; help lists the commands in the order
# they registered, which is these modules' order (commands, history, monitor, then run).
from autoqueue.cli import commands, database, history, monitor, notify, review, run, youtube  # noqa: E402, F401
