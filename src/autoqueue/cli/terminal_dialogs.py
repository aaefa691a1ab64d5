"""The terminal app's dialogs and screens (``autoqueue ui``): a yes/no question, a notice, the
add form, and one task in full."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from autoqueue.cli import display
from autoqueue.i18n import _
from autoqueue.kinds import MediaMode, RepeatType
from autoqueue.tasks.add import Added, AddRequest
from autoqueue.tasks.views import show_task


class Confirm(ModalScreen[bool]):
    """A yes/no question; Enter or y says yes, Escape or n says no."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("y", "answer(True)", show=False),
        Binding("n,escape", "answer(False)", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(_("Yes (y)"), id="yes", variant="error")
                yield Button(_("No (n)"), id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class Notice(ModalScreen[None]):
    """A result to read, such as the processes a stop killed; any of Enter or Escape closes it."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape,enter,q", "close", show=False)]

    def __init__(self, title: str, lines: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield Static("\n".join(self.lines), id="notice")
            yield Button(_("Close"), id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed)
    def _pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def _choices(values: Sequence[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class AddTask(ModalScreen[Added | None]):
    """The add form: the fields `autoqueue add` takes most often; the same validation. A refused
    add keeps the form open, with what was typed and the whole reason under it."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield Label(Text(_("Add a task"), style="bold"))
            yield Input(placeholder=_("title"), id="title")
            with Horizontal(classes="row"):
                yield Select(
                    _choices(["shortform", "longform", "product"]),
                    value="shortform",
                    allow_blank=False,
                    id="type",
                )
                yield Select(
                    _choices([mode.value for mode in MediaMode]),
                    value=MediaMode.CRAWL.value,
                    allow_blank=False,
                    id="media_mode",
                )
                yield Select(
                    [(_(display.REPEAT_LABELS[r.value]), r.value) for r in RepeatType],
                    value=RepeatType.ONCE.value,
                    allow_blank=False,
                    id="repeat",
                )
            yield Input(placeholder=_("first run: YYYY-MM-DD HH:MM (empty: now)"), id="at")
            yield Input(placeholder=_("time zone, e.g. Asia/Seoul (empty: default)"), id="tz")
            yield Static(id="add-error")
            with Horizontal(id="buttons"):
                yield Button(_("Add"), id="add", variant="primary")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _choice(self, widget_id: str) -> str:
        return str(self.query_one(f"#{widget_id}", Select).value)

    @on(Button.Pressed, "#add")
    @on(Input.Submitted)
    def _submit(self) -> None:
        from autoqueue.cli.terminal import AutoqueueApp

        app = self.app
        assert isinstance(app, AutoqueueApp)
        added, error = app.add_task(self._request())
        if added is not None:
            self.dismiss(added)
            return
        shown = self.query_one("#add-error", Static)
        shown.update(Text(error or "", style="red"))
        shown.scroll_visible(animate=False)

    def _request(self) -> AddRequest:
        """What the form holds, as `autoqueue add` would be asked."""
        return AddRequest(
            title=self.query_one("#title", Input).value,
            type=self._choice("type"),
            media_mode=self._choice("media_mode"),
            at=self._value("at") or None,
            repeat=self._choice("repeat"),
            tz=self._value("tz") or None,
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class TaskDetail(Screen[None]):
    """One task: its schedules, queue history, outputs and recent logs, with the task's keys."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id
        # Bound here rather than in BINDINGS, so that the description is in the user's language.
        self._bindings.bind("escape,backspace", "app.pop_screen", _("back"))

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_detail()

    def refresh_detail(self) -> None:
        from autoqueue.cli.terminal import AutoqueueApp

        app = self.app
        assert isinstance(app, AutoqueueApp)
        detail = app.call(lambda conn: show_task(app.workspace, conn, self.task_id))
        if detail is None:  # deleted meanwhile, or an error the app already showed
            self.app.pop_screen()
            return
        from autoqueue.cli.tables import task_detail_view

        self.query_one("#detail", Static).update(task_detail_view(detail, app.tz))
