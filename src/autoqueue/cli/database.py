"""The db sub-commands: copy (moving a home's history to PostgreSQL)."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

from typing import Annotated

import typer

from autoqueue.cli import display
from autoqueue.cli.app import JsonOption, _state, app
from autoqueue.i18n import _

db_app = typer.Typer(help="The database: move a home's history to PostgreSQL.")
app.add_typer(db_app, name="db")


@db_app.command("copy")
def db_copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option("--to", help="The empty database to fill: postgresql://user@host/dbname."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Copy every task, schedule, queue item, log and content into an empty database, then
    compare row counts and checksums of every table. Stop the workers first."""
    from autoqueue.store.dbcopy import copy_database
    from autoqueue.workspace import Workspace

    state = _state(ctx)
    shown = Workspace.load(state.home, to).database
    with state.connect() as source:
        copied = copy_database(source, to, shown=shown)
    if as_json:
        display.emit_json({"to": shown, "rows": copied.counts, "sha256": copied.checksums})
        return
    total = sum(copied.counts.values())
    display.info(
        _("copied {total} rows into {shown}; row counts and checksums match:").format(
            total=total, shown=shown
        )
    )
    for table, count in copied.counts.items():
        display.info(f"  {table}: {count}")
    display.info(
        _("use it with --db '{shown}' or AUTOQUEUE_DB (the old database is left as it was)").format(
            shown=shown
        )
    )
