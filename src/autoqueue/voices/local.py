"""The voices that need no network: eSpeak NG (built in), the operating system's voices (through
pyttsx3, in a program of their own) and the user's own TTS program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autoqueue.config import StageConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.media.espeak import Espeak, Speech
from autoqueue.stages.base import StageContext
from autoqueue.voices.engine import Engine, VoiceRequest

SYSTEM_VOICE = [sys.executable, "-m", "autoqueue.media.system_voice"]
PART_FILE = "narration_part.wav"


def espeak_voice(request: VoiceRequest) -> str:
    """The eSpeak voice: the configured one, else Korean for Korean text, else English."""
    return request.voice or ("ko" if request.language == "ko" else "en-us")


def espeak(request: VoiceRequest) -> Speech:
    """eSpeak NG from the espeakng-loader wheel, with its own word positions."""
    return Espeak.get().speak(request.text, espeak_voice(request), request.words_per_minute)


def program(ctx: StageContext, config: StageConfig, command: list[str], label: str) -> Engine:
    """A TTS program (the user's, or the system voices' helper): it reads
    AUTOQUEUE_NARRATION_TEXT (and _VOICE, _RATE) and writes an audio file to
    AUTOQUEUE_NARRATION_OUT; it reports no word times."""
    from autoqueue.i18n import current
    from autoqueue.stages.command import run_command

    def speak(request: VoiceRequest) -> Speech:
        out = ctx.task_dir / PART_FILE
        out.unlink(missing_ok=True)
        run_command(
            ctx,
            command,
            timeout=config.timeout,
            max_log_lines=config.max_log_lines,
            extra_env={
                "AUTOQUEUE_NARRATION_TEXT": request.text,
                "AUTOQUEUE_NARRATION_VOICE": espeak_voice(request),
                "AUTOQUEUE_NARRATION_RATE": str(request.words_per_minute),
                "AUTOQUEUE_NARRATION_OUT": str(out),
                "AUTOQUEUE_LANGUAGE": current(),
            },
        )
        try:
            return Speech(_read(request.ffmpeg, out, label), SAMPLE_RATE)
        finally:
            out.unlink(missing_ok=True)

    return speak


SAMPLE_RATE = 24000  # what every engine's speech is brought to: the highest of their own rates


def _read(ffmpeg: str, audio: Path, label: str) -> bytes:
    """The program's audio as 16-bit mono PCM at ``SAMPLE_RATE``."""
    if not audio.is_file():
        raise PermanentStageError(
            _("{program} wrote no {name}").format(program=label, name=audio.name)
        )
    try:
        result = subprocess.run(
            [ffmpeg, "-v", "error", "-i", str(audio), "-f", "s16le", "-ar", str(SAMPLE_RATE),
             "-ac", "1", "pipe:1"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise PermanentStageError(
            _("{program} wrote audio ffmpeg cannot read: {error}").format(
                program=label, error=exc.stderr.decode(errors="replace")[-300:]
            )
        ) from exc
    return result.stdout


def command(ctx: StageContext, config: StageConfig) -> Engine:
    """``narration = "command"``: the user's own TTS program."""
    if not config.narration_command:
        raise PermanentStageError(
            _(
                '[stages.video] narration = "command" needs narration_command = ["program", '
                '"args"]: a program that writes the WAV named by $AUTOQUEUE_NARRATION_OUT'
            )
        )
    return program(ctx, config, config.narration_command, "narration_command")


def system(ctx: StageContext, config: StageConfig) -> Engine:
    """``narration = "system"``: the operating system's voices, in a program of their own."""
    return program(ctx, config, SYSTEM_VOICE, "autoqueue.media.system_voice")
