"""The user's language: gettext catalogs, compiled by Babel from ``locale/*/LC_MESSAGES/*.po``.

Every user-facing string in the source is written in English and marked: ``_("...")`` where it is
used, ``N_("...")`` where it is only declared (help texts, table headers) and translated later.
Placeholders are named (``_("{n} item(s)").format(n=...)``) so that a translation may reorder
them. ``pybabel extract`` (see README "Translations") collects the marks into
``locale/autoqueue.pot``; a test fails when a marked message has no Korean translation, or when a
compiled ``.mo`` is older than its ``.po``.

One language per process, chosen once before the command line is parsed: ``language`` in the
home's autoqueue.toml, else a Korean locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.
"""

from __future__ import annotations

import gettext as _gettext
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DOMAIN = "autoqueue"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "ko")

_translations: _gettext.NullTranslations = _gettext.NullTranslations()
_current = "en"


def _(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return _translations.gettext(message)


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


def current() -> str:
    return _current


def set_language(language: str) -> None:
    """Use ``language`` ("en" or "ko") for every message from now on."""
    global _translations, _current
    _current = language if language in LANGUAGES else "en"
    if _current == "en":
        _translations = _gettext.NullTranslations()
    else:
        _translations = _gettext.translation(
            DOMAIN, LOCALE_DIR, languages=[_current], fallback=True
        )


def locale_language(environ: Mapping[str, str]) -> str:
    """Korean when the locale says so, else English (the first of the variables set counts)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def language(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The configured language, else the locale's."""
    if configured:
        return configured
    return locale_language(os.environ if environ is None else environ)


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of a global option given before the command (``--home H`` or ``--home=H``)."""
    for index, word in enumerate(argv):
        if not word.startswith("-"):
            return None  # the command: options after it are the command's own
        if word == name and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


def language_for(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language a command line will run in, known before it is parsed (help texts must be
    translated before click prints them): the home's ``language`` setting, else the locale.
    A config that cannot be read counts as none here; loading it later says what is wrong."""
    home = _option(argv, "--home") or environ.get("AUTOQUEUE_HOME") or "."
    try:
        with (Path(home).expanduser() / "autoqueue.toml").open("rb") as handle:
            configured = tomllib.load(handle).get("language")
    except (OSError, ValueError):
        configured = None
    if isinstance(configured, str) and configured in LANGUAGES:
        return configured
    return locale_language(environ)


def translate_command(command: Any) -> None:
    """Translate a click command tree's help texts in place (typer builds a fresh tree for
    every run, from the English strings)."""
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if isinstance(text, str) and text:
            setattr(command, attribute, _(text))
    for param in getattr(command, "params", []):
        text = getattr(param, "help", None)
        if isinstance(text, str) and text:
            param.help = _(text)
        show_default = getattr(param, "show_default", None)
        if isinstance(show_default, str):
            param.show_default = _(show_default)
    for sub in getattr(command, "commands", {}).values():
        translate_command(sub)
