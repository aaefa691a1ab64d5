"""The voice chain: ``[stages.video] narration`` lists engines; the first one that can speak every
line of the video speaks them all (one voice per video, never a voice change mid-video).

- An engine that fails (network, a refusal, a 5xx) is skipped with a warn log row naming it and
  why, and rests for ``[voices] cooldown`` seconds (a file in the home, so every tick and host
  knows), so that a tick every minute does not hammer a dead service. An engine that is only not
  set up (no key, no voice installed for the language) is skipped with an info row.
- Korean text is made speakable first (numbers, prices, dates, acronyms: ``korean.py``), and
  the engine's word times, which follow what it said, are mapped back onto the written words
  that the captions show; an engine that gives no word times has them estimated from its audio.
- Each line an engine other than eSpeak said is kept in the task folder (``voice.cache/``), so a
  retry, a rerun after a crash or an adopted attempt never pays for the same line twice.
"""

from __future__ import annotations

import array
import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autoqueue.config import StageConfig
from autoqueue.errors import StageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import LogLevel
from autoqueue.media.espeak import Speech, Word, text_language, timed_words
from autoqueue.stages.base import StageContext, StageLog
from autoqueue.stages.task_settings import engine_voice
from autoqueue.voices import local
from autoqueue.voices.engine import Engine, EngineUnavailable, VoiceRequest

SAMPLE_RATE = local.SAMPLE_RATE
CACHE_FOLDER = "voice.cache"
REST_FILE = ".voices-resting.json"  # in the home: engines that failed, and until when
CACHED = frozenset({"edge", "openai", "google", "elevenlabs", "piper"})  # paid or slow ones
SILENCE = 330  # |sample| under this (about -40 dBFS) is silence at a line's ends
LEAD, TAIL = 0.03, 0.06  # seconds kept before the first and after the last sound


@dataclass(frozen=True)
class Line:
    """One scene's narration as written, and its own voice (eSpeak's or the system's)."""

    text: str
    voice: str | None = None


Factory = Callable[[StageContext, StageConfig], Engine]


def _factories() -> dict[str, Factory]:
    """Each engine's maker, imported only when the chain reaches it."""

    def edge_engine(ctx: StageContext, config: StageConfig) -> Engine:
        from autoqueue.voices import edge

        return edge.engine(ctx.workspace.config.voices.edge)

    def piper_engine(ctx: StageContext, config: StageConfig) -> Engine:
        from autoqueue.voices import piper

        return piper.engine(ctx.workspace.home, ctx.workspace.config.voices.piper)

    def paid_engine(name: str) -> Factory:
        def make(ctx: StageContext, config: StageConfig) -> Engine:
            from autoqueue.voices import paid

            return paid.engine(name, ctx, ctx.workspace.config.voices.engine(name))

        return make

    return {
        "edge": edge_engine,
        "piper": piper_engine,
        "openai": paid_engine("openai"),
        "google": paid_engine("google"),
        "elevenlabs": paid_engine("elevenlabs"),
        "espeak": lambda ctx, config: local.espeak,
        "system": local.system,
        "command": local.command,
    }


def speak_lines(
    ctx: StageContext, config: StageConfig, exe: str, lines: list[Line]
) -> list[Speech]:
    """Every line spoken by the first engine of the chain that can speak them all, at
    ``SAMPLE_RATE``, trimmed of silence at both ends, its words those of the written text."""
    names = config.voice_chain
    reasons: list[str] = []
    for position, name in enumerate(names):
        last = position == len(names) - 1
        resting = _resting(ctx, name)
        if resting and not last:
            reasons.append(f"{name}: {resting}")
            _log_skip(ctx, LogLevel.INFO, name, resting, names[position + 1 :], setup=False)
            continue
        try:
            engine = _make(ctx, config, name)
            spoken = [_line(ctx, config, exe, name, engine, line) for line in lines]
        except EngineUnavailable as exc:
            reasons.append(f"{name}: {exc.reason}")
            _skipped(ctx, config, name, exc, names[position + 1 :])
            continue
        except StageError as exc:
            if last:
                raise
            reasons.append(f"{name}: {exc}")
            _skipped(ctx, config, name, EngineUnavailable(name, str(exc)), names[position + 1 :])
            continue
        return spoken
    raise TransientStageError(
        _("no voice engine could speak: {reasons}").format(reasons="; ".join(reasons))
    )


