"""The user's language: gettext catalogs, compiled by Babel from ``locale/*/LC_MESSAGES/*.po``.

Every user-facing string in the source is written in English and marked: ``_("...")`` where it is
used, ``N_("...")`` where it is only declared (help texts, table headers) and translated later.
Placeholders are named (``_("{n} item(s)").format(n=...)``) so that a translation may reorder
them. ``pybabel extract`` (see docs/korean.md) collects the marks into
``locale/autoqueue.pot``; a test fails when a marked message has no Korean translation, or when a
compiled ``.mo`` is older than its ``.po``.

One language per process, chosen once before the command line is parsed: ``language`` in the
home's autoqueue.toml, else a Korean locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.
"""

from __future__ import annotations

import gettext as _gettext
import tomllib
from collections.abc import Iterator, Mapping, Sequence
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


def _unwrap(text: str) -> str:
    """A docstring's paragraphs as single lines: typer's help screens keep every line break,
    so a docstring wrapped at 100 columns would come out broken mid-sentence."""
    import re

    return "\n\n".join(
        " ".join(paragraph.split()) for paragraph in re.split(r"\n\s*\n", text.strip())
    )


def translate_command(command: Any) -> None:
    """Translate a click command tree's help texts in place (typer builds a fresh tree for
    every run, from the English strings)."""
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if isinstance(text, str) and text:
            setattr(command, attribute, _unwrap(_(text)))
    for param in getattr(command, "params", []):
        text = getattr(param, "help", None)
        if isinstance(text, str) and text:
            param.help = _(text)
        show_default = getattr(param, "show_default", None)
        if isinstance(show_default, str):
            param.show_default = _(show_default)
    # The --help option is made on first use and kept: make it now, in the user's words.
    get_help_option = getattr(command, "get_help_option", None)
    if callable(get_help_option):
        from types import SimpleNamespace

        option = get_help_option(SimpleNamespace(help_option_names=["--help"]))
        if option is not None:
            option.help = _(HELP_OPTION)
    for sub in getattr(command, "commands", {}).values():
        translate_command(sub)


HELP_OPTION = N_("Show this message and exit.")

# typer's own words in a help screen: module constants, read when a screen is drawn.
_TYPER_TEXTS = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "DEFAULT_STRING": N_("[default: {}]"),
    "ENVVAR_STRING": N_("[env var: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
}

# The command line parser's errors that people meet (click, inside typer, writes them in
# English without gettext): the start of each is translated, the rest (an option's name, a
# range) is kept as it is.
_PARSER_ERRORS = [
    (r"No such option: (?P<rest>.*)", N_("No such option: {rest}")),
    (r"No such command (?P<rest>.*)\.", N_("No such command {rest}.")),
    (r"Missing command\.", N_("Missing command.")),
    (r"Missing argument (?P<rest>.*)\.", N_("Missing argument {rest}.")),
    (r"Missing option (?P<rest>.*)\.", N_("Missing option {rest}.")),
    (r"Invalid value for (?P<name>[^:]*): (?P<rest>.*)", N_("Invalid value for {name}: {rest}")),
    (
        r"Got unexpected extra arguments? \((?P<rest>.*)\)",
        N_("Unexpected extra argument(s): {rest}"),
    ),
    (r"Option (?P<rest>.*) requires an argument\.", N_("Option {rest} requires an argument.")),
    (
        r"Option (?P<rest>.*) requires (?P<n>\d+) arguments\.",
        N_("Option {rest} requires {n} arguments."),
    ),
]


def translate_typer() -> None:
    """Put typer's help-screen words in the current language."""
    from typer import rich_utils

    for name, text in _TYPER_TEXTS.items():
        setattr(rich_utils, name, _(text))


def translate_parser_error(message: str) -> str:
    """A command-line parsing error in the current language (its names and values as given)."""
    import re

    if _current == "en":
        return message
    for pattern, template in _PARSER_ERRORS:
        match = re.fullmatch(pattern, message, flags=re.DOTALL)
        if match:
            return _(template).format(**match.groupdict())
    return message


def extract_cli(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[Any, ...]]:
    """Babel's extraction for the command modules: the ``_()``/``N_()`` marks as everywhere,
    plus what typer shows as help: ``help=``/``show_default=`` texts and the docstrings of the
    command functions (cleaned as ``inspect.getdoc`` cleans them, since that is the text typer
    passes on). Used by ``babel.cfg``; Babel itself is only needed to extract and compile."""
    import ast

    from babel.messages.extract import extract_python

    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.keyword)
            and node.arg in ("help", "show_default")
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield node.value.lineno, "_", node.value.value, []
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr in ("command", "callback")
            for d in node.decorator_list
        ):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.lineno, "_", doc, []


QUEUE_LABELS = {
    "schedule": N_("schedule"),
    "script": N_("script"),
    "image": N_("image"),
    "video": N_("video"),
    "youtube": N_("youtube"),
    "failed": N_("failed"),
    "completed": N_("completed"),
}


def queue_label(name: str) -> str:
    """A queue's (or the terminal app's tab's) name, ``script``, in the user's language."""
    return _(QUEUE_LABELS.get(name, name))
