"""The read commands (``list``, ``tasks``, ``show``, ``logs``, ``contents``): what each reads
and prints, shared by the typer commands and by a fast path that answers a plain command line
before typer, pydantic and the configuration's models are imported (ARCHITECTURE.md "Fast
reads"). A command line the fast path does not fully understand (``--help``, ``logs -f``, an
unknown option, a bad number) goes to the full command line, which says what is wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from autoqueue.cli import display
from autoqueue.errors import UsageError
from autoqueue.i18n import _

# The database's modules are imported by the functions that open it: a command line that is
# not a plain read (a help screen) goes on to the full command line without them.
if TYPE_CHECKING:
    from autoqueue.repo.logs import LogFilter
    from autoqueue.store.db import Connection
    from autoqueue.workspace import Workspace

LIMIT_RANGE = (1, 1_000_000)  # --limit's bounds, the full command line's too


def check_places(home: Path, db: str | None) -> None:
    """``--home`` must be a folder (or nothing yet) and ``--db`` a file or a URL."""
    from autoqueue.store.db import is_url

    if home.exists() and not home.is_dir():
        raise UsageError(_("--home {home} is a file, not a folder").format(home=home))
    if db is not None and not is_url(db) and Path(db).expanduser().is_dir():
        raise UsageError(_("--db {db} is a folder, not a database file").format(db=db))


def list_tab(workspace: Workspace, tab: str | None, limit: int, as_json: bool) -> None:
    """One tab of the queue, or the count of every tab."""
    from autoqueue.repo import reads

    chosen = None
    if tab is not None:
        # the tab's name is read only when a tab is named: the counts alone need none of it.
        from autoqueue.tasks.choices import parse_tab

        chosen = parse_tab(tab)
    with reading(workspace) as conn:
        if chosen is None:
            counts = reads.tab_counts(conn)
            if as_json:
                display.emit_json({tab.value: count for tab, count in counts.items()})
            else:
                display.tab_counts(counts)
            return
        rows = reads.tab_rows(conn, chosen, limit)
    if as_json:
        display.emit_json(rows)
    else:
        display.queue_rows(chosen, rows, workspace.display_zone)


def tasks(workspace: Workspace, as_json: bool) -> None:
    """Every task, with its schedules, state, last run and YouTube URL."""
    from autoqueue.tasks.views import list_tasks

    with reading(workspace) as conn:
        listed = list_tasks(conn)
    if as_json:
        display.emit_json([task.as_json() for task in listed])
    else:
        display.task_rows(listed, workspace.display_zone)


def show(workspace: Workspace, task: str, as_json: bool) -> None:
    """A task with its schedules, queue history, outputs and recent logs."""
    from autoqueue.tasks.views import show_task
    from autoqueue.workspace import parse_task_ref

    parse_task_ref(task)  # a bad id is refused before the database is opened
    with reading(workspace) as conn:
        detail = show_task(workspace, conn, task)
    if as_json:
        display.emit_json(detail.as_json())
    else:
        from autoqueue.cli.tables import task_detail

        task_detail(detail, workspace.display_zone)


class LogQuery(NamedTuple):
    """``logs``' filters as typed."""

    task: str | None = None
    level: str | None = None
    queue_type: str | None = None
    action: str | None = None
    limit: int = 50


def log_filter(conn: Connection, query: LogQuery) -> LogFilter:
    """The repository's filter for ``query`` (choices checked, the task's id looked up)."""
    from autoqueue.kinds import ActionType, LogLevel, QueueType
    from autoqueue.repo import logs as logs_repo
    from autoqueue.tasks.choices import parse_choice
    from autoqueue.tasks.views import find_task

    level, queue_type, action = query.level, query.queue_type, query.action
    return logs_repo.LogFilter(
        task_id=None if query.task is None else str(find_task(conn, query.task)["id"]),
        level=parse_choice(LogLevel, level, "level") if level else None,
        queue_type=parse_choice(QueueType, queue_type, "queue type") if queue_type else None,
        action=parse_choice(ActionType, action, "action") if action else None,
        limit=query.limit,
    )


def logs(workspace: Workspace, query: LogQuery, as_json: bool) -> None:
    """The log viewer, newest first."""
    from autoqueue.repo import logs as logs_repo
    from autoqueue.workspace import parse_task_ref

    if query.task is not None:
        parse_task_ref(query.task)
    with reading(workspace) as conn:
        entries = logs_repo.query(conn, log_filter(conn, query))
    if as_json:
        display.emit_json([entry.as_json() for entry in entries])
    else:
        display.log_rows(entries, workspace.display_zone)  # newest first, as --json


