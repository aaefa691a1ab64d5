"""Time handling: UTC storage text, user input in an IANA zone, durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autoqueue.errors import UsageError
from autoqueue.i18n import _

DB_FORMAT = "%Y-%m-%d %H:%M:%S"


def utcnow() -> datetime:
    """The current time, aware, in UTC, truncated to whole seconds (what the database stores)."""
    return datetime.now(UTC).replace(microsecond=0)


def to_db(moment: datetime) -> str:
    """Format an aware datetime as SQLite's UTC text, ``YYYY-MM-DD HH:MM:SS``."""
    if moment.tzinfo is None:
        raise ValueError(_("naive datetime given where an aware one is required"))
    # isoformat, not strftime(DB_FORMAT): SQLite's own text exactly (glibc's %Y does not pad
    # years below 1000; isoformat does), at a sixth of the cost, a few times per transition.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "seconds")


def from_db(text: str) -> datetime:
    """Parse SQLite's UTC text back into an aware datetime."""
    head = text[:19]
    if _CANONICAL.match(head):  # read without strptime, whose first use imports _strptime
        return datetime.fromisoformat(head).replace(tzinfo=UTC)
    return datetime.strptime(head, DB_FORMAT).replace(tzinfo=UTC)


# Epoch numbers above this are JavaScript milliseconds, not seconds (year 5138 in seconds).
_EPOCH_MILLISECONDS = 100_000_000_000


def parse_stored(value: object) -> datetime:
    """Read a stored time that another program may have written in another form: SQLite's own
    text, ISO 8601 (``T``, fractions, ``Z`` or an offset; no offset means UTC), or epoch seconds
    or milliseconds. Raises ValueError for anything else (an empty string, garbage)."""
    if isinstance(value, bool):
        raise ValueError(_("not a time: {value!r}").format(value=value))
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) > _EPOCH_MILLISECONDS else value
        try:
            return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0)
        except (OverflowError, OSError) as exc:
            raise ValueError(_("not a time: {value!r}").format(value=value)) from exc
    if not isinstance(value, str) or not value.strip():
        raise ValueError(_("not a time: {value!r}").format(value=value))
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("not a time: {value!r}").format(value=value)) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def normalise_stored(value: object) -> str | None:
    """A stored time in SQLite's own UTC text (None stays None); ValueError when unreadable."""
    if value is None:
        return None
    if isinstance(value, str) and _CANONICAL.match(value):
        return value
    return to_db(parse_stored(value))


_CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def zone(name: str) -> ZoneInfo:
    """Look up an IANA zone, raising a usage error for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            _("unknown time zone {name!r} (use an IANA name such as Asia/Seoul)").format(name=name)
        ) from exc


def local_zone_name() -> str:
    """The machine's IANA zone name, or UTC when it cannot be told."""
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
    except Exception:  # tzlocal raises several kinds on odd systems; UTC is a safe answer
        return "UTC"
    return name or "UTC"


def parse_local(text: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Read a user-typed time: returns (wall-clock time in ``tz``, naive) and (the instant, UTC).

    ``YYYY-MM-DD HH:MM[:SS]`` and ISO 8601 (``T`` separator) are read in ``tz``; a time with an
    explicit offset or ``Z`` is taken as that instant. A wall-clock time that does not exist (the
    hour skipped when clocks spring forward) is moved forward by the gap, as a clock would.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            _(
                "cannot read time {text!r}: use 'YYYY-MM-DD HH:MM' (or ISO 8601 with an offset)"
            ).format(text=text)
        ) from exc
    if parsed.tzinfo is not None:
        instant = parsed.astimezone(UTC).replace(microsecond=0)
        wall = instant.astimezone(tz).replace(tzinfo=None)
        return wall, instant
    wall = parsed.replace(microsecond=0)
    return wall, localize(wall, tz)


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in ``tz``.

    Ambiguous times (the repeated hour when clocks fall back) take the first occurrence; times in a
    spring-forward gap are read with the offset before the gap, which lands them after it.
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(
            _("cannot read duration {text!r}: use a number and a unit, like 30d or 12h").format(
                text=text
            )
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def display_time(text: str | None, tz_name: str) -> str:
    """A stored UTC time shown in the zone named ``tz_name``; ``""``: on this machine's clock."""
    if not text:
        return ""
    try:
        shown = zone(tz_name) if tz_name else None
        return from_db(text).astimezone(shown).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):  # OSError: Windows' clock before 1970
        return text
