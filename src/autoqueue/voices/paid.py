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

import functools
import re
from dataclasses import replace
from typing import Any

from autoqueue.config import VoiceEngineConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.media.espeak import Speech
from autoqueue.stages import providers
from autoqueue.stages.base import StageContext
from autoqueue.timeutil import utcnow
from autoqueue.voices.elevenlabs import elevenlabs_engine
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
                return Speech(decoded(ffmpeg, bytes(blob.data), "google", where), PCM_RATE)
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
