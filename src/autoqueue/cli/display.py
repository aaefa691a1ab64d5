"""Rendering: tables for people, ``--json`` (database column names) for scripts. The read
commands' tables and every error and warning line are :mod:`autoqueue.cli.grid`'s, written
without rich (ARCHITECTURE.md "Fast reads"); the other commands' screens are rich's."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from autoqueue.cli.grid import Grid, Line, cells, fit, to_rich, write
from autoqueue.i18n import N_, _, queue_label
from autoqueue.timeutil import display_time

if TYPE_CHECKING:
    from rich.console import Console

    from autoqueue.kinds import Tab
    from autoqueue.repo.views import Content, LogEntry
    from autoqueue.tasks.control import StopResult
    from autoqueue.tasks.views import ScheduleView, TaskSummary

# rich is imported on first use: a cron tick that has nothing to print does not pay for it.


@cache
def console() -> Console:
    """The stdout console for tables and live displays."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        # Piped into a file or a pager: keep whole rows rather than squeezing them into 80
        # columns (COLUMNS, when set, says how wide to be).
        out.width = 200
    return out


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _table(title: str) -> Any:
    from rich.table import Table

    return Table(title=title, show_edge=False)


def emit_json(value: Any, *, lines: bool = False) -> None:
    """Print ``value`` as JSON on stdout (UTF-8, not escaped); ``lines``: one compact line."""
    indent = None if lines else 2
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=indent, default=str) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """One red line on stderr (several when the message has several, e.g. one per config field)."""
    prefix = _("error:")
    write(
        (Line(((prefix, "red"), (" " + line, ""))) for line in message.splitlines() or [""]),
        sys.stderr,
        whole=True,
    )


def failure(exc: BaseException) -> int | None:
    """Say on stderr, in one line, why a command could not go on, and return its exit code;
    None for an exception that is a bug (its traceback is wanted). Ours, the database's, a
    number too large, the OS's own words for a full disk or a folder we may not write."""
    from autoqueue.errors import AutoqueueError
    from autoqueue.store import db as db_errors

    if isinstance(exc, AutoqueueError):
        error(str(exc))
        return exc.exit_code
    if isinstance(exc, db_errors.Error):
        error(_("database error: {error}").format(error=exc))
        return 1
    if isinstance(exc, OverflowError):
        error(_("a number is too large: {error}").format(error=exc))
        return 2
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if exc.filename:
            error(_("cannot use {path}: {reason}").format(path=exc.filename, reason=reason))
        else:
            error(_("cannot go on: {reason}").format(reason=reason))
        return 1
    return None


def warning(message: str) -> None:
    prefix = _("warning:")
    write([Line(((prefix, "yellow"), (" " + message, "")))], sys.stderr, whole=True)


