"""The soundtrack of a render: how long each scene lasts, the voice-over, and the timed words
that captions follow.

- A ``narration.*`` file of the user's wins: the scenes are stretched to its length, and the
  captions spread each scene's text over the scene.
- Otherwise each scene's text is spoken by the voice chain (``voices/chain.py``: the engines of
  ``[stages.video] narration`` in order), and a scene lasts as long as its narration plus a
  breath (or its story ``duration``, when that is longer): no dead air. The voice-over is
  written to ``voice.wav`` in the task folder.
- ``narration = "off"``: the story's durations, no voice; captions still follow the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from autoqueue.config import StageConfig
from autoqueue.media.espeak import Speech, Word, join
from autoqueue.media.story import Story
from autoqueue.stages import ffmpeg
from autoqueue.stages.base import StageContext
from autoqueue.voices.chain import SAMPLE_RATE, Line, speak_lines

BREATH = 0.25  # seconds after each scene's narration: a breath, not dead air (at most 0.35)
DEFAULT_SCENE_SECONDS = 3.0  # a scene's length with no voice and no story duration
AUDIO_SUFFIXES = (".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac", ".opus")
VOICE_FILE = "voice.wav"


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
    from autoqueue.media.captions import spread

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
    if not config.voice_chain or not any(text for text, *_ in texts):
        durations = tuple(base)
        return Soundtrack(durations, None, _spread_words(texts, durations))
    lines = [Line(text, voice) for text, _captioned, voice, _duration in texts if text]
    spoken = iter(speak_lines(ctx, config, exe, lines))
    parts: list[Speech] = []
    scenes: list[list[Word]] = []
    durations_list: list[float] = []
    at = 0.0
    for text, captioned, _voice, duration in texts:
        speech = next(spoken) if text else Speech(b"", SAMPLE_RATE)
        seconds = _frames(max(speech.seconds + BREATH, duration or 0.0))
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
