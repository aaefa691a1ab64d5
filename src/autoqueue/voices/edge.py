"""Microsoft's neural voices, the ones Edge reads aloud with, through the ``edge-tts`` package:
free and keyless, but an unofficial client of a service that sometimes refuses it.

The service streams MP3 and, when asked, when each word is spoken (``WordBoundary`` events,
in 100-nanosecond ticks). edge-tts is asyncio; this engine is called from an ordinary thread,
so each call runs its own event loop, bounded by the call's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from autoqueue.config import VoiceEngineConfig
from autoqueue.media.espeak import Speech, Word
from autoqueue.voices.engine import Engine, EngineUnavailable, VoiceRequest, decode_audio

if TYPE_CHECKING:
    from edge_tts import Communicate

ENGINE = "edge"

DEFAULT_VOICES = {
    "ko": "ko-KR-SunHiNeural",
    "en": "en-US-AriaNeural",
    "ja": "ja-JP-NanamiNeural",
    "zh": "zh-CN-XiaoxiaoNeural",
    "es": "es-ES-ElviraNeural",
    "fr": "fr-FR-DeniseNeural",
    "de": "de-DE-KatjaNeural",
    "it": "it-IT-ElsaNeural",
    "pt": "pt-BR-FranciscaNeural",
}

_NORMAL_PACE = 175  # words a minute that the voice's own speed (+0%) stands for
_SLOWEST, _FASTEST = -50, 100  # percent: the service's range is half to twice the speed
_TICKS_PER_SECOND = 10_000_000
_REFUSED = (
    "Microsoft refused the request (HTTP 403); edge-tts is an unofficial client and is "
    "sometimes refused"
)

# edge-tts has no parameter for the service's address: Communicate builds it from the module
# global ``edge_tts.communicate.WSS_URL`` each time it connects (again on its one retry after a
# 403). Another address means replacing that global for the length of the call and putting it
# back after. Every call holds this lock, replacing it or not: a call to Microsoft made while
# another call's address is in place would go to that address.
_ADDRESS_LOCK = threading.Lock()

_T = TypeVar("_T")


def speak(
    request: VoiceRequest, *, endpoint: str | None = None, timeout: float = 60, rate: int = 24000
) -> Speech:
    """``request`` spoken by an Edge voice, at ``rate``, with its words as the service times
    them. ``endpoint`` is the service's websocket address (default: Microsoft's)."""
    voice = _voice(request)
    deadline = time.monotonic() + timeout
    pace = _pace(request.words_per_minute)
    mp3, words = _synthesize(request.text, voice, pace, endpoint, deadline)
    try:
        pcm = decode_audio(request.ffmpeg, mp3, rate)
    except (ValueError, OSError, subprocess.SubprocessError) as exc:  # ffmpeg failed, or none
        raise EngineUnavailable(
            ENGINE, "ffmpeg could not decode the service's audio: " + " ".join(str(exc).split())
        ) from exc
    return Speech(pcm, rate, words)


def engine(config: VoiceEngineConfig) -> Engine:
    """The edge engine with ``[voices.edge]``'s voices per language, address and timeout."""

    def speak_with(request: VoiceRequest) -> Speech:
        voice = request.voice or config.voice.get(request.language)
        return speak(
            replace(request, voice=voice), endpoint=config.endpoint, timeout=config.timeout
        )

    return speak_with


def _voice(request: VoiceRequest) -> str:
    """The configured voice, else the default voice of the request's language."""
    if request.voice:
        return request.voice
    language = request.language.lower()
    if language not in DEFAULT_VOICES:
        raise EngineUnavailable(
            ENGINE,
            f"no default voice for language {request.language!r}; set one "
            "(an edge-tts voice name such as ko-KR-SunHiNeural)",
        )
    return DEFAULT_VOICES[language]


def _pace(words_per_minute: int) -> str:
    """edge-tts's rate for a pace: ``+0%`` at 175 words a minute, ``+10%`` at 192, ..."""
    percent = round((words_per_minute / _NORMAL_PACE - 1) * 100)
    return f"{min(max(percent, _SLOWEST), _FASTEST):+d}%"


