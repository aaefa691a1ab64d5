"""A fake OpenAI-compatible chat server on 127.0.0.1 for the real ``openai`` SDK: each request
to ``/v1/chat/completions`` takes the next scripted reply (a story, any text, or an error with
its status and headers) and is recorded with its headers and body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant's answer (status 200)
    refusal: str | None = None
    error: dict[str, Any] | None = None  # {"message": ..., "type": ..., "code": ...}
    headers: dict[str, str] = field(default_factory=dict)


def answer(payload: Any) -> Reply:
    return Reply(content=payload if isinstance(payload, str) else json.dumps(payload))


def failure(status: int, message: str, code: str = "", **headers: str) -> Reply:
    return Reply(
        status=status,
        error={"message": message, "type": "error", "code": code or None},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                    reply = fake.replies.pop(0) if fake.replies else failure(500, "no reply")
                if reply.status == 200:
                    data: dict[str, Any] = {
                        "id": f"chatcmpl-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": 1_780_000_000,
                        "model": body.get("model", "?"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {
                                    "role": "assistant",
                                    "content": reply.content,
                                    "refusal": reply.refusal,
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    }
                else:
                    data = {"error": reply.error}
                raw = json.dumps(data).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeOpenAI]:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
