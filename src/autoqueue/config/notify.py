"""``[notify]``: where notifications go (Apprise URLs), which events are sent, and the daily
digest's time (docs/notifications.md)."""

# Pydantic copies a field's default for each instance; ruff knows that only of models whose
# BaseModel it sees in the same file (Strict's is in base.py), so it would call them shared.
# ruff: noqa: RUF012

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from autoqueue.config.base import Strict
from autoqueue.i18n import _

# The events ``[notify] events`` may name; the digest has a key of its own.
NotifyEvent = Literal["failed", "published", "parked", "review"]
DEFAULT_EVENTS: tuple[NotifyEvent, ...] = ("failed", "published", "parked", "review")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


class NotifyConfig(Strict):
    """Apprise URLs (``tgram://``, ``discord://``, ``mailto://``, ``ntfy://``, ``json://``, ...),
    the events sent to every one of them, and ``digest``, a daily summary at that time of day
    in the home's zone (off unless set). ``timeout``: seconds one message may take per URL."""

    urls: list[str] = []
    events: list[NotifyEvent] = list(DEFAULT_EVENTS)
    digest: str | None = None
    timeout: Annotated[float, Field(gt=0, le=120)] = 10

    @field_validator("urls")
    @classmethod
    def _urls_have_a_scheme(cls, urls: list[str]) -> list[str]:
        for number, url in enumerate(urls, 1):
            if not _SCHEME.match(url.strip()):
                # The URL itself is not repeated: it may hold a token or a password.
                raise ValueError(
                    _(
                        "URL number {number} is not an Apprise URL (SCHEME://..., e.g. "
                        "tgram://TOKEN/CHAT_ID)"
                    ).format(number=number)
                )
        return [url.strip() for url in urls]

    @field_validator("digest")
    @classmethod
    def _digest_is_a_time_of_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _CLOCK.match(value.strip())
        if match is None:
            raise ValueError(
                _('{value!r} is not a time of day: write HH:MM, e.g. "09:00"').format(value=value)
            )
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @property
    def enabled(self) -> bool:
        """Whether anything is sent at all: at least one URL."""
        return bool(self.urls)

    def digest_time(self) -> tuple[int, int] | None:
        """The digest's hour and minute, or None when it is off (or nothing is sent)."""
        if self.digest is None or not self.urls:
            return None
        hour, minute = self.digest.split(":")
        return int(hour), int(minute)
