"""Is there anything for a tick to do? One read-only query, with the standard library only.

Most cron ticks find nothing to do. Answering that before loading the engine, its models and
the configuration keeps an idle tick at the cost of starting Python and typer. The configuration
is validated by the first tick that has work (it still refuses a broken autoqueue.toml then).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

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
"""


def nothing_to_do(db_path: Path, now: datetime) -> bool:
    """True only when the database is current and has no processing item to watch or recover,
    no ready waiting item and no due schedule. Any doubt (no file, another schema version, an
    unreadable file) answers False, and the full tick handles and reports it."""
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
        return not conn.execute(_BUSY, {"now": stamp}).fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
