"""The database behind ``StageContext.store``: a stage's resumable state and the YouTube quota
ledger, written by the attempt's supervisor. Each call is one transaction, retried while another
process holds the write lock (a saved upload session must never be lost to a busy database)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from autoqueue.kinds import per_channel
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import state as state_repo
from autoqueue.store.db import Connection, retry_busy, transaction
from autoqueue.timeutil import to_db, utcnow
from autoqueue.workspace import Workspace

T = TypeVar("T")


class DatabaseStore:
    """A StageStore for one queue item, on a connection opened on first use."""

    def __init__(self, workspace: Workspace, item_id: int, *, patience: float) -> None:
        self.workspace = workspace
        self.item_id = item_id
        self.patience = patience
        self._conn: Connection | None = None

    def _run(self, what: str, operation: Callable[[Connection], T]) -> T:
        if self._conn is None:
            self._conn = self.workspace.connect()
        conn = self._conn
        return retry_busy(lambda: operation(conn), patience=self.patience, what=what)

    def load(self) -> dict[str, Any] | None:
        return self._run("reading the stage's state", lambda c: state_repo.load(c, self.item_id))

    def save(self, data: dict[str, Any]) -> None:
        def save(conn: Connection) -> None:
            with transaction(conn):
                state_repo.save(conn, self.item_id, data, to_db(utcnow()))

        self._run("saving the stage's state", save)

    def quota_used(self, project: str, day: str) -> int:
        return self._run("reading the quota", lambda c: state_repo.quota_used(c, project, day))

    def quota_spend(self, project: str, day: str, units: int, channel: str | None = None) -> None:
        def spend(conn: Connection) -> None:
            with transaction(conn):
                state_repo.quota_spend(conn, project, day, units)
                if channel is not None:  # the channel's own part, in the same transaction
                    state_repo.quota_spend(conn, per_channel(project, channel), day, units)

        self._run("recording quota", spend)

    def quota_exhausted(self, project: str, day: str, budget: int) -> None:
        def exhausted(conn: Connection) -> None:
            with transaction(conn):
                state_repo.quota_at_least(conn, project, day, budget)

        self._run("recording quota", exhausted)

    def published_url(self, task_id: str, video_sha256: str) -> str | None:
        return self._run(
            "reading what the task published",
            lambda c: contents_repo.published_url(c, task_id, video_sha256),
        )
