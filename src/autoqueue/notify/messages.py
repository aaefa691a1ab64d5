"""What each notification says, in the sender's language: the task (its short id and title),
what happened, the error or the video's URL, and the command that acts on it. Built from the
event's payload alone (what the transition recorded), so a message reads the same whenever it
is sent, and times are shown in the home's zone."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autoqueue.i18n import _, queue_label
from autoqueue.kinds import EventKind
from autoqueue.timeutil import display_time

SHORT = 8  # a task's short id, as `tasks` and `logs` print it
MAX_ERROR = 600  # characters of an error quoted in a message


@dataclass(frozen=True)
class Message:
    """A notification's title and body; ``level`` is Apprise's notify type (a service may show
    it as a colour or an icon): info, success, warning or failure."""

    title: str
    body: str
    level: str = "info"


def render(kind: EventKind, payload: dict[str, Any], zone: str) -> Message:
    """The message of an event of ``kind``."""
    builders: dict[EventKind, Callable[[dict[str, Any], str], Message]] = {
        EventKind.FAILED: _failed,
        EventKind.PUBLISHED: _published,
        EventKind.PARKED: _parked,
        EventKind.REVIEW: _review,
        EventKind.DIGEST: _digest,
    }
    return builders[kind](payload, zone)


def test_message(home: str) -> Message:
    """``autoqueue notify test``'s message."""
    return Message(
        _("autoqueue: test notification"),
        _(
            "A test message from autoqueue on {host} (home {home}). If you read this, "
            "notifications to this address work."
        ).format(host=socket.gethostname(), home=home),
    )


def _task(payload: dict[str, Any]) -> tuple[str, str]:
    """The task's short id and its title, quoted."""
    short = str(payload.get("task_id") or "?")[:SHORT]
    return short, "“{title}”".format(title=payload.get("title") or "")


def _error(payload: dict[str, Any]) -> str:
    text = " ".join(str(payload.get("error") or "").split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _stage(payload: dict[str, Any]) -> str:
    return queue_label(str(payload.get("stage") or "?"))


def _failed(payload: dict[str, Any], zone: str) -> Message:
    short, title = _task(payload)
    reasons = {
        "permanent": _("a permanent error"),
        "retries": _("its retries are used up"),
        "crashes": _("autoqueue lost it too many times in a row"),
    }
    reason = reasons.get(str(payload.get("reason")), _("a permanent error"))
    lines = [
        _("Task {short} {title} failed at the {stage} stage ({reason}).").format(
            short=short, title=title, stage=_stage(payload), reason=reason
        ),
        _("Error: {error}").format(error=_error(payload)),
        _("Retry it: autoqueue retry {short}").format(short=short),
        _("Details: autoqueue show {short}").format(short=short),
    ]
    return Message(
        _("❌ {short} {title} failed").format(short=short, title=title),
        "\n".join(lines),
        "failure",
    )


def _published(payload: dict[str, Any], zone: str) -> Message:
    short, title = _task(payload)
    url = payload.get("url")
    if url:
        said = _("Task {short} {title} is published: {url}").format(
            short=short, title=title, url=url
        )
    else:
        said = _(
            "Task {short} {title} finished its run; its youtube stage gave no URL (the outbox "
            "handler leaves the video in outbox/ for you to upload)."
        ).format(short=short, title=title)
    lines = [said, _("Details: autoqueue show {short}").format(short=short)]
    return Message(
        _("✅ {short} {title} published").format(short=short, title=title),
        "\n".join(lines),
        "success",
    )


def _parked(payload: dict[str, Any], zone: str) -> Message:
    short, title = _task(payload)
    until = display_time(str(payload.get("until") or ""), zone)
    lines = [
        _(
            "Task {short} {title} waits at the {stage} stage until {until} ({zone}), without "
            "spending a retry: {error}"
        ).format(
            short=short,
            title=title,
            stage=_stage(payload),
            until=until,
            zone=zone,
            error=_error(payload),
        ),
        _("It goes on by itself then. Details: autoqueue show {short}").format(short=short),
    ]
    return Message(
        _("⏸ {short} {title} waits until {until}").format(short=short, title=title, until=until),
        "\n".join(lines),
        "warning",
    )


def _review(payload: dict[str, Any], zone: str) -> Message:
    """An item waiting for a person's review (the review feature records it, with the command
    that approves it in ``command``)."""
    short, title = _task(payload)
    lines = [
        _("Task {short} {title} waits for your review after its {stage} stage.").format(
            short=short, title=title, stage=_stage(payload)
        ),
        _("Look at it: autoqueue show {short}").format(short=short),
    ]
    if payload.get("command"):
        lines.append(_("Then: {command}").format(command=payload["command"]))
    return Message(
        _("👀 {short} {title} waits for your review").format(short=short, title=title),
        "\n".join(lines),
    )


def _digest(payload: dict[str, Any], zone: str) -> Message:
    published = [p for p in payload.get("published", []) if isinstance(p, dict)]
    failed = [f for f in payload.get("failed", []) if isinstance(f, dict)]
    now = payload.get("now") if isinstance(payload.get("now"), dict) else {}
    assert isinstance(now, dict)
    lines = [
        _("In the 24 hours to {until} ({zone}): {published} published, {failed} failed.").format(
            until=display_time(str(payload.get("until") or ""), zone),
            zone=zone,
            published=payload.get("published_count", len(published)),
            failed=payload.get("failed_count", len(failed)),
        )
    ]
    if published:
        lines.append(_("Published:"))
        for entry in published:
            short, title = _task(entry)
            lines.append(f"  {short} {title}" + (f": {entry['url']}" if entry.get("url") else ""))
    if failed:
        lines.append(_("Failed:"))
        for entry in failed:
            short, title = _task(entry)
            lines.append(
                "  "
                + _("{short} {title} at {stage}: {error} (autoqueue retry {short})").format(
                    short=short, title=title, stage=_stage(entry), error=_error(entry)
                )
            )
    more = int(payload.get("published_count", 0)) + int(payload.get("failed_count", 0))
    if more > len(published) + len(failed):
        lines.append(_("(and {count} more)").format(count=more - len(published) - len(failed)))
    lines.append(
        _("Now: {waiting} waiting, {processing} processing, {failed} failed.").format(
            waiting=now.get("waiting", 0),
            processing=now.get("processing", 0),
            failed=now.get("failed", 0),
        )
    )
    lines.append(_("Every failed item: autoqueue list failed"))
    return Message(
        _("📋 autoqueue: the day's summary, {day}").format(day=payload.get("day", "")),
        "\n".join(lines),
    )
