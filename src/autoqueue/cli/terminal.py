"""``autoqueue ui``: the queue's screen as a full-screen terminal app (Textual).

Ten tabs: the seven queue tabs with live counts (schedule … completed), every task, the log
viewer, and what waits for review (approve and reject keys). Keyboard first (the footer lists the
keys), the mouse works too, and it fits 80x24, so it runs over SSH. Every read and write goes
through the functions the commands use (``tasks``, ``repo``): the app has no SQL of its own and
no rule the command line lacks.
``autoqueue ui --web`` serves the same app to a browser through textual-serve (``ui_web``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.drivers.web_driver import WebDriver
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Select, Static, TabbedContent, TabPane

from autoqueue.cli import display, terminal_driver
from autoqueue.cli import terminal_review as review_keys
from autoqueue.cli import terminal_tables as tables
from autoqueue.cli.terminal_dialogs import AddTask, Confirm, Notice, TaskDetail
from autoqueue.errors import AutoqueueError
from autoqueue.i18n import N_, _
from autoqueue.kinds import ActionType, LogLevel, QueueType, Tab
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import reads
from autoqueue.repo.views import LogEntry
from autoqueue.store import db
from autoqueue.tasks.add import Added, AddRequest, add_task, prepare_add
from autoqueue.tasks.control import delete_task, pause_task, resume_task, retry_task, stop_task
from autoqueue.tasks.review import waiting
from autoqueue.tasks.views import TaskState, TaskSummary, list_tasks, task_status
from autoqueue.workspace import Workspace

ROW_LIMIT = 200
LOG_LIMIT = 200
ANY = "any"


class AutoqueueApp(App[None]):
    """The queue's screen. ``now`` is the clock, as everywhere in autoqueue."""

    TITLE = "autoqueue"
    QUEUE_PANES = frozenset(tab.value for tab in Tab)
    ENABLE_COMMAND_PALETTE = False  # its footer key would push the app's own keys off at 80x24
    CSS = """
    Screen { layout: vertical; }
    TabbedContent { height: 1fr; }
    DataTable { height: 1fr; }
    #row-detail { height: auto; max-height: 5; color: $text-muted; padding: 0 1; }
    #log-filters { height: auto; }
    #log-filters Select { width: 1fr; }
    #status { height: 1; padding: 0 1; background: $boost; }
    Confirm, Notice, AddTask { align: center middle; }
    #dialog { width: 72; max-width: 100%; height: auto; border: thick $primary; padding: 1 2;
              background: $surface; }
    #form { width: 72; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
            padding: 0 1; background: $surface; }
    #buttons { height: auto; margin-top: 1; }
    .row { height: auto; }
    .row Select { width: 1fr; }
    #buttons Button { margin-right: 2; }
    #notice { margin: 1 0; }
    #add-error { height: auto; }
    """

    def __init__(
        self,
        workspace: Workspace,
        tz: str,
        now: Callable[[], datetime],
        *,
        refresh_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.tz = tz
        self.now = now
        self.refresh_seconds = refresh_seconds
        self.conn: db.Connection | None = None
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.tasks: list[TaskSummary] = []
        self.log_entries: list[LogEntry] = []
        self._width = 0
        self._closed = False
        self._logs_stale = True  # the log table shows other filters' rows: fill it again
        # Keys, with descriptions in the user's language (class-level BINDINGS would be
        # translated once, at import, before the language is known).
        for keys, action, description in (
            ("q", "quit", N_("quit")),
            ("a", "add", N_("add")),
            ("enter", "open", N_("detail")),
            ("r", "retry", N_("retry")),
            ("s", "stop", N_("stop")),
            ("p", "pause", N_("pause/resume")),
            ("d", "delete", N_("delete")),
            ("o", "approve", N_("approve")),
            ("x", "reject", N_("reject")),
        ):
            self.bind(keys, action, description=_(description))
        for number, pane in enumerate(self.pane_ids(), start=1):
            self.bind(str(number % 10), f"show_tab('{pane}')", show=False)  # the tenth: 0

    @property
    def live(self) -> bool:
        """False while the app is being taken down: messages still in flight then (a timer's
        tick, a row highlighted) find no screen to draw on, and do nothing."""
        return not self._closed and bool(self.screen_stack)

    @property
    def main_screen(self) -> Screen[Any]:
        """The tabs' screen, under any dialog or task screen on top of it."""
        return self.screen_stack[0]

    # -- data through the tasks layer ------------------------------------------------------

    @staticmethod
    def pane_ids() -> list[str]:
        return [tab.value for tab in Tab] + ["tasks", "logs", "review"]

    def call(self, work: Callable[[db.Connection], Any]) -> Any:
        """Run ``work`` on the app's connection; a refused action or a busy database becomes a
        message on the status line, never a crash."""
        result, error = self.attempt(work)
        if error is not None:
            self.say(error, error=True)
        return result

    def attempt(self, work: Callable[[db.Connection], Any]) -> tuple[Any, str | None]:
        """Run ``work`` on the app's connection: its result, or None and why it was refused
        (or what the database said)."""
        try:
            if self.conn is None:
                self.conn = self.workspace.connect(create=False)
            return work(self.conn), None
        except AutoqueueError as exc:
            return None, str(exc)
        except db.Error as exc:
            if self.conn is not None:  # a server that went away: connect afresh next time
                with suppress(*db.Error):
                    self.conn.close()
                self.conn = None
            return None, _("database error: {error}").format(error=exc)

    def add_task(self, request: AddRequest) -> tuple[Added | None, str | None]:
        """Add a task as `autoqueue add` does: the task added, or why it was refused."""

        def work(conn: db.Connection) -> Added:
            now = self.now()
            prepared = prepare_add(self.workspace, request, now)
            return add_task(self.workspace, conn, prepared, now)

        added, error = self.attempt(work)
        return added, error

    def say(self, message: str, *, error: bool = False) -> None:
        """The status line under the tables, and a toast when another screen is on top."""
        self.main_screen.query_one("#status", Static).update(
            Text(message, style="red" if error else "")
        )
        if self.screen is not self.main_screen:
            self.notify(message, severity="error" if error else "information")

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            for tab in Tab:
                with TabPane(display.tab_label(tab), id=tab.value):
                    yield DataTable(id=f"table-{tab.value}", cursor_type="row", zebra_stripes=True)
            with TabPane(_("tasks"), id="tasks"):
                yield DataTable(id="table-tasks", cursor_type="row", zebra_stripes=True)
            with TabPane(_("logs"), id="logs"):
                with Horizontal(id="log-filters"):
                    yield Select(
                        [(_("level: any"), ANY)]
                        + [(level.value, level.value) for level in LogLevel],
                        value=ANY,
                        allow_blank=False,
                        id="filter-level",
                    )
                    yield Select(
                        [(_("queue: any"), ANY)] + [(q.value, q.value) for q in QueueType],
                        value=ANY,
                        allow_blank=False,
                        id="filter-queue",
                    )
                    yield Select(
                        [(_("action: any"), ANY)] + [(a.value, a.value) for a in ActionType],
                        value=ANY,
                        allow_blank=False,
                        id="filter-action",
                    )
                yield DataTable(id="table-logs", cursor_type="row")
            with TabPane(_("review"), id="review"):
                yield DataTable(id="table-review", cursor_type="row", zebra_stripes=True)
        yield Static(id="row-detail")
        yield Static(id="status")
        yield Footer()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return terminal_driver.PipeDriver if driver is WebDriver else driver

    def on_mount(self) -> None:
        self.sub_title = self.workspace.location
        if self._width != self.size.width:
            self._build_columns(self.size.width)
        self.refresh_data()
        self.set_interval(self.refresh_seconds, self.refresh_data)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._build_columns(event.size.width)
            self.refresh_data()

    def _build_columns(self, width: int) -> None:
        self._width = width
        self.rows, self.tasks, self.log_entries = {}, [], []  # every table is filled again
        tables.build_columns(self.main_screen, width)

    def on_unmount(self) -> None:
        self._closed = True
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- refreshing ------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Read the counts, the visible tab's rows and the logs, and redraw what changed."""
        if not self.live:
            return
        try:
            self._refresh_data()
        except NoMatches:
            # The timer fired while the screen is being built or taken down: the next tick,
            # if there is one, finds it whole.
            return

    def _refresh_data(self) -> None:
        # Every count, and the tasks (their tab's label counts them; pause and delete act on
        # them), but only the visible tab's rows: a tab is filled when it is shown.
        pane = self.active_pane()
        shown = Tab(pane) if pane in self.QUEUE_PANES else None
        read = self.call(
            lambda conn: (
                reads.tab_counts(conn),
                reads.tab_rows(conn, shown, ROW_LIMIT) if shown is not None else None,
                list_tasks(conn),
                logs_repo.query(conn, tables.log_filter(self.main_screen, LOG_LIMIT, ANY))
                if pane == "logs"
                else None,
                waiting(self.workspace, conn),
            )
        )
        if read is None:
            return
        counts, rows, tasks, entries, held = read
        tabs = self.main_screen.query_one("#tabs", TabbedContent)
        for tab, count in counts.items():
            tabs.get_tab(tab.value).label = display.tab_label(tab) + f" {count}"
        tabs.get_tab("tasks").label = _("tasks") + f" {len(tasks)}"
        tabs.get_tab("review").label = _("review") + f" {len(held)}"
        review_keys.show_tab_while_needed(tabs, bool(held), active=pane == "review")
        held_rows = [{**item.as_json(), "id": item.item_id} for item in held]
        if held_rows != self.rows.get("review"):
            self.rows["review"] = held_rows
            table = self.main_screen.query_one("#table-review", DataTable)
            tables.fill_review(table, held, self.tz)
        if shown is not None and rows != self.rows.get(pane):
            self.rows[pane] = rows
            self._fill_queue(shown, rows)
        if tasks != self.tasks:
            self.tasks = tasks
            self._fill_tasks()
        if entries is not None and (
            self._logs_stale or [e.id for e in entries] != [e.id for e in self.log_entries]
        ):
            self._logs_stale = False
            self.log_entries = entries
            self._fill_logs()
        self._show_row_detail()
        if isinstance(self.screen, TaskDetail):
            self.screen.refresh_detail()

    def _fill_queue(self, tab: Tab, rows: Sequence[Mapping[str, Any]]) -> None:
        table = self.main_screen.query_one(f"#table-{tab.value}", DataTable)
        tables.fill_queue(table, rows, self.tz)

    def _fill_tasks(self) -> None:
        tables.fill_tasks(self.main_screen.query_one("#table-tasks", DataTable), self.tasks)

    def _fill_logs(self) -> None:
        table = self.main_screen.query_one("#table-logs", DataTable)
        tables.fill_logs(table, self.log_entries, self.tz)

    # -- the selected row ------------------------------------------------------------------

    def active_pane(self) -> str:
        return str(self.main_screen.query_one("#tabs", TabbedContent).active)

    def selected(self) -> dict[str, Any] | None:
        """The highlighted row of the visible tab: a queue item, a task, or a log entry, as a
        mapping with at least ``task_id`` and ``title``."""
        pane = self.active_pane()
        table = self.main_screen.query_one(f"#table-{pane}", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if pane == "tasks":
            task = self.selected_task()
            return None if task is None else {"task_id": task.id, "title": task.title}
        if pane == "logs":
            entries = [e for e in self.log_entries if str(e.id) == key]
            if not entries:
                return None
            return {"task_id": entries[0].task_id, "title": entries[0].message}
        rows = [r for r in self.rows.get(pane, []) if str(r["id"]) == key]
        return rows[0] if rows else None

    def selected_task(self) -> TaskSummary | None:
        """The highlighted task when the tasks tab is shown."""
        if self.active_pane() != "tasks":
            return None
        table = self.main_screen.query_one("#table-tasks", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((task for task in self.tasks if task.id == key), None)

    def _show_row_detail(self) -> None:
        if not self.live:
            return
        row = self.selected()
        text = Text()
        if row is not None:
            text.append(f"{row['task_id']}  ", style="bold")
            text.append(str(row.get("title", "")))
            if row.get("error_message"):
                text.append("\n" + " ".join(str(row["error_message"]).split()), style="red")
            task = self.selected_task()
            if task is not None:
                for schedule in task.schedules:
                    text.append("\n" + display.schedule_text(schedule, pending=task.pending))
                if task.last_error and task.state is TaskState.FAILED:
                    text.append("\n" + " ".join(task.last_error.split()), style="red")
        self.main_screen.query_one("#row-detail", Static).update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_row_detail()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        if not self.live:
            return
        self.refresh_data()  # the tab now shown was not read while hidden
        self.refresh_bindings()  # the review tab has keys of its own
        pane = self.active_pane()
        self.main_screen.query_one(f"#table-{pane}", DataTable).focus()

    @on(Select.Changed)
    def _filter_changed(self) -> None:
        self._logs_stale = True
        self.refresh_data()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    # -- actions ---------------------------------------------------------------------------

    def action_show_tab(self, pane: str) -> None:
        if pane == "review" and not self.rows.get("review"):
            self.say(_("nothing waits for review"))  # its tab is hidden
            return
        self.main_screen.query_one("#tabs", TabbedContent).active = pane

    def _task_or_say(self) -> dict[str, Any] | None:
        row = self.selected()
        if row is None:
            self.say(_("no row selected"), error=True)
        return row

    def action_open(self) -> None:
        row = self._task_or_say()
        if row is not None:
            self.push_screen(TaskDetail(str(row["task_id"])))

    def action_retry(self) -> None:
        row = self._task_or_say()
        if row is None:
            return
        item = self.call(lambda conn: retry_task(conn, str(row["task_id"]), self.now()))
        if item is not None:
            self.say(_("item {item} is waiting again").format(item=item))
            self.refresh_data()

    def action_stop(self) -> None:
        row = self._task_or_say()
        if row is None:
            return
        task_id = str(row["task_id"])

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            result = self.call(lambda conn: stop_task(self.workspace, conn, task_id, self.now()))
            if result is None:
                return
            self.refresh_data()
            title = _("Stopped {task}").format(task=task_id[:8])
            self.push_screen(Notice(title, [*display.stop_lines(result), *result.not_killed]))

        self.push_screen(
            Confirm(_("Stop task {task} ({title})?").format(task=task_id[:8], title=row["title"])),
            answered,
        )

    def action_pause(self) -> None:
        """Pause a task whose schedules are on; resume one whose schedules are off."""
        row = self._task_or_say()
        if row is None:
            return
        task_id = str(row["task_id"])
        status = self.call(lambda conn: task_status(conn, task_id))
        if status is None:
            return
        if status[1]:
            paused = self.call(lambda conn: pause_task(conn, task_id, self.now()))
            if paused is not None:
                self.say(_("paused {n} schedule(s)").format(n=paused))
        else:
            resumed = self.call(lambda conn: resume_task(conn, task_id, self.now()))
            if resumed is not None:
                self.say(
                    _("resumed: {schedules}").format(
                        schedules="; ".join(display.schedule_text(s) for s in resumed)
                    )
                )
        self.refresh_data()

    def action_delete(self) -> None:
        row = self._task_or_say()
        if row is None:
            return
        task_id = str(row["task_id"])
        status = self.call(lambda conn: task_status(conn, task_id))
        if status is None:
            return
        question = _("Delete task {task} ({title}) and its files?").format(
            task=task_id[:8], title=row["title"]
        )
        if status[0] is TaskState.RUNNING:
            question += "\n" + _("A stage of it is running: it is stopped first.")

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            deleted = self.call(
                lambda conn: delete_task(self.workspace, conn, task_id, self.now(), stop_first=True)
            )
            if deleted is not None:
                self.say(_("deleted task {task}").format(task=task_id[:8]))
                if isinstance(self.screen, TaskDetail):
                    self.pop_screen()
                self.refresh_data()

        self.push_screen(Confirm(question), answered)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Approve and reject are the review tab's keys: the footer shows them only there."""
        if action in ("approve", "reject"):
            return self.live and self.active_pane() == "review"
        return True

    def action_approve(self) -> None:
        review_keys.approve(self, self._task_or_say())

    def action_reject(self) -> None:
        review_keys.reject(self, self._task_or_say())

    def action_add(self) -> None:
        def added(result: Added | None) -> None:
            if result is not None:  # None: cancelled (a refusal keeps the form open)
                self.say(_("added task {task}").format(task=result.task_id[:8]))
                self.refresh_data()

        self.push_screen(AddTask(), added)
