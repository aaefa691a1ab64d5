"""What every voice engine is: a function from a ``VoiceRequest`` to a ``Speech`` (16-bit mono
PCM at the engine's own rate, and the spoken words' times when the engine reports them), or an
``EngineUnavailable`` that lets the next engine of the chain speak instead.

An engine never retries on its own and never sleeps: the chain decides what comes next, and
remembers an engine that failed for a while, so that a tick every minute does not hammer a dead
service.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from autoqueue.media.espeak import Speech


@dataclass(frozen=True)
class VoiceRequest:
    """One line to speak."""

    text: str  # already normalised for speaking (Korean numbers and acronyms spelled out)
    language: str  # the text's language: "ko", "en", ... (a primary language subtag)
    voice: str | None  # this engine's own voice name when configured; None: by language
    words_per_minute: int  # the pace asked for (175 is an ordinary pace); engines may ignore it
    ffmpeg: str  # the ffmpeg binary, to decode what an engine returns (MP3, Ogg, ...)


class EngineUnavailable(Exception):
    """This engine cannot speak this line now (no network, the service refused or failed, no
    key, no model or voice for the language): the next engine of the chain is asked.
    ``reason`` is one line a person reads in the log, with no secret in it. ``setup``: the
    engine is not set up for this (no key, no voice installed for the language) rather than
    failing, so the chain neither warns about it in its default order nor rests it."""

    def __init__(self, engine: str, reason: str, *, setup: bool = False) -> None:
        super().__init__(f"{engine}: {reason}")
        self.engine = engine
        self.reason = reason
        self.setup = setup


Engine = Callable[[VoiceRequest], Speech]


def decode_audio(ffmpeg: str, data: bytes, rate: int) -> bytes:
    """Any audio ffmpeg reads (MP3, Ogg, WAV, ...) as 16-bit mono PCM at ``rate``."""
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(rate),
         "pipe:1"],
        input=data, capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout:
        raise ValueError(result.stderr.decode(errors="replace").strip()[-300:] or "no audio")
    return result.stdout
