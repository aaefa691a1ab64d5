"""A fake provider on 127.0.0.1 for the real ``openai`` and ``google-genai`` SDKs: each POST takes
the next scripted reply (a chat answer, a picture, speech, a Gemini answer, or an error with its
status and headers) and is recorded with its path, headers and body. ``base_url`` is the
OpenAI-style root (``/v1``), ``root`` the bare one that google-genai adds ``/v1beta/models/...``
to."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
from collections.abc import Callable, Iterator
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
    data: dict[str, Any] | None = None  # any other body, sent as it is
    raw: bytes | None = None  # a binary body (a video's content)
    content_type: str = "video/mp4"


def png(colour: tuple[int, int, int] = (40, 120, 200), size: tuple[int, int] = (96, 160)) -> bytes:
    """A small picture of one colour with a lighter square in it, as PNG bytes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((10, 10, size[0] // 2, size[1] // 2), fill=(240, 240, 240))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def picture(data: bytes) -> Reply:
    """OpenAI's images.generate answer."""
    encoded = base64.b64encode(data).decode()
    return Reply(data={"created": 1_780_000_000, "data": [{"b64_json": encoded}]})


def spoken(text: str, rate: int = 24_000, voice: str = "en-us") -> tuple[bytes, list[Any]]:
    """``text`` as real speech (eSpeak NG) in 16-bit mono PCM at ``rate``, and its words with
    their times (``autoqueue.media.espeak.Word``)."""
    import subprocess

    import imageio_ffmpeg

    from autoqueue.media.espeak import Espeak

    speech = Espeak.get().speak(text, voice, 175)
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "s16le", "-ar", str(speech.rate),
         "-ac", "1", "-i", "pipe:0", "-f", "s16le", "-ar", str(rate), "-ac", "1", "pipe:1"],
        input=speech.pcm, capture_output=True, check=True,
    )  # fmt: skip
    return result.stdout, speech.words


def speech(pcm: bytes) -> Reply:
    """OpenAI's audio.speech answer with ``response_format="pcm"``: the samples, as they are."""
    return Reply(raw=pcm, content_type="application/octet-stream")


def gemini_speech(pcm: bytes, rate: int = 24_000) -> Reply:
    """Gemini's speech answer: the PCM as inline data (base64 in the JSON)."""
    mime = f"audio/L16;codec=pcm;rate={rate}"
    return gemini({"inlineData": {"mimeType": mime, "data": base64.b64encode(pcm).decode()}})


def gemini(*parts: dict[str, Any], finish: str = "STOP", block: str | None = None) -> Reply:
    """Gemini's generateContent answer with these parts (``{"text": ...}`` or
    ``{"inlineData": {...}}``), or a prompt blocked for ``block``."""
    if block:
        return Reply(data={"promptFeedback": {"blockReason": block}})
    candidate = {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}
    return Reply(data={"candidates": [candidate], "modelVersion": "fake"})


def gemini_text(payload: Any) -> Reply:
    return gemini({"text": payload if isinstance(payload, str) else json.dumps(payload)})


def gemini_picture(data: bytes) -> Reply:
    return gemini(
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}
    )


def gemini_failure(status: int, message: str, name: str, **headers: str) -> Reply:
    """A Google API error body: ``{"error": {"code", "message", "status"}}``."""
    return Reply(
        status=status,
        data={"error": {"code": status, "message": message, "status": name}},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def video_job(job: str, status: str, error: dict[str, str] | None = None) -> Reply:
    """An OpenAI-style ``/videos`` job."""
    return Reply(
        data={
            "id": job, "object": "video", "created_at": 1_780_000_000, "model": "sora-2",
            "progress": 100 if status == "completed" else 10, "seconds": "8",
            "size": "720x1280", "status": status, "error": error,
        }
    )  # fmt: skip


def answer(payload: Any) -> Reply:
    return Reply(content=payload if isinstance(payload, str) else json.dumps(payload))


def failure(status: int, message: str, code: str = "", **headers: str) -> Reply:
    return Reply(
        status=status,
        error={"message": message, "type": "error", "code": code or None},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """A request's JSON body, or its multipart form's text fields (openai's videos.create)."""
    if content_type.startswith("multipart/form-data"):
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        return {
            str(part.get_param("name", header="content-disposition")): part.get_content()
            for part in message.iter_parts()  # type: ignore[attr-defined]
        }
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        return dict(parse_qsl(raw.decode()))
    return dict(json.loads(raw or b"{}"))


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        # A stateful server instead of the scripted replies: (method, path, body) -> Reply,
        # called outside the lock (it may block, as a slow provider does).
        self.respond: Callable[[str, str, dict[str, Any]], Reply] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def paths(self) -> list[str]:
        return [request["path"] for request in self.requests]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def handle_one_request(self) -> None:
                # a client killed mid-request (the SIGKILL tests) is not the server's error
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle_one_request()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = parse_body(self.headers.get("Content-Type", ""), self.rfile.read(length))
                with fake.lock:
                    fake.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                    scripted = fake.replies.pop(0) if fake.replies else failure(500, "no reply")
                reply = fake.respond(self.command, self.path, body) if fake.respond else scripted
                if reply.raw is not None:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.raw)))
                    self.end_headers()
                    self.wfile.write(reply.raw)
                    return
                if reply.data is not None:
                    data: dict[str, Any] = reply.data
                elif reply.status == 200:
                    data = {
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
