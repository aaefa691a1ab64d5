"""``autoqueue db copy``: move a home's whole history into another database (SQLite to
PostgreSQL, docs/hosts.md), in one transaction, then prove it: the row count and a
checksum of every table, read back from both."""

from __future__ import annotations

from dataclasses import dataclass, field

from autoqueue.errors import DatabaseError
from autoqueue.i18n import _
from autoqueue.repo import copy as copy_repo
from autoqueue.store.db import Connection, Error, open_database, transaction


@dataclass(frozen=True)
class Copied:
    counts: dict[str, int]
    checksums: dict[str, str] = field(default_factory=dict)


def copy_database(source: Connection, target_location: str, *, shown: str) -> Copied:
    """Copy every row of ``source`` into the empty database at ``target_location`` (created or
    migrated to the current schema first). Refuses a target that holds any row, and a source
    with items processing (stop the workers first: their claims name this database)."""
    if copy_repo.processing_count(source):
        raise DatabaseError(
            _(
                "items are processing in this database: stop the workers (or let `autoqueue "
                "tick` recover what a dead one left) before copying it"
            )
        )
    target = open_database(target_location)
    try:
        # autoqueue_meta may already name this home (`autoqueue init` with the new --db):
        # the same facts are fine, others mean the target belongs to another home.
        theirs = copy_repo.meta(target)
        mine = copy_repo.meta(source)
        clash = {k for k in theirs.keys() & mine.keys() if theirs[k] != mine[k]}
        if clash:
            raise DatabaseError(
                _("{shown} belongs to another autoqueue home; refusing to copy").format(shown=shown)
            )
        already = {
            table: n
            for table, n in copy_repo.counts(target).items()
            if n and table != "autoqueue_meta"
        }
        if already:
            listed = ", ".join(f"{table} ({n})" for table, n in sorted(already.items()))
            raise DatabaseError(
                _("{shown} is not empty ({listed}); db copy only fills an empty database").format(
                    shown=shown, listed=listed
                )
            )
        try:
            _copy(source, target)
        except Error as exc:
            raise DatabaseError(
                _("copying into {shown} failed, nothing was kept: {exc}").format(
                    shown=shown, exc=exc
                )
            ) from exc
        return _verify(source, target, shown)
    finally:
        target.close()


def _shared_columns(source: Connection, target: Connection, table: str) -> list[str]:
    """The table's columns that both databases have, in the target's order."""
    present = set(copy_repo.columns(source, table))
    return [c for c in copy_repo.columns(target, table) if c in present]


def _copy(source: Connection, target: Connection) -> None:
    with transaction(target):
        links: list[tuple[str, str]] = []
        for table, key in copy_repo.TABLES:
            if table == "autoqueue_meta":
                copy_repo.merge_meta(target, copy_repo.meta(source))
                continue
            names = _shared_columns(source, target, table)
            rows = copy_repo.rows(source, table, names, key)
            if table == "contents":
                # contents.task_id waits for the tasks (the two tables refer to each other).
                position = names.index("task_id")
                unlinked = []
                for row in rows:
                    if row[position] is not None:
                        links.append((str(row[0]), str(row[position])))
                    unlinked.append((*row[:position], None, *row[position + 1 :]))
                rows = iter(unlinked)
            copy_repo.insert_rows(target, table, names, rows)
            if table == "tasks":
                copy_repo.link_contents(target, links)
        copy_repo.reset_identities(target)


def _verify(source: Connection, target: Connection, shown: str) -> Copied:
    before = copy_repo.counts(source)
    after = copy_repo.counts(target)
    if before != after:
        raise DatabaseError(
            _("row counts differ after copying into {shown}: {before} vs {after}").format(
                shown=shown, before=before, after=after
            )
        )
    sums: dict[str, str] = {}
    for table, key in copy_repo.TABLES:
        names = _shared_columns(source, target, table)
        mine = copy_repo.checksum(source, table, names, key)
        theirs = copy_repo.checksum(target, table, names, key)
        if mine != theirs:
            raise DatabaseError(
                _("table {table} differs after copying into {shown}").format(
                    table=table, shown=shown
                )
            )
        sums[table] = mine
    return Copied(after, sums)
