"""Who claims items and holds locks: a process on a host (standard library only, so that the
attempt supervisor can use it without loading the rest of autoqueue)."""

from __future__ import annotations

from typing import NamedTuple


class Owner(NamedTuple):
    """The process that claims items: host, pid and process start time (guards pid reuse)."""

    host: str
    pid: int
    started: float

    @property
    def label(self) -> str:
        return f"{self.host}:{self.pid}"