def info(message: str) -> None:
    """A plain line on stdout."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def tab_label(tab: Tab) -> str:
    """A tab's name in the user's language."""
    return queue_label(tab.value)


def pad_cells(text: str, width: int, *, cut: bool = False) -> str:
    """``text`` padded to ``width`` terminal cells (a Hangul syllable takes two, so ``str``'s
    padding, which counts characters, would push the next column out); ``cut``: exactly
    ``width`` cells, longer text cut."""
    if cut or cells(text) < width:
        return fit(text, width)
    return text


def _clip(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def tab_counts(counts: Mapping[Tab, int]) -> None:
    table = Grid("autoqueue")
    table.column(_("tab"))
    table.column(_("items"), justify="right")
    for tab, count in counts.items():
        table.row(tab_label(tab), str(count))
    write([table])


def queue_rows(tab: Tab, rows: Sequence[Mapping[str, Any]], tz: str) -> None:
    """A tab of the queue. The item, the task's short id (any unique start of it names the task),
    the queue, the status and the retry count never fold away; the title takes what is left and
    wraps, with the error on a line of its own under it."""
    if not rows:
        info(_("{tab}: empty").format(tab=tab_label(tab)))
        return
    table = Grid(f"{tab_label(tab)} ({len(rows)})")
    table.column(_("item"), wrap=False, justify="right")
    table.column(_("task"), wrap=False)
    table.column(_("title / error"))
    table.column(_("stage"), wrap=False)
    table.column(_("retry"), wrap=False)
    table.column(_("when"), wrap=False)
    for row in rows:
        title = [(str(row["title"]), "")]
        if row["error_message"]:
            title.append((_clip(row["error_message"], 160), "red"))
        when = row["next_retry_at"] if row["status"] == "waiting" else None
        table.row(
            str(row["id"]),
            str(row["task_id"])[:8],
            title,
            stage_text(row),
            f"{row['retry_count']}/{row['max_retry']}",
            display_time(when or row["updated_at"], tz)[5:],  # MM-DD HH:MM
        )
    write([table])


ACTION_LABELS = {
    "start": N_("start"),
    "progress": N_("progress"),
    "complete": N_("complete"),
    "fail": N_("fail"),
    "retry": N_("retry"),
    "stop": N_("stop"),
    "skip": N_("skip"),
    "pause": N_("pause"),
    "resume": N_("resume"),
}


def where_text(entry: LogEntry) -> str:
    """A log row's stage and action, ``script/fail``, in the user's language."""
    parts = []
    if entry.queue_type is not None:
        parts.append(queue_label(entry.queue_type.value))
    if entry.action_type is not None:
        parts.append(_(ACTION_LABELS.get(entry.action_type.value, entry.action_type.value)))
    return "/".join(parts)


def log_rows(entries: Iterable[LogEntry], tz: str) -> None:
    write(log_line(entry, display_time(entry.created_at, tz), 18, cut=False) for entry in entries)


def content_rows(contents: Sequence[Content], tz: str) -> None:
    """The content library. The id, the task's short id, the status and the date never fold
    away; the title wraps, with the video's path under it."""
    if not contents:
        info(_("no contents yet"))
        return
    table = Grid(_("contents"))
    table.column(_("id"), wrap=False, justify="right")
    table.column(_("task"), wrap=False)
    table.column(_("type"), wrap=False)
    table.column(_("title / video"))
    table.column(_("status"), wrap=False)
    table.column(_("updated"), wrap=False)
    for content in contents:
        title = [(_clip(content.title, 120), "")]
        if content.video_path:
            title.append((content.video_path, "dim"))
        status = content.status + (" " + _("published") if content.published else "")
        table.row(
            str(content.id)[:8],
            (content.task_id or "-")[:8],
            content.type,
            title,
            status,
            display_time(content.updated_at, tz)[5:],
        )
    write([table])


def stop_lines(result: StopResult) -> list[str]:
    """What a stop did, as `stop` prints it and the terminal app
    shows it: the counts, then each process it killed."""
    lines = [
        _(
            "stopped {stopped_processing} processing item(s), deleted {deleted_waiting} waiting "
            "item(s), deactivated {deactivated_schedules} schedule(s)"
        ).format(
            stopped_processing=result.stopped_processing,
            deleted_waiting=result.deleted_waiting,
            deactivated_schedules=result.deactivated_schedules,
        )
    ]
    lines += [
        _("killed {name} (pid {pid})").format(name=killed["name"], pid=killed["pid"])
        for killed in result.killed_processes
    ]
    if not result.killed_processes:
        lines.append(_("no process of this task was running"))
    return lines


def log_line(entry: LogEntry, when: str, where_width: int, *, cut: bool) -> Line:
    """One log row on one line: time, level, task, stage/action keep their width; ``cut``: the
    message is cut at the edge."""
    level = entry.level.value if entry.level else "-"
    where = pad_cells(where_text(entry), where_width, cut=cut)
    return Line(
        (
            (f"{when} ", ""),
            (f"{level:5}", LEVEL_STYLES.get(level, "" if cut else "white")),
            (f" {entry.task_id[:8]} {where} {entry.message}", ""),
        ),
        cut=cut,
    )


def short_log_line(entry: LogEntry, tz: str) -> Line:
    """A log row as ``show`` and ``watch`` list the latest: the time without its year, and
    the message cut at the edge."""
    return log_line(entry, display_time(entry.created_at, tz)[5:], 16, cut=True)


REPEAT_LABELS = {
    "once": N_("once"),
    "daily": N_("daily"),
    "weekly": N_("weekly"),
    "monthly": N_("monthly"),
}
STATUS_LABELS = {
    "waiting": N_("waiting"),
    "processing": N_("processing"),
    "completed": N_("completed"),
    "failed": N_("failed"),
}


def schedule_text(schedule: ScheduleView, *, pending: bool = False) -> str:
    """``daily, next 2026-11-27 09:00 Asia/Seoul`` (the schedule's own zone, named), with
    ``inactive`` when it will not run. ``pending``: the task has a run waiting or running."""
    text = _(REPEAT_LABELS.get(schedule.repeat, schedule.repeat))
    if schedule.next_run_local:
        text = _("{repeat}, next {when} {tz}").format(
            repeat=text, when=schedule.next_run_local, tz=schedule.tz
        )
    elif pending and not schedule.active:
        # Enqueueing its one occurrence switched the schedule off, but that run is still to come.
        return _("{repeat}, queued").format(repeat=text)
    if not schedule.active:
        text = _("{schedule} (inactive)").format(schedule=text)
    return text