def _synthesize(
    text: str, voice: str, pace: str, endpoint: str | None, deadline: float
) -> tuple[bytes, list[Word]]:
    """The MP3 of ``text`` and its words, or EngineUnavailable saying why not."""
    try:
        import edge_tts
    except ImportError as exc:  # the chain goes on to the next engine
        raise EngineUnavailable(ENGINE, f"the edge-tts package is not installed: {exc}") from exc
    try:
        # Word boundaries asked for: since edge-tts 7.2 the default is one per sentence.
        communicate = edge_tts.Communicate(text, voice, rate=pace, boundary="WordBoundary")
    except ValueError as exc:  # edge-tts checks the voice's name and the rate
        raise EngineUnavailable(ENGINE, f"edge-tts does not take voice {voice!r}: {exc}") from exc
    if not _ADDRESS_LOCK.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise EngineUnavailable(ENGINE, "another line kept edge-tts busy past this one's timeout")
    try:
        with _address(endpoint):
            return _run(_collect(communicate), deadline - time.monotonic())
    except Exception as exc:
        raise EngineUnavailable(ENGINE, _reason(exc)) from exc
    finally:
        _ADDRESS_LOCK.release()


@contextlib.contextmanager
def _address(endpoint: str | None) -> Iterator[None]:
    """edge-tts connecting to ``endpoint`` rather than Microsoft, while the block runs (the
    caller holds _ADDRESS_LOCK). edge-tts appends ``&ConnectionId=...&Sec-MS-GEC=...``."""
    if endpoint is None:
        yield
        return
    from edge_tts import communicate

    module = vars(communicate)  # WSS_URL is edge-tts's own, not exported: through its namespace
    saved = module["WSS_URL"]
    module["WSS_URL"] = endpoint if "?" in endpoint else endpoint + "?"
    try:
        yield
    finally:
        module["WSS_URL"] = saved


async def _collect(communicate: Communicate) -> tuple[bytes, list[Word]]:
    """The audio chunks joined and the word boundaries in the order the service sent them."""
    audio = bytearray()
    words: list[Word] = []
    async with contextlib.aclosing(communicate.stream()) as chunks:
        async for chunk in chunks:
            if chunk["type"] == "audio":
                audio += chunk["data"]
            elif chunk["type"] == "WordBoundary":
                start = chunk["offset"] / _TICKS_PER_SECOND
                end = (chunk["offset"] + chunk["duration"]) / _TICKS_PER_SECOND
                words.append(Word(chunk["text"], start, end))
    return bytes(audio), words


def _run(coroutine: Coroutine[Any, Any, _T], timeout: float) -> _T:
    """``coroutine`` run to its end on a loop of its own, cancelled after ``timeout`` seconds."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(coroutine, max(timeout, 0.0)))
    finally:
        # Not asyncio.run: closing, it waits for the loop's executor threads, and a host name
        # lookup stuck in one (aiohttp resolves names there) would hold the call past timeout.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _reason(exc: Exception) -> str:
    """One line for the log about why edge-tts failed (no address: it carries the token)."""
    import aiohttp
    from edge_tts import exceptions

    # On a 403 edge-tts corrects its clock from the answer's Date and tries once more; with no
    # Date it raises SkewAdjustmentError, the 403 being its cause.
    refusal = exc.__cause__ if isinstance(exc, exceptions.SkewAdjustmentError) else exc
    if isinstance(refusal, aiohttp.ClientResponseError):
        if refusal.status == 403:
            return _REFUSED
        return f"the service answered HTTP {refusal.status} {refusal.message}".rstrip()
    if isinstance(exc, TimeoutError):
        return "the service did not finish answering in time"
    if isinstance(exc, exceptions.NoAudioReceived):
        return "the service sent no audio"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to the service: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"connection to the service failed: {type(exc).__name__}: {exc}"
    return f"edge-tts failed: {type(exc).__name__}: {exc}"