def contents(workspace: Workspace, task: str | None, limit: int, as_json: bool) -> None:
    """The content library: one row per run, with its video and YouTube URL."""
    from autoqueue.repo import contents as contents_repo
    from autoqueue.workspace import parse_task_ref

    if task is not None:
        parse_task_ref(task)
    with reading(workspace) as conn:
        task_id = None
        if task is not None:
            # only to find the task: the library needs none
            from autoqueue.tasks.views import find_task

            task_id = str(find_task(conn, task)["id"])
        rows = contents_repo.list_contents(conn, task_id=task_id, limit=limit)
    if as_json:
        display.emit_json([row.as_json() for row in rows])
    else:
        display.content_rows(rows, workspace.display_zone)


@contextmanager
def reading(workspace: Workspace) -> Iterator[Connection]:
    """The database opened for reading (a read-only home works too), closed after."""
    conn = workspace.connect(create=False, read_only=True)
    try:
        yield conn
    finally:
        conn.close()


# -- the fast path ------------------------------------------------------------------------------


class Plain:
    """A read command line the fast path understands: its command, its one argument, its
    options (name → value; a flag's value is "")."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.argument: str | None = None
        self.options: dict[str, str] = {}


# Per command: whether it takes an argument (None: no; False: optional; True: required) and
# which options take a value; --json is every command's flag.
_COMMANDS: dict[str, tuple[bool | None, tuple[str, ...]]] = {
    "list": (False, ("--limit",)),
    "tasks": (None, ()),
    "show": (True, ()),
    "logs": (False, ("--level", "--queue-type", "--action", "--limit")),
    "contents": (None, ("--task", "--limit")),
}


def plain_read(argv: Sequence[str]) -> tuple[dict[str, str], Plain] | None:
    """``[--home H] [--db D] COMMAND [ARG] [OPTIONS]`` for a read command, as (global options,
    command), or None for any other command line."""
    rest = list(argv)
    places: dict[str, str] = {}
    while rest and rest[0].startswith("-"):
        taken = _take(rest, ("--home", "--db"))
        if taken is None:
            return None
        places[taken[0]] = taken[1]
    if not rest or rest[0] not in _COMMANDS:
        return None
    plain = Plain(rest.pop(0))
    argument, valued = _COMMANDS[plain.command]
    while rest:
        if rest[0] == "--json":
            plain.options[rest.pop(0)] = ""
        elif rest[0].startswith("-"):
            taken = _take(rest, valued)
            if taken is None:
                return None
            plain.options[taken[0]] = taken[1]
        elif argument is not None and plain.argument is None:
            plain.argument = rest.pop(0)
        else:
            return None
    if argument is True and plain.argument is None:
        return None
    return places, plain


def _take(rest: list[str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """Pop ``--name value`` or ``--name=value`` off ``rest`` when ``--name`` is one of
    ``names`` and a value follows; None otherwise."""
    name, equals, value = rest[0].partition("=")
    if name not in names:
        return None
    if equals:
        rest.pop(0)
    elif len(rest) >= 2 and not rest[1].startswith("-"):
        value = rest[1]
        del rest[:2]
    else:
        return None
    return (name, value) if value else None


def _limit(options: Mapping[str, str], default: int) -> int | None:
    text = options.get("--limit")
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        return None
    return limit if LIMIT_RANGE[0] <= limit <= LIMIT_RANGE[1] else None


def run_plain(places: Mapping[str, str], plain: Plain, environ: Mapping[str, str]) -> bool:
    """Run a plain read; False when a value needs the full command line to explain it."""
    options = plain.options
    as_json = "--json" in options
    limit = _limit(options, 50 if plain.command == "logs" else 100)
    if limit is None:
        return False  # typer says what is wrong with the number
    home = Path(places.get("--home") or environ.get("AUTOQUEUE_HOME") or ".")
    db = places.get("--db") or environ.get("AUTOQUEUE_DB") or None
    check_places(home, db)
    from autoqueue.workspace import Workspace

    workspace = Workspace.locate(home, db)
    if plain.command == "list":
        list_tab(workspace, plain.argument, limit, as_json)
    elif plain.command == "tasks":
        tasks(workspace, as_json)
    elif plain.command == "show":
        assert plain.argument is not None
        show(workspace, plain.argument, as_json)
    elif plain.command == "logs":
        query = LogQuery(
            task=plain.argument,
            level=options.get("--level"),
            queue_type=options.get("--queue-type"),
            action=options.get("--action"),
            limit=limit,
        )
        logs(workspace, query, as_json)
    else:
        contents(workspace, options.get("--task"), limit, as_json)
    return True


def main(argv: Sequence[str]) -> int | None:
    """Answer a plain read command line; its exit code, or None to use the full command line."""
    from autoqueue import i18n

    found = plain_read(argv)
    if found is None:
        return None
    i18n.set_language(i18n.language_for(argv, os.environ))
    try:
        if not run_plain(*found, os.environ):
            return None
    except Exception as exc:
        code = display.failure(exc)
        if code is None:
            raise
        return code
    sys.stdout.flush()
    return 0
