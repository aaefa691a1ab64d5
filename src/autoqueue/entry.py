"""The ``autoqueue`` executable. Cron runs ``autoqueue tick`` every minute and most of those
ticks have nothing to do; for exactly that command line the answer comes from one query,
before typer, pydantic and the engine are imported. A plain read (``list``, ``tasks``,
``show``, ``logs``, ``contents``) is answered the same way, by autoqueue.cli.reads. Any other
command line, and any tick that has work or any doubt, goes through the full command line
interface."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path


def plain_tick_database(argv: list[str], environ: dict[str, str]) -> Path | None:
    """The database a bare ``[--home H] [--db D] tick`` would use, or None for anything else."""
    found = plain_tick(argv, environ)
    return None if found is None else found[0]


def plain_tick(argv: list[str], environ: dict[str, str]) -> tuple[Path, Path] | None:
    """The database and the home a bare ``[--home H] [--db D] tick`` would use, or None."""
    home = environ.get("AUTOQUEUE_HOME") or "."
    db = environ.get("AUTOQUEUE_DB") or None
    rest = list(argv)
    while rest and rest[0] != "tick":
        option, _, value = rest[0].partition("=")
        if option not in ("--home", "--db"):
            return None
        if not value:
            if len(rest) < 2:
                return None
            value = rest[1]
            rest = rest[2:]
        else:
            rest = rest[1:]
        if option == "--home":
            home = value
        else:
            db = value
    if rest != ["tick"]:
        return None
    from autoqueue.store.db import DB_NAME, is_url

    if db is not None and is_url(db):
        return None  # the idle fast path is SQLite's

    folder = Path(home).expanduser().resolve()
    return (Path(db).expanduser().resolve() if db else folder / DB_NAME), folder


def main() -> None:
    """Console-script entry point."""
    found = plain_tick(sys.argv[1:], dict(os.environ))
    if found is not None:
        from autoqueue.layout import CONFIG_NAME
        from autoqueue.worker.idle import nothing_to_do

        database, home = found
        if nothing_to_do(database, datetime.now(UTC), home / CONFIG_NAME):
            sys.stdout.write("nothing to do\n")
            return
    from autoqueue.cli import reads

    code = reads.main(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from autoqueue.cli.app import main as cli_main

    cli_main()
