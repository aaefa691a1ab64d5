"""A fake of Microsoft's read-aloud websocket service on 127.0.0.1, for the real ``edge-tts``
client: it takes the ``speech.config`` and ``ssml`` messages, records them, and answers as the
service does: ``turn.start``, the MP3 in binary ``audio`` frames with ``audio.metadata``
word boundaries between them, an empty ``audio`` frame, ``turn.end``. ``mode`` scripts a
failure: ``refuse`` (HTTP 403 to the handshake), ``close`` (the socket closed with no audio),
``stall`` (no answer at all), ``garbage`` (audio that is no MP3)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from html import unescape
from typing import Literal

from aiohttp import WSMsgType, web

Mode = Literal["speak", "refuse", "close", "stall", "garbage"]
TICKS_PER_SECOND = 10_000_000
CHUNK_BYTES = 4096  # the service sends its MP3 in pieces of about this size


@dataclass(frozen=True)
class Boundary:
    """A word as the fake reports it: its text, offset and duration in 100-ns ticks."""

    text: str
    offset: int
    duration: int


@dataclass
class Received:
    """One synthesis the fake was asked for."""

    query: dict[str, str]  # the connection's query string: ConnectionId, Sec-MS-GEC, ...
    config: dict[str, object]  # the speech.config message's JSON
    ssml: str
    voice: str  # as edge-tts writes it: "Microsoft Server Speech Text to Speech Voice (...)"
    rate: str  # "+0%", "+10%", ...
    text: str  # the text spoken, unescaped


@dataclass
class FakeEdge:
    """The fake service: ``mp3`` is what it speaks, ``words`` the boundaries it reports."""

    mp3: bytes
    words: list[Boundary]
    mode: Mode = "speak"
    # with an ffmpeg: each request's own text is spoken (by eSpeak NG) instead of ``mp3``
    echo_with: str | None = None
    received: list[Received] = field(default_factory=list)
    handshakes: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The address to give ``edge.speak(endpoint=...)``, shaped like edge-tts's WSS_URL."""
        return (
            f"ws://127.0.0.1:{self.port}/consumer/speech/synthesize/readaloud/edge/v1"
            "?TrustedClientToken=fake"
        )

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1, on an event loop in a thread of its own."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(listener), self._loop).result(10)

    def stop(self) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self, listener: socket.socket) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):  # a stalled exchange would hold the cleanup up
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        if self.mode == "refuse":
            return web.Response(status=403, text="Forbidden")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            config = _body(await ws.receive_str())
            ssml = _body(await ws.receive_str())
            self.received.append(_received(dict(request.query), config, ssml))
            await self._answer(ws)
        finally:
            self._sockets.discard(ws)
        return ws

    async def _answer(self, ws: web.WebSocketResponse) -> None:
        """What the service sends back for one ``ssml`` message, as the mode says."""
        request_id = uuid.uuid4().hex
        if self.mode == "close":
            await ws.close()
            return
        if self.mode == "stall":
            while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
                pass  # until the client gives up
            return
        mp3, words = self.mp3, self.words
        if self.echo_with is not None:
            text = self.received[-1].text
            mp3, words, _seconds = spoken_mp3(self.echo_with, text, _espeak_voice(text))
        mp3 = b"\xde\xad\xbe\xef" * 512 if self.mode == "garbage" else mp3
        await ws.send_str(_text(request_id, "turn.start", {"context": {"serviceTag": "fake"}}))
        chunks = [mp3[i : i + CHUNK_BYTES] for i in range(0, len(mp3), CHUNK_BYTES)]
        for index, chunk in enumerate(chunks):
            if index < len(words):  # the boundaries come along with the audio
                await ws.send_str(_text(request_id, "audio.metadata", _metadata(words[index])))
            await ws.send_bytes(_audio(request_id, chunk))
        for word in words[len(chunks) :]:
            await ws.send_str(_text(request_id, "audio.metadata", _metadata(word)))
        await ws.send_bytes(_audio(request_id, b""))  # the service's end of the stream
        await ws.send_str(_text(request_id, "turn.end", {}))
        await ws.receive()  # the client closes


def _espeak_voice(text: str) -> str:
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) else "en-us"


def _body(message: str) -> str:
    """A text message's body, after its headers and the blank line."""
    return message.split("\r\n\r\n", 1)[1]


def _received(query: dict[str, str], config: str, ssml: str) -> Received:
    voice = re.search(r"<voice name='([^']*)'>", ssml)
    rate = re.search(r"<prosody [^>]*rate='([^']*)'", ssml)
    text = re.search(r"<prosody [^>]*>(.*)</prosody>", ssml, re.S)
    assert voice and rate and text, ssml
    return Received(query, json.loads(config), ssml, voice[1], rate[1], unescape(text[1]))


def _text(request_id: str, path: str, body: object) -> str:
    """A text message: headers, a blank line, JSON."""
    return (
        f"X-RequestId:{request_id}\r\nContent-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{json.dumps(body, ensure_ascii=False)}"
    )


def _audio(request_id: str, data: bytes) -> bytes:
    """A binary message: the headers' length (2 bytes, big-endian), the headers, the audio.
    The headers end with Path and CRLF, as the service's do: edge-tts reads the headers from
    the message's start, length bytes included, and drops their last two bytes."""
    content_type = "Content-Type:audio/mpeg\r\n" if data else ""
    headers = (
        f"X-RequestId:{request_id}\r\n{content_type}X-StreamId:{request_id}\r\nPath:audio\r\n"
    ).encode()
    return len(headers).to_bytes(2, "big") + headers + data


def _metadata(word: Boundary) -> dict[str, object]:
    return {
        "Metadata": [
            {
                "Type": "WordBoundary",
                "Data": {
                    "Offset": word.offset,
                    "Duration": word.duration,
                    "text": {"Text": word.text, "Length": len(word.text),
                             "BoundaryType": "WordBoundary"},
                },
            }
        ]
    }  # fmt: skip


def spoken_mp3(ffmpeg: str, text: str, voice: str = "ko") -> tuple[bytes, list[Boundary], float]:
    """``text`` spoken by eSpeak NG and encoded as the service's MP3 (24 kHz mono, 48 kbit/s,
    no header frame, as a stream has), its words' boundaries, and its length in seconds."""
    from autoqueue.media.espeak import Espeak

    speech = Espeak.get().speak(text, voice, 175)
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-f", "s16le", "-ar", str(speech.rate), "-ac", "1",
         "-i", "pipe:0", "-ar", "24000", "-ac", "1", "-b:a", "48k", "-write_xing", "0",
         "-f", "mp3", "pipe:1"],
        input=speech.pcm, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    ticks = TICKS_PER_SECOND
    words = [
        Boundary(w.text, round(w.start * ticks), round((w.end - w.start) * ticks))
        for w in speech.words
    ]
    return result.stdout, words, speech.seconds
