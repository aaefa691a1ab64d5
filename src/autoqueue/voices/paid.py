"""The paid voices, each through its provider's official SDK: OpenAI's speech endpoint
(``openai``), Gemini's speech models (``google-genai``) and ElevenLabs (``elevenlabs``).

- OpenAI and Google are reached as ``[providers.openai]`` / ``[providers.google]`` say (the
  key, base_url, timeout), and spend from the same daily ledger as the pictures and the
  script writer (stages/providers.py): a line is priced per character and counted before it
  is sent. Past a daily cap the engine is unavailable and the next voice speaks: a video is
  never held back for a voice. A ``base_url`` given to the factory is a server of the user's
  own (a local OpenAI-compatible speech server): no key needed, nothing counted.
- ElevenLabs' key comes from ``$ELEVENLABS_API_KEY`` or ``credentials/elevenlabs.key`` (0600).
  It alone says when each character is spoken, which gives the words' times for captions.
- Any failure (no key, a refused key, an unknown model or voice, 429, 5xx, a timeout, no
  network) is an ``EngineUnavailable`` whose reason is one line without the key. The SDKs'
  own retries are off: the chain decides what comes next.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from autoqueue.config import VoiceEngineConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.media.espeak import Speech, Word
from autoqueue.stages import providers
from autoqueue.stages.base import StageContext
from autoqueue.timeutil import utcnow
from autoqueue.voices.engine import Engine, EngineUnavailable, VoiceRequest, decode_audio

PCM_RATE = 24_000  # OpenAI's "pcm" and Gemini's speech: 16-bit mono at 24 kHz
PACE = 175  # the words per minute each service speaks at by itself

OPENAI_MODEL = "gpt-4o-mini-tts"
OPENAI_VOICES = {"en": "alloy", "ko": "nova"}  # any voice speaks any language; these suit them
OPENAI_VOICE = "alloy"
# US dollars per character: tts-1's list price ($15 per million characters), which is also
# about what gpt-4o-mini-tts costs for English ($12 per million audio tokens: ~$0.015 a minute).
OPENAI_PRICE = 15e-6

GOOGLE_MODEL = "gemini-3.8-flash-tts"  # the flagship speech model in google-genai 3.6's list
GOOGLE_VOICE = "Kore"
# US dollars per character, an estimate: Gemini's speech models bill ~$10 per million audio
# tokens at 25 tokens a second (~$0.015 a minute), rounded up for the newer models.
GOOGLE_PRICE = 20e-6

ELEVENLABS_KEY_ENV = "ELEVENLABS_API_KEY"
ELEVENLABS_VOICE = "JBFqnCBsd6RMkjVDRZzb"  # "George", a premade voice every account has
ELEVENLABS_MODEL = "eleven_multilingual_v2"  # Korean and English with one voice
ELEVENLABS_FORMAT = "pcm_24000"  # raw PCM on every plan: nothing to decode
ELEVENLABS_SITE = "ElevenLabs"


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


# -- OpenAI and Google: the providers of stages/providers.py -----------------------------------


class _Provider:
    """What the OpenAI and Google voices share: the account, the ledger and what errors mean."""

    def __init__(
        self,
        ctx: StageContext,
        provider: str,
        model: str,
        voice: str | None,
        price_per_char: float,
        base_url: str | None,
        timeout: float | None,
    ) -> None:
        self.ctx = ctx
        self.provider = provider  # also the engine's name
        self.model = model
        self.voice = voice
        self.price_per_char = price_per_char
        self.base_url = base_url
        self.timeout = timeout

    @functools.cached_property
    def account(self) -> providers.Account:
        """The provider's account (found on the first line: an engine that is never asked
        never looks for its key). Unavailable without a key."""
        workspace = self.ctx.workspace
        env = workspace.config.providers.get(self.provider).key_env(self.provider)
        try:
            return providers.account(
                workspace,
                self.provider,
                f"[voices.{self.provider}]",
                base_url=self.base_url,
                timeout=self.timeout,
            )
        except PermanentStageError as exc:
            if providers.has_key(workspace.home, self.provider, env):  # a key file too open
                raise EngineUnavailable(self.provider, one_line(str(exc))) from None
            raise EngineUnavailable(
                self.provider, _("no key: {hint}").format(hint=key_hint(env, self.provider))
            ) from None

    def charge(self, text: str) -> None:
        """Count the line in the provider's daily ledger before it is sent; past a cap the
        next voice speaks (a server of the user's own is not counted)."""
        if self.base_url is not None:
            return
        try:
            providers.charge(self.ctx, self.account, len(text) * self.price_per_char, utcnow())
        except providers.CapReached as exc:
            raise EngineUnavailable(
                self.provider,
                _(
                    "the daily {name} cap is reached ({over}): [providers.{provider}] "
                    "daily_requests / daily_budget"
                ).format(
                    name=providers.NAMES[self.provider], over=exc.over, provider=self.provider
                ),
            ) from None

    def unavailable(self, exc: Exception, voice: str) -> EngineUnavailable:
        """What an SDK error means for the chain."""
        account = self.account
        status, message, _code, _response = providers.status_of(exc)
        said = one_line(account.redact(message), 200)
        missing = _(
            "{where} has no model {model!r} or voice {voice!r} ({said}): set [voices.{engine}] "
            "model / voice"
        ).format(
            where=account.where, model=self.model, voice=voice, said=said, engine=self.provider
        )
        reason = reason_for(
            exc,
            status,
            said,
            where=account.where,
            hint=account.key_hint(),
            missing=missing,
            timeout=account.timeout,
        )
        return EngineUnavailable(self.provider, one_line(account.redact(reason)))


class _OpenAIVoice:
    """OpenAI's ``audio.speech.create``: raw PCM, no word times."""

    def __init__(self, provider: _Provider) -> None:
        self.provider = provider

    def __call__(self, request: VoiceRequest) -> Speech:
        provider = self.provider
        account = provider.account
        voice = request.voice or provider.voice or OPENAI_VOICES.get(request.language, OPENAI_VOICE)
        options: dict[str, Any] = {}
        if request.words_per_minute != PACE:  # the service's own pace unless asked otherwise
            options["speed"] = min(max(request.words_per_minute / PACE, 0.25), 4.0)
        provider.charge(request.text)
        try:
            response = account.openai().audio.speech.create(
                model=provider.model,
                voice=voice,
                input=request.text,
                response_format="pcm",
                **options,
            )
            data = response.content
        except providers.sdk_errors() as exc:
            raise provider.unavailable(exc, voice) from None
        except Exception as exc:  # an answer the SDK cannot read: still the next voice's turn
            raise unreadable(provider.provider, account.where, exc, account.redact) from None
        return Speech(pcm_of(data, "openai", account.where), PCM_RATE)


def openai_engine(
    ctx: StageContext,
    *,
    model: str = OPENAI_MODEL,
    voice: str | None = None,
    price_per_char: float = OPENAI_PRICE,
    base_url: str | None = None,
    timeout: float | None = None,
) -> Engine:
    """OpenAI's voices through ``[providers.openai]`` (``voice`` None: by language)."""
    return _OpenAIVoice(_Provider(ctx, "openai", model, voice, price_per_char, base_url, timeout))


def _rate_of(mime: str) -> int | None:
    """The rate of raw PCM (``audio/L16;codec=pcm;rate=24000``), or None for anything else."""
    kind, _sep, parameters = mime.lower().partition(";")
    if kind.strip() not in ("audio/l16", "audio/pcm"):
        return None
    found = re.search(r"rate=(\d+)", parameters)
    return int(found.group(1)) if found else PCM_RATE


class _GoogleVoice:
    """Gemini's speech models: ``generate_content`` answering with audio, no word times."""

    def __init__(self, provider: _Provider) -> None:
        self.provider = provider

    def __call__(self, request: VoiceRequest) -> Speech:
        from google.genai import types

        from autoqueue.stages.llm import google_refusal

        provider = self.provider
        account = provider.account
        voice = request.voice or provider.voice or GOOGLE_VOICE
        speech = types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)
            )
        )
        provider.charge(request.text)
        try:
            response = account.google().models.generate_content(
                model=provider.model,
                contents=request.text,
                config=types.GenerateContentConfig(
                    response_modalities=["AUDIO"], speech_config=speech
                ),
            )
        except providers.sdk_errors() as exc:
            raise provider.unavailable(exc, voice) from None
        except Exception as exc:  # an answer the SDK cannot read: still the next voice's turn
            raise unreadable(provider.provider, account.where, exc, account.redact) from None
        blocked = google_refusal(response)
        if blocked:
            refused = providers.refused(account, blocked)
            raise EngineUnavailable(provider.provider, one_line(str(refused)))
        return self._speech(response, request.ffmpeg)

    def _speech(self, response: Any, ffmpeg: str) -> Speech:
        """The answer's audio as 16-bit mono PCM."""
        where = self.provider.account.where
        for candidate in response.candidates or []:
            for part in (candidate.content.parts if candidate.content else None) or []:
                blob = part.inline_data
                if blob is None or not blob.data:
                    continue
                rate = _rate_of(blob.mime_type or "")
                if rate is not None:
                    return Speech(pcm_of(bytes(blob.data), "google", where), rate)
                return Speech(_decoded(ffmpeg, bytes(blob.data), "google", where), PCM_RATE)
        raise EngineUnavailable(
            self.provider.provider, _("{where} answered without audio").format(where=where)
        )


