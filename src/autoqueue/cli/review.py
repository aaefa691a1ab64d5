"""Review before publishing: review (what waits), approve and reject (docs/review.md)."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (autoqueue.cli.app's docstring says why that matters).

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from autoqueue.cli import display
from autoqueue.cli.app import JsonOption, _state, app
from autoqueue.i18n import _, queue_label

if TYPE_CHECKING:
    from autoqueue.tasks.review import HeldItem

TaskArgument = Annotated[str, typer.Argument(help="Task id, or its first characters.")]


@app.command()
def review(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """What waits for review ([review] before, add --review): each task, the stage it waits
    before, since when, and what to look at (the script, or the video and its thumbnail)."""
    from autoqueue.tasks.review import waiting

    state = _state(ctx)
    with state.connect(read_only=True) as conn:
        found = waiting(state.workspace, conn)
    if as_json:
        display.emit_json([held.as_json() for held in found])
    else:
        _rows(found, state.tz)


@app.command()
def approve(ctx: typer.Context, task: TaskArgument) -> None:
    """Let the task's held item run (the upload, or the render); logged with your user name."""
    from autoqueue.tasks.review import approve_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)  # a bad id is refused before the database is opened
    with state.connect() as conn:
        item = approve_task(conn, task, utcnow())
    display.info(
        _("approved: item {item} ({queue}) goes to the workers").format(
            item=item.id, queue=item.queue_type.value
        )
    )


@app.command()
def reject(
    ctx: typer.Context,
    task: TaskArgument,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, kept in the log and the task's error.")
    ] = None,
) -> None:
    """End the task's held run: it is never published; logged with your user name."""
    from autoqueue.tasks.review import reject_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)
    with state.connect() as conn:
        item = reject_task(conn, task, reason, utcnow())
    display.info(
        _("rejected: item {item} ({queue}) will not run").format(
            item=item.id, queue=item.queue_type.value
        )
    )


def _rows(found: "Sequence[HeldItem]", tz: str) -> None:
    """One row per held item: the task, what it waits before and since when, and what to look
    at under its title."""
    from autoqueue.timeutil import display_time

    if not found:
        display.info(_("nothing waits for review"))
        return
    table = display._table(_("waiting for review ({count})").format(count=len(found)))
    table.add_column(_("task"), no_wrap=True)
    table.add_column(_("title / what to look at"), ratio=1, overflow="fold")
    table.add_column(_("before"), no_wrap=True)
    table.add_column(_("since"), no_wrap=True)
    for held in found:
        lines = [f"[bold]{display.escape(held.title)}[/bold]"]
        lines += [display.escape(line) for line in held.to_look_at]
        table.add_row(
            held.task_id[:8],
            "\n".join(lines),
            queue_label(held.before),
            display_time(held.since, tz)[5:],
        )
    display.console().print(table)
