"""The driver of ``autoqueue ui --web``'s sessions: textual-serve runs the app with Textual's web
driver, which this one extends so that an app whose browser has gone ends (cli/web.py)."""

from __future__ import annotations

import os
from contextlib import suppress

from textual import messages
from textual.drivers.web_driver import WebDriver

ORPHAN_SECONDS = 3.0
"""How long an app whose input has closed has to quit before its process ends regardless."""


class PipeDriver(WebDriver):
    """The driver textual-serve asks for (``ui --web``), ending the app when its input closes:
    the server that fed it is gone or has dropped it, so nobody can see or drive it again. An app
    that cannot quit (one told to quit while it was still starting never ends) is ended after
    ``ORPHAN_SECONDS``."""

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if self.exit_event.is_set():  # the app is quitting: it closed the input itself
            return
        with suppress(RuntimeError):  # the app's loop has closed already
            self.send_message(messages.ExitApp())
        if not self.exit_event.wait(ORPHAN_SECONDS):
            os._exit(1)
