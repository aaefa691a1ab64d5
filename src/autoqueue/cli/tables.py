"""One task in full as ``show`` and the terminal app's task screen print it, with where each of
its values came from; the tasks a batch file would add (``add --dry-run``); and what each day
used of YouTube's quota and the AI providers' caps (``usage``). No typer, no pydantic: ``show``
is a fast read (ARCHITECTURE.md "Fast reads")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autoqueue.cli.display import (
    _clip,
    _table,
    console,
    escape,
    schedule_text,
    short_log_line,
    stage_text,
)
from autoqueue.cli.grid import Grid, Line, to_rich, write
from autoqueue.i18n import N_, _
from autoqueue.timeutil import display_time

if TYPE_CHECKING:
    from autoqueue.tasks.batch import Planned
    from autoqueue.tasks.views import TaskDetail


def value_text(value: Any, tz: str) -> str:
    """A setting's value on one line: a list by commas, a table as key=value, a stored time in
    ``tz``, nothing as "-"."""
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    text = str(value)
    if len(text) == 19 and text[4] == "-" and text[10] == " ":  # a stored UTC time
        return display_time(text, tz)
    return text


def source_text(entry: Mapping[str, Any], tz: str) -> str:
    """Where a value came from, in words; a profile that says something else now, too."""
    source = entry.get("source")
    if source == "channel_profile":
        text = _("channel profile {name}").format(name=entry.get("profile", "?"))
        if "profile_now" in entry:
            text += " " + _("(it now says {value}: the task keeps what it took)").format(
                value=value_text(entry["profile_now"], tz)
            )
        return text
    labels = {"option": _("option"), "config": _("config"), "default": _("default")}
    return labels.get(str(source), str(source))


def settings_view(effective: Mapping[str, Mapping[str, Any]], tz: str) -> Grid:
    """``show``'s table of the task's effective values and where each came from."""
    table = Grid(_("settings (and where each came from)"))
    table.column(_("setting"), wrap=False)
    table.column(_("value"))
    table.column(_("from"))
    for key, entry in effective.items():
        table.row(key, value_text(entry.get("value"), tz), source_text(entry, tz))
    return table


def task_detail(detail: TaskDetail, tz: str) -> None:
    write(task_detail_blocks(detail, tz))


def task_detail_view(detail: TaskDetail, tz: str) -> Any:
    """:func:`task_detail_blocks` for the terminal app's task screen."""
    from rich.console import Group

    return Group(*(to_rich(block) for block in task_detail_blocks(detail, tz)))


def task_detail_blocks(detail: TaskDetail, tz: str) -> list[Grid | Line]:
    """``show`` and the terminal app's task screen: the task, its schedules, its queue history
    (item, stage and status with the error wrapped under, retries, times), its outputs, its
    settings with where each came from, its recent logs (one line each, newest first)."""
    task = detail.task
    blocks: list[Grid | Line] = [Line(((task.title, "bold"), (f"  {task.id}", "")))]
    blocks.append(
        _plain(
            _("type {type}, mediaMode {mode}, created {created}").format(
                type=task.type,
                mode=task.settings.get("mediaMode", "upload"),
                created=display_time(task.created_at, tz),
            )
        )
    )
    if task.last_error:
        blocks.append(Line(((_("last error:"), "red"), (f" {task.last_error}", ""))))
    if task.youtube_url:
        blocks.append(_plain(f"youtube: {task.youtube_url}"))
    for schedule in detail.schedules:
        blocks.append(
            _plain(
                _("schedule {id}: {text}, privacy {privacy}").format(
                    id=schedule.id,
                    text=schedule_text(schedule, pending=detail.pending),
                    privacy=schedule.privacy,
                )
            )
        )
    table = Grid(_("queue history"))
    table.column(_("item"), wrap=False, justify="right")
    table.column(_("stage / error"))
    table.column(_("retry"), wrap=False)
    table.column(_("created"), wrap=False)
    table.column(_("completed"), wrap=False)
    for item in detail.queue:
        stage = [(stage_text(item), "")]
        if item["error_message"]:
            stage.append((_clip(item["error_message"], 160), "red"))
        table.row(
            str(item["id"]),
            stage,
            f"{item['retry_count']}/{item['max_retry']}",
            display_time(item["created_at"], tz)[5:],
            display_time(item["completed_at"], tz)[5:] or "-",
        )
    blocks.append(table)
    outputs = detail.outputs
    present = [name for name in ("story", "video", "thumbnail") if getattr(outputs, name)]
    present += outputs.scene_images
    blocks.append(
        _plain(
            _("folder {folder}: {outputs}").format(
                folder=outputs.task_dir, outputs=", ".join(present) or _("no outputs yet")
            )
        )
    )
    if outputs.archived_runs:
        runs = ", ".join(outputs.archived_runs)
        blocks.append(_plain(_("archived runs: {runs}").format(runs=runs)))
    if detail.notifications:
        blocks.append(notifications_view(detail, tz))
    if detail.effective:
        blocks.append(settings_view(detail.effective, tz))
    blocks.append(Line(((_("recent logs (newest first)"), "bold"),)))
    blocks.extend(short_log_line(entry, tz) for entry in detail.logs)
    return blocks


