"""A PostgreSQL URL as autoqueue shows it: checked before use, its password never printed.

libpq and Python read a URL's user name and password differently when they hold a character
that should have been percent-encoded: for ``postgresql://aq:p@ss@db/q`` libpq takes the
password ``p`` and the host ``ss@db`` (and says so in its "failed to resolve host" message),
Python the password ``p@ss``. So a URL whose user part holds ``@ / ? # [ ]``, or a ``%`` that
starts no percent-escape, is refused before libpq sees it: then both read the same password.
Whatever libpq says afterwards goes through :func:`scrub`, which cuts out the password and the
whole user part wherever they appear, and the URL itself is only ever shown through
:func:`redact`. Standard library only: checking a URL loads no psycopg.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from autoqueue.errors import UsageError
from autoqueue.i18n import _

HIDDEN = "***"
# Characters that end or split the user part in libpq's reading or Python's.
_DELIMITERS = frozenset("@/?#[]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def _after_scheme(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    return (scheme + sep, rest) if sep else ("", url)


def user_part(url: str) -> str:
    """Everything between ``scheme://`` and the URL's last ``@`` (the user name and password,
    however the URL is written); empty when it has none."""
    _scheme, rest = _after_scheme(url)
    at = rest.rfind("@")
    return rest[:at] if at >= 0 else ""


def check(url: str) -> None:
    """Refuse (exit 2) a URL that does not parse, or whose user part libpq would read
    differently from Python. The message never shows the password."""
    shown = redact(url)
    try:
        urlsplit(url)  # an unclosed [ of an IPv6 address, a ] with no [
    except ValueError as exc:
        raise UsageError(
            _("the database URL {url} does not parse: {reason}").format(url=shown, reason=exc)
        ) from None
    user = user_part(url)
    if _DELIMITERS & set(user):
        raise UsageError(
            _(
                "the user name or password in the database URL {url} holds one of @ / ? # [ ]: "
                "write it percent-encoded ({codes})"
            ).format(url=shown, codes="@ %40, / %2F, ? %3F, # %23, [ %5B, ] %5D")
        )
    if _BAD_ESCAPE.search(user):
        raise UsageError(
            _(
                "the user name or password in the database URL {url} holds a {sign} that starts "
                "no percent-escape: write it as {escaped}"
            ).format(url=shown, sign="%", escaped="%25")
        )


def redact(url: str) -> str:
    """The URL without its password (``aq:***@``, and ``password=***`` in its query), whatever
    the URL looks like: this never fails, not even on a URL that does not parse."""
    scheme, rest = _after_scheme(url)
    user = user_part(url)
    if ":" in user:
        name = user.split(":", 1)[0]
        rest = f"{name}:{HIDDEN}" + rest[len(user) :]
    return _QUERY_PASSWORD.sub(rf"\g<1>{HIDDEN}", scheme + rest)


def secrets(url: str) -> list[str]:
    """The pieces of text that would give the password away, longest first: the password as
    written and decoded, the whole user part, and a ``password=`` given in the query."""
    user = user_part(url)
    found: set[str] = set()
    if ":" in user:
        password = user.split(":", 1)[1]
        found |= {password, unquote(password), user, unquote(user)}
    for match in _QUERY_PASSWORD.finditer(url):
        found |= {match.group(2), unquote(match.group(2))}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (what libpq or psycopg said about ``url``) with the URL shown redacted and
    every piece of the password cut out."""
    text = text.replace(url, redact(url))
    for secret in secrets(url):
        text = text.replace(secret, HIDDEN)
    return text
