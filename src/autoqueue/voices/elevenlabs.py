"""ElevenLabs' voices, through the ``elevenlabs`` SDK: the key from ``$ELEVENLABS_API_KEY`` or
``credentials/elevenlabs.key`` (0600). It alone says when each character is spoken, which gives
the words' times for captions."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.media.espeak import Speech, Word
from autoqueue.stages import providers
from autoqueue.voices.engine import Engine, EngineUnavailable, VoiceRequest
from autoqueue.voices.sdk import (
    PCM_RATE,
    decoded,
    key_hint,
    one_line,
    pcm_of,
    reason_for,
    unreadable,
)

ELEVENLABS_KEY_ENV = "ELEVENLABS_API_KEY"
ELEVENLABS_VOICE = "JBFqnCBsd6RMkjVDRZzb"  # "George", a premade voice every account has
ELEVENLABS_MODEL = "eleven_multilingual_v2"  # Korean and English with one voice
ELEVENLABS_FORMAT = "pcm_24000"  # raw PCM on every plan: nothing to decode
ELEVENLABS_SITE = "ElevenLabs"


def alignment_words(characters: list[str], starts: list[float], ends: list[float]) -> list[Word]:
    """Words as written (the characters between spaces, punctuation included), each from its
    first character's start to its last character's end."""
    words: list[Word] = []
    letters: list[str] = []
    first = last = 0.0
    for character, start, end in zip(characters, starts, ends, strict=False):
        if character.isspace():
            if letters:
                words.append(Word("".join(letters), first, last))
                letters = []
            continue
        if not letters:
            first = start
        letters.append(character)
        last = end
    if letters:
        words.append(Word("".join(letters), first, last))
    return words


def _elevenlabs_said(body: Any) -> tuple[str, str]:
    """(status, message) of an ElevenLabs error body: ``{"detail": {"status", "message"}}``,
    or ``{"detail": "..."}``, or anything else."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        return str(detail.get("status") or ""), str(detail.get("message") or detail)
    return "", str(detail)


class _ElevenLabsVoice:
    """ElevenLabs' ``convert_with_timestamps``: PCM and each character's time."""

    def __init__(
        self,
        home: Path,
        voice_id: str,
        model: str,
        output_format: str,
        base_url: str | None,
        timeout: float,
    ) -> None:
        self.home = home
        self.voice_id = voice_id
        self.model = model
        self.output_format = output_format
        self.base_url = base_url
        self.timeout = timeout
        self.where = base_url or ELEVENLABS_SITE

    @functools.cached_property
    def key(self) -> str:
        """The key (looked for on the first line); unavailable without one."""
        try:
            found = providers.find_key(self.home, "elevenlabs", ELEVENLABS_KEY_ENV)
        except PermanentStageError as exc:  # a key file that others can read
            raise EngineUnavailable("elevenlabs", one_line(str(exc))) from None
        if found is None:
            hint = key_hint(ELEVENLABS_KEY_ENV, "elevenlabs")
            raise EngineUnavailable("elevenlabs", _("no key: {hint}").format(hint=hint))
        return found

    @functools.cached_property
    def client(self) -> Any:
        """The ``elevenlabs`` client (one per engine: it keeps its connections)."""
        from elevenlabs import ElevenLabs

        return ElevenLabs(api_key=self.key, base_url=self.base_url, timeout=self.timeout)

    def __call__(self, request: VoiceRequest) -> Speech:
        import httpx
        from elevenlabs.core import ApiError

        voice = request.voice or self.voice_id
        client = self.client
        try:
            answer = client.text_to_speech.convert_with_timestamps(
                voice,
                text=request.text,
                model_id=self.model,
                output_format=self.output_format,
                request_options={"max_retries": 0},  # the SDK retries twice unless told
            )
        except (ApiError, httpx.HTTPError) as exc:
            raise self.unavailable(exc, voice) from None
        except Exception as exc:  # an answer the SDK cannot read: still the next voice's turn
            raise unreadable("elevenlabs", self.where, exc, self.redact) from None
        return self._speech(answer, request.ffmpeg)

    def _speech(self, answer: Any, ffmpeg: str) -> Speech:
        """The answer's audio as 16-bit mono PCM, and its words' times."""
        try:
            audio = base64.b64decode(getattr(answer, "audio_base_64", None) or "", validate=True)
        except ValueError:
            audio = b""
        kind, _sep, rate_text = self.output_format.partition("_")
        if kind == "pcm" and rate_text.isdigit():
            speech = Speech(pcm_of(audio, "elevenlabs", self.where), int(rate_text))
        elif audio:
            speech = Speech(decoded(ffmpeg, audio, "elevenlabs", self.where), PCM_RATE)
        else:
            raise EngineUnavailable(
                "elevenlabs", _("{where} answered without audio").format(where=self.where)
            )
        alignment = getattr(answer, "alignment", None) or getattr(
            answer, "normalized_alignment", None
        )
        if alignment is not None:
            speech.words = alignment_words(
                list(alignment.characters),
                list(alignment.character_start_times_seconds),
                list(alignment.character_end_times_seconds),
            )
        return speech

    def redact(self, text: str) -> str:
        return text.replace(self.key, "***")

    def unavailable(self, exc: Exception, voice: str) -> EngineUnavailable:
        """What an SDK error means for the chain (a 401 may also be an account out of
        credits)."""
        status: int | None = getattr(exc, "status_code", None)
        code, message = _elevenlabs_said(getattr(exc, "body", None))
        said = one_line(self.redact(message if status is not None else str(exc)), 200)
        if code == "quota_exceeded":
            reason = _("{where} has no credits left for this line: {said}").format(
                where=self.where, said=said
            )
        else:
            missing = _(
                "{where} has no voice {voice!r} or model {model!r} ({said}): set "
                "[voices.elevenlabs] voice / model"
            ).format(where=self.where, voice=voice, model=self.model, said=said)
            reason = reason_for(
                exc,
                status,
                said,
                where=self.where,
                hint=key_hint(ELEVENLABS_KEY_ENV, "elevenlabs"),
                missing=missing,
                timeout=self.timeout,
            )
        return EngineUnavailable("elevenlabs", one_line(self.redact(reason)))


def elevenlabs_engine(
    home: Path,
    *,
    voice: str = ELEVENLABS_VOICE,
    model: str = ELEVENLABS_MODEL,
    output_format: str = ELEVENLABS_FORMAT,
    base_url: str | None = None,
    timeout: float = 120,
) -> Engine:
    """ElevenLabs' voices (``voice``: a voice id), with the words' times; the key from
    ``$ELEVENLABS_API_KEY`` or ``credentials/elevenlabs.key`` in ``home``."""
    return _ElevenLabsVoice(home, voice, model, output_format, base_url, timeout)