def _make(ctx: StageContext, config: StageConfig, name: str) -> Engine:
    """The engine ``name``; one whose package is not installed cannot speak."""
    try:
        return _factories()[name](ctx, config)
    except ImportError as exc:
        raise EngineUnavailable(
            name, _("not installed ({error})").format(error=exc), setup=True
        ) from exc


def _skipped(
    ctx: StageContext,
    config: StageConfig,
    name: str,
    exc: EngineUnavailable,
    rest: list[str],
) -> None:
    """Log that ``name`` could not speak and who speaks instead; rest it unless it is only not
    set up (which, in the default order, is not worth a warning)."""
    if not exc.setup:
        _rest(ctx, name, exc.reason)
    quiet = exc.setup and "narration" not in config.model_fields_set
    level = LogLevel.INFO if quiet else LogLevel.WARN
    _log_skip(ctx, level, name, exc.reason, rest, setup=exc.setup)


def _log_skip(
    ctx: StageContext, level: LogLevel, name: str, reason: str, rest: list[str], *, setup: bool
) -> None:
    ctx.log(
        StageLog(
            level,
            _("🗣 voice {engine} could not speak ({reason}); next: {next}").format(
                engine=name, reason=reason, next=", ".join(rest) or "-"
            ),
            metadata={"engine": name, "reason": reason, "setup": setup},
        )
    )


def _rest_path(ctx: StageContext) -> Path:
    return ctx.workspace.home / REST_FILE


def _read_rests(ctx: StageContext) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_rest_path(ctx).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _resting(ctx: StageContext, name: str) -> str | None:
    """Why ``name`` is resting after a recent failure, or None when it may be asked."""
    entry = _read_rests(ctx).get(name)
    if not isinstance(entry, dict):
        return None
    until = entry.get("until")
    if not isinstance(until, int | float) or until <= time.time():
        return None
    return _("resting until {minutes:.0f} min from now after: {reason}").format(
        minutes=(until - time.time()) / 60, reason=entry.get("reason", "")
    )


def _rest(ctx: StageContext, name: str, reason: str) -> None:
    """Leave ``name`` alone for the configured cooldown (written whole, or not at all)."""
    cooldown = ctx.workspace.config.voices.cooldown
    if cooldown <= 0:
        return
    rests = _read_rests(ctx)
    rests[name] = {"until": time.time() + cooldown, "reason": reason[:300]}
    path = _rest_path(ctx)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(rests), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass  # a read-only home: the engine is simply asked again next time


def _line(
    ctx: StageContext, config: StageConfig, exe: str, name: str, engine: Engine, line: Line
) -> Speech:
    """One line through one engine (or its cache), trimmed, its words the written ones."""
    language = text_language(line.text)
    written = line.text.split()
    spoken = speakable(written, language)
    # the scene's own voice, else the task's for this engine, else [stages.video] voice
    local_voice = name in ("espeak", "system", "command")
    voice = (line.voice if local_voice else None) or engine_voice(ctx.task, name)
    voice = voice or (config.voice if local_voice else None)
    request = VoiceRequest(" ".join(spoken), language, voice, config.words_per_minute, exe)
    speech = _cached(ctx, name, request, lambda: _uniform(exe, engine(request)))
    speech = _trimmed(speech)
    if speech.words:
        words = align(written, spoken, speech.words, speech.seconds)
    else:
        words = estimate(speech, written)
    return Speech(speech.pcm, speech.rate, words)


def speakable(written: list[str], language: str) -> list[str]:
    """Each written word as the voice should say it (one spoken segment per written word)."""
    if language != "ko":
        return list(written)
    from autoqueue.voices import korean

    return korean.speakable_tokens(written)


