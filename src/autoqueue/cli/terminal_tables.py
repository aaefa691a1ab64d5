"""The terminal app's tables (``autoqueue ui``): their columns, sized to the terminal's width,
and their rows, refilled in place with the cursor kept on its row."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable

from autoqueue.cli import display
from autoqueue.i18n import N_, _, queue_label
from autoqueue.kinds import ActionType, LogLevel, QueueType, Tab
from autoqueue.repo.logs import LogFilter
from autoqueue.repo.views import LogEntry
from autoqueue.tasks.review import HeldItem
from autoqueue.tasks.views import TaskSummary
from autoqueue.timeutil import display_time

# (header, fixed width, share of the free width): the header is translated when shown.
QUEUE_COLUMNS = [
    (N_("item"), 5, 0),
    (N_("task"), 8, 0),
    (N_("title"), 0, 1),
    (N_("stage"), 18, 0),
    (N_("retry"), 5, 0),
    (N_("when"), 11, 0),
]
TASK_COLUMNS = [
    (N_("task"), 8, 0),
    (N_("title"), 0, 2),
    (N_("kind"), 15, 0),
    (N_("schedules"), 0, 3),
    (N_("state"), 7, 0),
]
REVIEW_COLUMNS = [
    (N_("task"), 8, 0),
    (N_("title / what to look at"), 0, 1),
    (N_("before"), 8, 0),
    (N_("since"), 11, 0),
]
LOG_COLUMNS = [
    (N_("time"), 11, 0),
    (N_("level"), 5, 0),
    (N_("task"), 8, 0),
    (N_("where"), 15, 0),
    (N_("message"), 0, 1),
]


def _short(task_id: object) -> str:
    return str(task_id)[:8]


def _fixed_width(label: str, size: int) -> int:
    """A fixed column's width: wide enough for its translated header, counted in terminal
    cells (``재시도`` is three characters but six cells); 0 stays 0 (a shared column)."""
    from rich.cells import cell_len

    return max(size, cell_len(_(label))) if size else 0


def build_columns(screen: Screen[Any], width: int) -> None:
    """Fixed columns keep their width; the title and message columns share what is left, so
    that no column is dropped at 80 columns."""
    specs = [(f"table-{tab.value}", QUEUE_COLUMNS) for tab in Tab]
    specs += [
        ("table-tasks", TASK_COLUMNS),
        ("table-review", REVIEW_COLUMNS),
        ("table-logs", LOG_COLUMNS),
    ]
    for table_id, columns in specs:
        table = screen.query_one(f"#{table_id}", DataTable)
        table.clear(columns=True)
        sized = [(label, _fixed_width(label, size), weight) for label, size, weight in columns]
        fixed = sum(column[1] for column in sized)
        weights = sum(column[2] for column in sized)
        # two cells of padding per column, the scroll bar, the borders
        free = width - fixed - 2 * len(columns) - 4
        for label, size, weight in sized:
            table.add_column(_(label), key=label, width=size or max(8, free * weight // weights))


@contextmanager
def refilling(table: DataTable[Any]) -> Iterator[None]:
    """Refill a table keeping the cursor on the same row key where it still exists, and on
    its neighbour where it went (the next row, or the previous one when it was the last):
    back at the top, a second ``d y`` would delete a task nobody looked at."""
    key, index = None, table.cursor_row
    if table.row_count and table.cursor_row < table.row_count:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    table.clear()
    yield
    if key is None or not table.row_count:
        return
    if key in [k.value for k in table.rows]:
        index = table.get_row_index(key)
    table.move_cursor(row=min(index, table.row_count - 1), animate=False)


def fill_queue(table: DataTable[Any], rows: Sequence[Mapping[str, Any]], tz: str) -> None:
    with refilling(table):
        for row in rows:
            waiting = row["status"] == "waiting"
            when = row["next_retry_at"] if waiting else None
            stage = Text(display.stage_text(row))
            if row["status"] == "failed":
                stage.stylize("red")
            elif row["status"] == "processing":
                stage.stylize("cyan")
            table.add_row(
                str(row["id"]),
                _short(row["task_id"]),
                str(row["title"]),
                stage,
                f"{row['retry_count']}/{row['max_retry']}",
                display_time(when or row["updated_at"], tz)[5:],
                key=str(row["id"]),
            )


def fill_tasks(table: DataTable[Any], tasks: Sequence[TaskSummary]) -> None:
    with refilling(table):
        for task in tasks:
            state = task.state.value
            style = display.STATE_STYLES.get(state, "")
            table.add_row(
                _short(task.id),
                task.title,
                f"{task.type}/{task.media_mode}",
                display.schedules_text(task),
                Text(display.state_label(state), style=style),
                key=task.id,
            )


def fill_logs(table: DataTable[Any], entries: Sequence[LogEntry], tz: str) -> None:
    with refilling(table):
        for entry in entries:  # newest first, as `autoqueue logs`
            level = entry.level.value if entry.level else "-"
            where = display.where_text(entry)
            table.add_row(
                display_time(entry.created_at, tz)[5:],
                Text(level, style=display.LEVEL_STYLES.get(level, "")),
                _short(entry.task_id),
                where,
                entry.message,
                key=str(entry.id),
            )


def fill_review(table: DataTable[Any], held: Sequence[HeldItem], tz: str) -> None:
    """What waits for review (``autoqueue review``): the video and thumbnail, or the script's
    first line, under the title."""
    with refilling(table):
        for item in held:
            look = item.to_look_at if item.before == "youtube" else list(item.script[1:2])
            table.add_row(
                _short(item.task_id),
                "  ".join([item.title, *look]),
                queue_label(item.before),
                display_time(item.since, tz)[5:],
                key=str(item.item_id),
            )


def log_filter(screen: Screen[Any], limit: int, any_value: str) -> LogFilter:
    """The log tab's filters as chosen in its three menus."""
    from textual.widgets import Select

    def chosen(widget_id: str) -> str | None:
        value = screen.query_one(f"#{widget_id}", Select).value
        return None if value in (any_value, Select.BLANK) else str(value)

    level, queue, action = chosen("filter-level"), chosen("filter-queue"), chosen("filter-action")
    return LogFilter(
        level=LogLevel(level) if level else None,
        queue_type=QueueType(queue) if queue else None,
        action=ActionType(action) if action else None,
        limit=limit,
    )
