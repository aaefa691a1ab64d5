"""The terminal app's review tab (``autoqueue ui``): shown while something waits for review (at
80 columns ten tabs would not fit, and most homes never review), and its keys: approve the
highlighted task's held item, or reject it after a yes/no question, as ``approve`` and
``reject`` do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoqueue.cli.terminal_dialogs import Confirm
from autoqueue.i18n import _
from autoqueue.tasks.review import approve_task, reject_task

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

    from autoqueue.cli.terminal import AutoqueueApp

# The reason a rejection from the app records (the command line takes --reason).
REJECTED_IN_APP = "rejected in the terminal app"


def show_tab_while_needed(tabs: TabbedContent, needed: bool, *, active: bool) -> None:
    """The review tab shows while something waits, and stays while it is the one looked at."""
    shown = tabs.get_tab("review").display
    if needed and not shown:
        tabs.show_tab("review")
    elif not needed and shown and not active:
        tabs.hide_tab("review")


def approve(app: AutoqueueApp, row: dict[str, Any] | None) -> None:
    if row is None:
        return
    task_id = str(row["task_id"])
    item = app.call(lambda conn: approve_task(conn, task_id, app.now()))
    if item is not None:
        app.say(
            _("approved: item {item} ({queue}) goes to the workers").format(
                item=item.id, queue=item.queue_type.value
            )
        )
        app.refresh_data()


def reject(app: AutoqueueApp, row: dict[str, Any] | None) -> None:
    if row is None:
        return
    task_id = str(row["task_id"])

    def answered(yes: bool | None) -> None:
        if not yes:
            return
        item = app.call(lambda conn: reject_task(conn, task_id, REJECTED_IN_APP, app.now()))
        if item is not None:
            app.say(
                _("rejected: item {item} ({queue}) will not run").format(
                    item=item.id, queue=item.queue_type.value
                )
            )
            app.refresh_data()

    question = _("Reject task {task} ({title})?\nIt will not be published.").format(
        task=task_id[:8], title=row.get("title", "")
    )
    app.push_screen(Confirm(question), answered)
