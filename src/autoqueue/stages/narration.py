"""The soundtrack of a render: how long each scene lasts, the voice-over, and the timed words
that captions follow.

- A ``narration.*`` file of the user's wins: the scenes are stretched to its length, and the
  captions spread each scene's text over the scene.
- Otherwise each scene's text is spoken (eSpeak NG offline, or the user's TTS program), and a
  scene lasts as long as its narration plus a little air (or its story ``duration``, when that
  is longer). The voice-over is written to ``voice.wav`` in the task folder.
- ``narration = "off"``: the story's durations, no voice; captions still follow the text.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autoqueue.config import StageConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.stages import ffmpeg
from autoqueue.stages.base import StageContext
from autoqueue.story import Story
from autoqueue.tts import Espeak, Speech, Word, join, voice_for

AIR = 0.4  # seconds of silence after each scene's narration
DEFAULT_SCENE_SECONDS = 3.0
AUDIO_SUFFIXES = (".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac", ".opus")
VOICE_FILE = "voice.wav"
SPEECH_RATE = 22050
SYSTEM_VOICE = [sys.executable, "-m", "autoqueue.system_voice"]


@dataclass
class Soundtrack:
    durations: tuple[float, ...]
    narration: Path | None
    # for the captions: each scene's timed words (times from the video's start)
    scenes: list[list[Word]] = field(default_factory=list)
    generated: bool = False


def user_narration(task_dir: Path) -> Path | None:
    for path in sorted(task_dir.glob("narration.*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            return path
    return None


def _frames(seconds: float) -> float:
    """``seconds`` rounded up to whole frames, so that audio and video end together."""
    return math.ceil(round(seconds * ffmpeg.FPS, 6)) / ffmpeg.FPS


def _texts(story: Story, count: int) -> list[tuple[str, bool, str | None, float | None]]:
    """Per image: its text, whether it is captioned, its voice and its story duration."""
    scenes = []
    for index in range(count):
        if index < len(story.scenes):
            scene = story.scenes[index]
            scenes.append((scene.text, scene.captions, scene.voice, scene.duration))
        else:
            scenes.append(("", False, None, None))
    return scenes


def _spread_words(
    texts: list[tuple[str, bool, str | None, float | None]], durations: tuple[float, ...]
) -> list[list[Word]]:
    from autoqueue.captions import spread

    scenes: list[list[Word]] = []
    at = 0.0
    for (text, captioned, _voice, _duration), seconds in zip(texts, durations, strict=True):
        scenes.append(
            spread(text, at + 0.1, at + max(seconds - 0.2, 0.2)) if captioned and text else []
        )
        at += seconds
    return scenes


def prepare(
    ctx: StageContext, config: StageConfig, story: Story, count: int, exe: str
) -> Soundtrack:
    """The scenes' durations and the voice-over for a render of ``count`` images."""
    texts = _texts(story, count)
    base = [duration or DEFAULT_SCENE_SECONDS for _t, _c, _v, duration in texts]
    mine = user_narration(ctx.task_dir)
    if mine is not None:
        durations = ffmpeg.fit_durations(base, ffmpeg.duration(exe, mine))
        return Soundtrack(durations, mine, _spread_words(texts, durations))
    if config.narration == "off" or not any(text for text, *_ in texts):
        durations = tuple(base)
        return Soundtrack(durations, None, _spread_words(texts, durations))
    parts: list[Speech] = []
    scenes: list[list[Word]] = []
    durations_list: list[float] = []
    at = 0.0
    for text, captioned, voice, duration in texts:
        speech = _speak(ctx, config, exe, text, voice) if text else Speech(b"", SPEECH_RATE)
        seconds = _frames(max(speech.seconds + AIR, duration or 0.0, 1.0))
        scenes.append(
            [Word(w.text, w.start + at, w.end + at) for w in speech.words] if captioned else []
        )
        parts.append(speech.padded(seconds - speech.seconds))
        durations_list.append(seconds)
        at += seconds
    voice_path = ctx.task_dir / VOICE_FILE
    temporary = voice_path.with_suffix(".tmp.wav")
    join(parts).write_wav(temporary)
    temporary.replace(voice_path)
    return Soundtrack(tuple(durations_list), voice_path, scenes, generated=True)


def _speak(
    ctx: StageContext, config: StageConfig, exe: str, text: str, voice: str | None
) -> Speech:
    chosen = voice or voice_for(text, config.voice)
    if config.narration == "command":
        if not config.narration_command:
            raise PermanentStageError(
                _(
                    '[stages.video] narration = "command" needs narration_command = ["program", '
                    '"args"]: a program that writes the WAV named by $AUTOQUEUE_NARRATION_OUT'
                )
            )
        return _speak_with_command(
            ctx, config, exe, text, chosen, config.narration_command, "narration_command"
        )
    if config.narration == "system":
        return _speak_with_command(
            ctx, config, exe, text, chosen, SYSTEM_VOICE, "autoqueue.system_voice"
        )
    speech = Espeak.get().speak(text, chosen, config.words_per_minute)
    if speech.rate != SPEECH_RATE:  # every part of the voice-over has one rate
        speech = Speech(_resample(exe, speech.pcm, speech.rate), SPEECH_RATE, speech.words)
    return speech


def _resample(exe: str, pcm: bytes, rate: int) -> bytes:
    result = subprocess.run(
        [exe, "-v", "error", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
         "-f", "s16le", "-ar", str(SPEECH_RATE), "-ac", "1", "pipe:1"],
        input=pcm, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return result.stdout


def _speak_with_command(
    ctx: StageContext,
    config: StageConfig,
    exe: str,
    text: str,
    voice: str,
    command: list[str],
    label: str,
) -> Speech:
    """A TTS program (the user's, or the system voices' helper): it reads
    AUTOQUEUE_NARRATION_TEXT (and _VOICE, _RATE) and writes an audio file to
    AUTOQUEUE_NARRATION_OUT; it reports no word times, so the words are spread over what it
    said."""
    from autoqueue.captions import spread
    from autoqueue.i18n import current
    from autoqueue.stages.command import run_command

    out = ctx.task_dir / "narration_part.wav"
    out.unlink(missing_ok=True)
    run_command(
        ctx,
        command,
        timeout=config.timeout,
        max_log_lines=config.max_log_lines,
        extra_env={
            "AUTOQUEUE_NARRATION_TEXT": text,
            "AUTOQUEUE_NARRATION_VOICE": voice,
            "AUTOQUEUE_NARRATION_RATE": str(config.words_per_minute),
            "AUTOQUEUE_NARRATION_OUT": str(out),
            "AUTOQUEUE_LANGUAGE": current(),
        },
    )
    if not out.is_file():
        raise PermanentStageError(
            _("{program} wrote no {name}").format(program=label, name=out.name)
        )
    try:
        result = subprocess.run(
            [exe, "-v", "error", "-i", str(out), "-f", "s16le", "-ar", str(SPEECH_RATE),
             "-ac", "1", "pipe:1"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise PermanentStageError(
            _("{program} wrote audio ffmpeg cannot read: {error}").format(
                program=label, error=exc.stderr.decode(errors="replace")[-300:]
            )
        ) from exc
    finally:
        out.unlink(missing_ok=True)
    speech = Speech(result.stdout, SPEECH_RATE)
    speech.words = spread(text, 0.0, speech.seconds)
    return speech
