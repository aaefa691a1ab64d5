"""Is there anything for a tick to do? One read-only query, with the standard library only.

Most cron ticks find nothing to do. Answering that before loading the engine, its models and
the configuration keeps an idle tick at the cost of starting Python and typer. The configuration
is validated by the first tick that has work (it still refuses a broken autoqueue.toml then).
A notification to send (or to send again) is work too, and so is the daily digest when its time
has come and it is not recorded yet: for that one question ``autoqueue.toml`` is read, and
parsed only when it mentions a digest.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from autoqueue.notify.digest import due_day, key_of, parse_time
from autoqueue.store.db import EVERY_QUEUE, canonical_time
from autoqueue.store.migrations import SCHEMA_VERSION

# Work, or a time written in another form (which string comparison would misread: a full tick
# normalises it, or sets the row aside, and logs it).
_BUSY = f"""
SELECT EXISTS (SELECT 1 FROM task_queue WHERE {EVERY_QUEUE} AND status = 'processing')
    OR EXISTS (SELECT 1 FROM task_queue WHERE {EVERY_QUEUE} AND status = 'waiting'
               AND review_since IS NULL
               AND (next_retry_at IS NULL OR next_retry_at <= :now
                    OR NOT {canonical_time("next_retry_at")}))
    OR EXISTS (SELECT 1 FROM task_schedules WHERE is_active = 1
               AND (next_run_at <= :now OR NOT {canonical_time("next_run_at")}))
    OR EXISTS (SELECT 1 FROM notifications WHERE status = 'pending'
               AND (next_try_at IS NULL OR next_try_at <= :now))
"""


def nothing_to_do(db_path: Path, now: datetime, config_path: Path | None = None) -> bool:
    """True only when the database is current and has no processing item to watch or recover,
    no ready waiting item, no due schedule, no notification to send and no digest due (by the
    home's ``config_path``). Any doubt (no file, another schema version, an unreadable file)
    answers False, and the full tick handles and reports it."""
    if not db_path.is_file():
        return False
    try:
        conn = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return False
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if conn.execute(_BUSY, {"now": stamp}).fetchone()[0]:
            return False
        return config_path is None or not _digest_due(conn, config_path, now)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _digest_due(conn: sqlite3.Connection, config_path: Path, now: datetime) -> bool:
    """Whether ``[notify] digest`` is set (with URLs to send it to), its time of day has come in
    the home's zone, and today's digest is not recorded yet. A file that does not read as
    TOML, or an odd value, is a doubt: True, and the full tick says what is wrong."""
    try:
        raw = config_path.read_bytes()
    except OSError:
        return False
    if b"digest" not in raw:
        return False
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    notify = data.get("notify")
    if not isinstance(notify, dict) or not notify.get("urls") or notify.get("digest") is None:
        return False
    at = parse_time(notify["digest"]) if isinstance(notify["digest"], str) else None
    name = data.get("timezone")
    try:
        zone = ZoneInfo(name) if isinstance(name, str) and name else None
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return True
    if at is None:
        return True
    day = due_day(at[0], at[1], zone, now)
    if day is None:
        return False
    found = conn.execute("SELECT 1 FROM notifications WHERE event_key = ?", (key_of(day),))
    return found.fetchone() is None