def google_engine(
    ctx: StageContext,
    *,
    model: str = GOOGLE_MODEL,
    voice: str | None = None,
    price_per_char: float = GOOGLE_PRICE,
    base_url: str | None = None,
    timeout: float | None = None,
) -> Engine:
    """Gemini's voices through ``[providers.google]`` (``voice``: a prebuilt voice's name)."""
    return _GoogleVoice(_Provider(ctx, "google", model, voice, price_per_char, base_url, timeout))


def _decoded(ffmpeg: str, data: bytes, engine: str, where: str) -> bytes:
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


# -- ElevenLabs --------------------------------------------------------------------------------


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
            speech = Speech(_decoded(ffmpeg, audio, "elevenlabs", self.where), PCM_RATE)
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


def engine(name: str, ctx: StageContext, config: VoiceEngineConfig) -> Engine:
    """The paid engine ``name`` (openai, google, elevenlabs) with ``[voices.{name}]``'s model,
    voice per language, address, price (per 1,000 characters) and timeout."""
    options: dict[str, Any] = {"base_url": config.endpoint, "timeout": config.timeout}
    if config.model:
        options["model"] = config.model
    if name == "elevenlabs":
        spoken = elevenlabs_engine(ctx.workspace.home, **options)
    else:
        if config.price is not None:
            options["price_per_char"] = config.price / 1000
        spoken = (openai_engine if name == "openai" else google_engine)(ctx, **options)

    def speak(request: VoiceRequest) -> Speech:
        return spoken(replace(request, voice=request.voice or config.voice.get(request.language)))

    return speak
