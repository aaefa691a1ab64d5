"""``autoqueue ui`` driven through Textual's pilot: the app on a home (``make_app``), played
headless at 80x24 (``drive``), given time for a key to land (``settle``), its status line read
(``status``), a condition waited for (``until``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from autoqueue.cli.terminal import AutoqueueApp
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace


def make_app(workspace: Workspace, *, refresh: float = 5.0) -> AutoqueueApp:
    """The terminal app on the workspace's home, in UTC, refreshing every ``refresh`` seconds."""
    return AutoqueueApp(Workspace.load(workspace.home), "UTC", utcnow, refresh_seconds=refresh)


def drive(app: AutoqueueApp, scenario: Callable[[Pilot[Any]], Awaitable[None]]) -> None:
    """Run the app headless at 80x24 and play ``scenario`` against it."""

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


async def settle(pilot: Pilot[Any], seconds: float = 0.1) -> None:
    """Long enough for what a key started to land (an action refreshes the tables itself; the
    timer that follows other processes' changes runs every 5 s here unless a test sets it)."""
    await pilot.pause(seconds)


def status(app: AutoqueueApp) -> str:
    """The text of the main screen's status line."""
    return str(app.main_screen.query_one("#status", Static).content)


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for ``predicate`` to hold: what a key started has landed, or the app's timer shows
    another process's change. A condition, never a time: a loaded machine is slow. Until the
    deadline, a predicate that raises (a row not drawn yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # not drawn yet: the last try below reports it
            pass
        await pilot.pause(0.05)
    assert predicate(), "the app did not get there"
