"""Local fakes of the services notifications go to, on 127.0.0.1, for Apprise's real plugins:
``Receiver`` takes Apprise's ``json://`` posts (a generic webhook) and ntfy's publish requests
(``ntfy://`` posts JSON to the server's root: topic, title, message), records every message,
and answers as a test tells it (``status``: 200, 500, ...; ``hang``: never answer). The
``receiver`` fixture starts one and stops it; ``notify_config`` writes the ``[notify]`` section
of a home whose stages run tests/programs/stage.py."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ..conftest import stage_config


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it: its path, headers and JSON body."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """The message's title and body together (json:// and ntfy name them differently)."""
        title = self.body.get("title") or ""
        message = self.body.get("message") or ""
        return f"{title}\n{message}"

    @property
    def basic_auth(self) -> str | None:
        """The ``user:password`` of an Authorization: Basic header, decoded."""
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        return base64.b64decode(value.split(" ", 1)[1]).decode()


class Receiver:
    """A webhook and ntfy server in a thread; ``messages`` are the requests it accepted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.refused: list[Received] = []
        self.status = 200
        self.hang = False
        self.release = threading.Event()  # ends every hanging request
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def texts(self) -> list[str]:
        with self.lock:
            return [m.text for m in self.messages]

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The accepted messages, once there are ``count`` of them (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.messages)} message(s) arrived, not {count}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                received = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body if isinstance(body, dict) else {"raw": body},
                )
                if receiver.hang:
                    receiver.release.wait(60)
                    return
                status = receiver.status
                with receiver.lock:
                    (receiver.messages if status == 200 else receiver.refused).append(received)
                answer = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running :class:`Receiver`, stopped after the test."""
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


def notify_config(*urls: str, extra: str = "", stages: str | None = None) -> str:
    """An autoqueue.toml whose stages run tests/programs/stage.py (retried at once, once at
    most) and whose notifications go to ``urls``; ``extra`` adds [notify] keys."""
    listed = ", ".join(json.dumps(url) for url in urls)
    notify = f"[notify]\nurls = [{listed}]\ntimeout = 3\n{extra}"
    config = stage_config(max_retry=1)
    return config + "\n" + notify + "\n" + (stages or "")