def _uniform(exe: str, speech: Speech) -> Speech:
    """``speech`` at ``SAMPLE_RATE`` (every line of the voice-over has one rate)."""
    if speech.rate == SAMPLE_RATE or not speech.pcm:
        return speech
    result = subprocess.run(
        [exe, "-v", "error", "-f", "s16le", "-ar", str(speech.rate), "-ac", "1", "-i", "pipe:0",
         "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "pipe:1"],
        input=speech.pcm, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return Speech(result.stdout, SAMPLE_RATE, speech.words)


def _cached(
    ctx: StageContext, name: str, request: VoiceRequest, make: Callable[[], Speech]
) -> Speech:
    """The line from ``voice.cache/`` when this engine said it before with these settings,
    else made and kept there (audio and words, each written whole)."""
    if name not in CACHED:
        return make()
    key = hashlib.sha256(
        json.dumps([name, request.text, request.language, request.voice,
                    request.words_per_minute, _engine_settings(ctx, name), SAMPLE_RATE]).encode()
    ).hexdigest()[:32]  # fmt: skip
    folder = ctx.task_dir / CACHE_FOLDER
    audio, meta = folder / f"{key}.pcm", folder / f"{key}.json"
    if audio.is_file() and meta.is_file():
        words = [Word(str(t), float(s), float(e)) for t, s, e in json.loads(meta.read_text())]
        return Speech(audio.read_bytes(), SAMPLE_RATE, words)
    speech = make()
    folder.mkdir(parents=True, exist_ok=True)
    _write_whole(audio, speech.pcm)
    _write_whole(meta, json.dumps([[w.text, w.start, w.end] for w in speech.words]).encode())
    return speech


def _engine_settings(ctx: StageContext, name: str) -> object:
    settings = ctx.workspace.config.voices.engine(name)
    return [sorted(settings.voice.items()), settings.model]


def _write_whole(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _trimmed(speech: Speech) -> Speech:
    """``speech`` without the silence an engine leaves before and after it (all but ``LEAD``
    and ``TAIL``): the scene's breath is added once, by the caller."""
    samples = array.array("h", speech.pcm[: len(speech.pcm) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    block = max(1, speech.rate // 100)  # 10 ms
    loud = [
        i
        for i in range(0, len(samples), block)
        if max(samples[i : i + block]) > SILENCE or min(samples[i : i + block]) < -SILENCE
    ]
    if not loud:
        return speech
    first = max(0, loud[0] - round(LEAD * speech.rate))
    end = min(len(samples), loud[-1] + block + round(TAIL * speech.rate))
    shift = first / speech.rate
    length = (end - first) / speech.rate
    words = [
        Word(w.text, min(max(w.start - shift, 0.0), length), min(max(w.end - shift, 0.0), length))
        for w in speech.words
    ]
    return Speech(speech.pcm[first * 2 : end * 2], speech.rate, words)


_CORE = re.compile(r"[\w']+")


def align(written: list[str], spoken: list[str], words: list[Word], total: float) -> list[Word]:
    """The written words with the times of what the engine said for them: each engine word is
    found in the spoken text (in order) and belongs to the written word whose spoken segment
    holds it; a written word none was found for gets a time between its neighbours'."""
    owners: list[int] = []  # the written word each character of the spoken text belongs to
    for index, segment in enumerate(spoken):
        owners += [index] * (len(segment) + 1)
    # the spoken text's letters and digits alone, and where each stands in it
    places = [i for i, ch in enumerate(" ".join(spoken)) if ch.isalnum() or ch == "'"]
    plain = "".join(" ".join(spoken)[i] for i in places)
    starts: list[float | None] = [None] * len(written)
    cursor = 0  # in ``plain``
    for word in words:
        core = "".join(_CORE.findall(word.text))
        found = plain.find(core, cursor) if core else -1
        if found < 0:
            continue
        cursor = found + len(core)
        owner = owners[places[found]]
        if starts[owner] is None:
            starts[owner] = word.start
    return timed_words(written, starts, total)


def estimate(speech: Speech, written: list[str]) -> list[Word]:
    """Word times for an engine that gives none, from its audio (speech segments and
    syllables: ``timing.py``)."""
    from autoqueue.voices.timing import estimate_words

    return estimate_words(speech.pcm, speech.rate, written)