def stage_text(row: Mapping[str, Any]) -> str:
    """A queue item's stage and status, ``script failed``, in the user's language; an item
    held for review says so."""
    queue, status = str(row["queue_type"]), str(row["status"])
    if status == "waiting" and row.get("review_since"):
        return _("{queue} waiting for review").format(queue=queue_label(queue))
    return _("{queue} {status}").format(
        queue=queue_label(queue), status=_(STATUS_LABELS.get(status, status))
    )


STATE_LABELS = {
    "running": N_("running"),
    "review": N_("waiting for review"),
    "waiting": N_("waiting"),
    "failed": N_("failed"),
    "paused": N_("paused"),
    "done": N_("done"),
}


OUTCOME_LABELS = {
    "completed": N_("completed"),
    "retry": N_("retry"),
    "failed": N_("failed"),
    "parked": N_("parked"),
    "stopped": N_("stopped"),
    "requeued": N_("requeued"),
    "lost": N_("lost"),
    "adopted": N_("adopted"),
}


def outcome_label(outcome: object) -> str:
    """How a tick's item ended (``completed``, ``retry``...) in the user's language."""
    return _(OUTCOME_LABELS.get(str(outcome), str(outcome)))


def state_label(state: str) -> str:
    return _(STATE_LABELS.get(state, state))


STATE_STYLES = {
    "running": "cyan",
    "review": "magenta",
    "waiting": "",
    "failed": "red",
    "paused": "yellow",
    "done": "green",
}


def task_rows(tasks: Sequence[TaskSummary], tz: str) -> None:
    """``autoqueue tasks``: one row per task. The short id (any unique start of it names the
    task), the state and the schedule never fold away; titles wrap."""
    table = Grid(_("{count} task(s)").format(count=len(tasks)))
    table.column(_("id"), wrap=False)
    table.column(_("title"))
    table.column(_("kind"), wrap=False)
    table.column(_("schedules"))
    table.column(_("state"), wrap=False)
    table.column(_("last run"))
    for task in tasks:
        state = task.state.value
        extra = task.youtube_url or (task.last_error if state == "failed" else "")
        title = [(task.title, "")] + ([(_clip(extra, 80), "dim")] if extra else [])
        table.row(
            task.id[:8],
            title,
            f"{task.type}/{task.media_mode}",
            schedules_text(task),
            (state_label(state), STATE_STYLES.get(state, "")),
            display_time(task.last_run, tz) or "-",
        )
    write([table])


def schedules_text(task: TaskSummary) -> str:
    """A listed task's schedules on one line, as ``tasks`` and the terminal app show them."""
    shown = "; ".join(schedule_text(s, pending=task.pending) for s in task.schedules)
    return shown or "-"


def _program(row: Mapping[str, Any]) -> str:
    """What a processing item runs: the stage program and its attempt's supervisor pid."""
    name = row.get("stage_process_name") or ""
    pid = row.get("stage_pid")
    if not pid:
        return str(name)
    return _("{name} (supervisor pid {pid})").format(name=name, pid=pid)


LEVEL_STYLES = {"info": "cyan", "warn": "yellow", "error": "red"}


def dashboard(
    counts: Mapping[Tab, int],
    processing: Sequence[Mapping[str, Any]],
    recent: Iterable[LogEntry],
    tz: str,
) -> Any:
    """The ``watch`` screen: tab counts, the items being processed, the latest log rows."""
    from rich.console import Group
    from rich.text import Text

    tabs = _table("autoqueue")
    for tab in counts:
        tabs.add_column(tab_label(tab), justify="right")
    tabs.add_row(*(str(count) for count in counts.values()))
    running = _table(_("processing"))
    running.add_column(_("queue"), no_wrap=True)
    running.add_column(_("task"), no_wrap=True)
    running.add_column(_("title"), no_wrap=True, overflow="ellipsis", ratio=1)
    running.add_column(_("since"), no_wrap=True)
    running.add_column(_("program"), no_wrap=True, overflow="ellipsis", ratio=1)
    for row in processing:
        running.add_row(
            queue_label(str(row["queue_type"])),
            str(row["task_id"])[:8],
            escape(str(row["title"])),
            display_time(row["updated_at"], tz)[5:],
            escape(_program(row)),
        )
    # The log pane as lines, not a table: time, level, task and stage keep their width at any
    # terminal size, and the message is cut at the edge.
    lines: list[Any] = [Text(_("latest logs"), style="bold")]
    lines.extend(to_rich(short_log_line(entry, tz)) for entry in recent)
    logs = Group(*lines)
    return Group(tabs, running, logs)