NOTIFICATION_KINDS = {
    "failed": N_("failed"),
    "published": N_("published"),
    "parked": N_("parked"),
    "review": N_("waiting for review"),
    "digest": N_("daily digest"),
}
NOTIFICATION_STATES = {
    "pending": N_("to send"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "given_up": N_("given up"),
}


def notifications_view(detail: TaskDetail, tz: str) -> Grid:
    """``show``'s table of the task's latest notifications: what each told, whether it went,
    after how many tries, and the last error of a try that failed."""
    table = Grid(_("notifications (newest first)"))
    table.column(_("event"), wrap=False)
    table.column(_("sent?"), wrap=False)
    table.column(_("tries"), wrap=False, justify="right")
    table.column(_("recorded"), wrap=False)
    table.column(_("last error"))
    for sent in detail.notifications:
        state = _(NOTIFICATION_STATES.get(sent.status, sent.status))
        table.row(
            _(NOTIFICATION_KINDS.get(sent.kind, sent.kind)),
            (state, "red" if sent.status == "given_up" else ""),
            str(sent.attempts),
            display_time(sent.created_at, tz)[5:],
            (sent.last_error if sent.status != "sent" and sent.last_error else "", "red"),
        )
    return table


def _plain(text: str) -> Line:
    return Line(((text, ""),))


def batch_rows(rows: Sequence[Planned], tz: str) -> None:
    """``add --dry-run``: each task a batch would add, with its file line, first run (in the
    home's zone), repeat, channel and privacy."""
    table = _table(_("tasks that would be added (nothing was added)"))
    table.add_column(_("line"), justify="right", no_wrap=True)
    table.add_column(_("title"), ratio=1, overflow="fold")
    table.add_column(_("type"), no_wrap=True)
    table.add_column(_("first run"), no_wrap=True)
    table.add_column(_("repeat"), no_wrap=True)
    table.add_column(_("channel"), no_wrap=True)
    table.add_column(_("privacy"), no_wrap=True)
    for row in rows:
        table.add_row(
            str(row.line or "-"),
            escape(row.title),
            f"{row.type} / {row.media_mode}",
            display_time(row.next_run_at, tz),
            row.repeat,
            escape(row.channel or "-")
            + (f" ({escape(row.channel_profile)})" if row.channel_profile else ""),
            row.privacy,
        )
    console().print(table)


def usage_view(report: Mapping[str, Any]) -> None:
    """``usage``: per quota day, the YouTube units used and left and each channel's uploads and
    units; per spend day, each AI provider's requests and spend against its caps, and each
    channel's part."""
    youtube = report["youtube"]
    table = _table(
        _(
            "YouTube quota of project {project}: {quota} units a day; a quota day starts at "
            "midnight Pacific time ({start} in {zone})"
        ).format(
            project=youtube["project"],
            quota=f"{youtube['daily_quota']:,}",
            start=youtube["day_starts_local"],
            zone=report["zone"],
        )
    )
    for name in (_("quota day"), _("channel"), _("uploads"), _("units used"), _("units left")):
        table.add_column(name, no_wrap=True)
    for day in youtube["days"]:
        table.add_row(
            day["day"],
            _("all"),
            str(day["uploads"]),
            f"{day['units_used']:,}",
            f"{day['units_left']:,}",
        )
        for own in day["channels"]:
            table.add_row(
                "", _channel(own["channel"]), str(own["uploads"]), f"{own['units']:,}", ""
            )
    console().print(table)
    ai = report["ai"]
    table = _table(
        _("AI requests and spend; a spend day starts at midnight UTC ({start} in {zone})").format(
            start=ai["day_starts_local"], zone=report["zone"]
        )
    )
    for name in (
        _("spend day"), _("provider"), _("channel"), _("requests"), _("spend"),
        _("left of the caps"),
    ):  # fmt: skip
        table.add_column(name, no_wrap=True)
    for day in ai["days"]:
        if not day["providers"]:
            table.add_row(day["day"], "-", "", "0", "$0.00", "")
        for figures in day["providers"]:
            table.add_row(
                day["day"],
                figures["provider"],
                _("all"),
                str(figures["requests"]),
                f"${figures['spend']:.2f}",
                _caps_left(figures),
            )
            for own in figures["channels"]:
                table.add_row(
                    "",
                    "",
                    _channel(own["channel"]),
                    str(own["requests"]),
                    f"${own['spend']:.2f}",
                    "",
                )
    console().print(table)


def _channel(name: str | None) -> str:
    return escape(name) if name else _("(no channel)")


def _caps_left(figures: Mapping[str, Any]) -> str:
    parts = []
    if figures.get("requests_left") is not None:
        parts.append(_("{count} requests").format(count=figures["requests_left"]))
    if figures.get("budget_left") is not None:
        parts.append(f"${figures['budget_left']:.2f}")
    return ", ".join(parts) or _("no cap")
