"""Where notifications go: each configured Apprise URL as a :class:`Target`, shown with its
tokens and passwords masked (``tgram://***/12345``, ``json://user:***@host/path``) and with the
secrets it holds known, so that they can be cut out of anything a service answers before it
reaches a log row, ``--json`` or the terminal. The URL itself is never printed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
# A part of a URL between its delimiters; parts of three characters or more that Apprise's own
# privacy view hides are taken for secrets.
_PARTS = re.compile(r"[/:@?&=#,;\s]+")
# Apprise's privacy view shows a secret as its first and last character around "..." (and a
# password as "****"): shown as MASK instead, nothing of the secret left.
_ELIDED = re.compile(r"[^/:@?&=#\s]\.\.\.[^/:@?&=#\s]|\*{4}")
# Query arguments whose values are secrets whatever the service: custom headers (json://'s
# "-X-Token=...", "+Authorization=...") and anything named like a key.
_SECRET_ARGUMENT = re.compile(r"^[-+]|token|key|secret|pass|auth|sig", re.I)
MIN_SECRET = 3


@dataclass(frozen=True)
class Target:
    """One configured URL: ``shown`` may be printed, ``url`` and ``secrets`` never are;
    ``readable``: Apprise knows the service and the URL has what it needs."""

    url: str = field(repr=False)
    shown: str
    secrets: tuple[str, ...] = field(repr=False, default=())
    readable: bool = True

    @property
    def fingerprint(self) -> str:
        """A stable name for the URL that reveals nothing of it (which URLs took a message)."""
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this URL (and the URL itself) masked."""
        for secret in sorted({self.url, *self.secrets}, key=len, reverse=True):
            if len(secret) >= MIN_SECRET:
                text = text.replace(secret, MASK)
        return text


def target(url: str) -> Target:
    """The URL as a target: masked by Apprise's privacy view (loaded here, only when there is
    something to mask) and, where Apprise cannot read the URL, by hiding all but its scheme."""
    scheme = url.partition("://")[0]
    plugin = _plugin(url)
    secrets = _argument_secrets(url)
    if plugin is None:
        rest = url.partition("://")[2]
        secrets |= {rest, unquote(rest)} | set(_parts(rest))
        return Target(url, f"{scheme}://{MASK}", _clean(secrets, scheme), readable=False)
    private = str(plugin.url(privacy=True))
    shown = _ELIDED.sub(MASK, private.split("?", 1)[0])
    hidden = _parts(url) | _parts(unquote(url))
    secrets |= hidden - _parts(private) - _parts(shown)
    return Target(url, shown, _clean(secrets, scheme))


def targets(urls: list[str]) -> list[Target]:
    return [target(url) for url in urls]


def scrub(text: str, where: list[Target]) -> str:
    """``text`` with the secrets of every target masked."""
    for each in where:
        text = each.scrub(text)
    return text


def _plugin(url: str) -> Any:
    """Apprise's plugin for the URL (None: Apprise cannot read it)."""
    import apprise  # here: only what sends or shows a notification loads Apprise

    from autoqueue.notify.send import quiet_apprise

    quiet_apprise()
    try:
        return apprise.Apprise.instantiate(url)
    except Exception:  # a plugin that raises on a malformed URL: as unreadable
        return None


def _parts(url: str) -> set[str]:
    return {part for part in _PARTS.split(url) if part}


def _argument_secrets(url: str) -> set[str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return set()
    return {
        value
        for name, value in parse_qsl(query, keep_blank_values=False)
        if _SECRET_ARGUMENT.search(name)
    }


def _clean(secrets: set[str], scheme: str) -> tuple[str, ...]:
    return tuple(
        sorted(
            (s for s in secrets if len(s) >= MIN_SECRET and s not in (scheme, MASK)),
            key=len,
            reverse=True,
        )
    )
