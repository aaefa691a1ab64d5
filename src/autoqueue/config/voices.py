"""The voice engines' settings (``[voices.*]``) and the engines ``[stages.video] narration`` may
list."""

# Pydantic copies a field's default for each instance; ruff knows that only of models whose
# BaseModel it sees in the same file (Strict's is in base.py), so it would call them shared.
# ruff: noqa: RUF012

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from autoqueue.config.base import Strict

# The voice engines [stages.video] narration may list, tried in that order (docs/stages.md
# "Voices").
VoiceEngineName = Literal[
    "edge", "openai", "google", "elevenlabs", "piper", "espeak", "system", "command"
]
# The default chain: the best voice this machine has offline (a piper voice installed for the
# text's language), else eSpeak NG; no key, no network.
DEFAULT_NARRATION: tuple[VoiceEngineName, ...] = ("piper", "espeak")


class VoiceEngineConfig(Strict):
    """One voice engine's settings (``[voices.edge]``, ``[voices.openai]``, ...)."""

    # the engine's voice per language, e.g. {ko = "ko-KR-InJoonNeural", en = "en-US-GuyNeural"}
    voice: dict[str, str] = {}
    model: str | None = None  # openai, google, elevenlabs: the speech model (default: current)
    endpoint: str | None = None  # another address for the service (a proxy, a local fake)
    price: Annotated[float, Field(ge=0)] | None = None  # US dollars per 1,000 characters
    timeout: Annotated[float, Field(gt=0)] = 60  # seconds per line


class VoicesConfig(Strict):
    """The voice engines' settings, and how long an engine that failed is left alone."""

    cooldown: Annotated[float, Field(ge=0)] = 600  # seconds; 0: ask again at once
    edge: VoiceEngineConfig = VoiceEngineConfig()
    openai: VoiceEngineConfig = VoiceEngineConfig()
    google: VoiceEngineConfig = VoiceEngineConfig()
    elevenlabs: VoiceEngineConfig = VoiceEngineConfig()
    piper: VoiceEngineConfig = VoiceEngineConfig()

    def engine(self, name: str) -> VoiceEngineConfig:
        config = getattr(self, name, None)
        return config if isinstance(config, VoiceEngineConfig) else VoiceEngineConfig()
