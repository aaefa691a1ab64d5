"""What the paid voices share around their SDKs: the audio they send as 16-bit PCM, and why a
request failed, in one line without the key (a refused key, a missing model or voice, 429, 5xx,
a timeout, no network, audio that is missing or does not decode)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable

from autoqueue.i18n import _
from autoqueue.voices.engine import EngineUnavailable, decode_audio

PCM_RATE = 24_000  # OpenAI's "pcm" and Gemini's speech: 16-bit mono at 24 kHz


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut at ``limit`` characters (a reason is one log line)."""
    return " ".join(text.split())[:limit]


def key_hint(env: str, provider: str) -> str:
    """Where the key goes (the words of ``providers.Account.key_hint``)."""
    return _("set ${env} or write the key to credentials/{provider}.key in the home").format(
        env=env, provider=provider
    )


def _timeouts() -> tuple[type[Exception], ...]:
    """What the SDKs raise when the service does not answer in time."""
    import openai

    found: list[type[Exception]] = [openai.APITimeoutError]
    for module in ("httpx2", "httpx"):  # google-genai's transport, and elevenlabs'
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(module).TimeoutException)
    return tuple(found)


def reason_for(
    exc: Exception,
    status: int | None,
    said: str,
    *,
    where: str,
    hint: str,
    missing: str,
    timeout: float,
) -> str:
    """The one-line reason for a failed request: ``said`` is the service's own words (the key
    already cut out), ``hint`` where the key goes, ``missing`` what a 404 means."""
    if status is None:
        if isinstance(exc, _timeouts()):
            return _("{where} did not answer in {seconds:g} s").format(where=where, seconds=timeout)
        return _("{where} cannot be reached: {said}").format(where=where, said=said)
    if status in (401, 403) or (status == 400 and "API KEY" in said.upper().replace("_", " ")):
        return _("{where} refused the key ({said}): {hint}").format(
            where=where, said=said, hint=hint
        )
    if status == 404:
        return missing
    if status < 400:  # a success whose body the SDK could not read
        return _("{where} gave an answer that cannot be read: {said}").format(
            where=where, said=said
        )
    if status == 429:
        return _("{where} asks to slow down (429): {said}").format(where=where, said=said)
    if status >= 500:
        return _("{where} failed ({status}): {said}").format(where=where, status=status, said=said)
    return _("{where} refused the request: {said}").format(where=where, said=said)


def unreadable(
    engine: str, where: str, exc: Exception, redact: Callable[[str], str]
) -> EngineUnavailable:
    """An error the SDK raised that is none of its documented ones (an answer it could not
    parse, say): the engine is unavailable all the same."""
    said = one_line(redact(f"{type(exc).__name__}: {exc}"), 200)
    return EngineUnavailable(
        engine,
        _("{where} gave an answer that cannot be read: {said}").format(where=where, said=said),
    )


def pcm_of(data: bytes, engine: str, where: str) -> bytes:
    """Raw 16-bit samples as sent (an odd byte at the end dropped); no audio at all makes the
    engine unavailable."""
    if len(data) < 2:
        raise EngineUnavailable(engine, _("{where} answered without audio").format(where=where))
    return data[: len(data) - len(data) % 2]


def decoded(ffmpeg: str, data: bytes, engine: str, where: str) -> bytes:
    """Compressed audio (MP3, WAV, ...) as PCM at ``PCM_RATE``; audio that does not decode
    makes the engine unavailable."""
    try:
        return decode_audio(ffmpeg, data, PCM_RATE)
    except ValueError as exc:
        raise EngineUnavailable(
            engine,
            one_line(
                _("{where} sent audio that does not decode: {exc}").format(where=where, exc=exc)
            ),
        ) from None
