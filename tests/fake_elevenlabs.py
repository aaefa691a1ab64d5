"""ElevenLabs' answers for the real ``elevenlabs`` SDK, served by the scripted server of
tests/fake_openai.py (its ``root`` is the SDK's ``base_url``):
``POST /v1/text-to-speech/{voice_id}/with-timestamps`` answers ``audio_base64`` (real speech,
16-bit PCM at 24 kHz) and ``alignment``, each character of the text with its start and end."""

from __future__ import annotations

import base64
import re
from typing import Any

from .fake_openai import Reply, spoken


def alignment(text: str, words: list[Any]) -> dict[str, list[Any]]:
    """Every character of ``text`` with its time, as ElevenLabs gives it: a word's characters
    share the first four fifths of its time (eSpeak's words end where the next one starts), the
    spaces after it the rest."""
    characters = list(text)
    starts = [0.0] * len(text)
    ends = [0.0] * len(text)
    tokens = list(re.finditer(r"\S+", text))
    assert len(tokens) == len(words), (tokens, words)
    for token, word in zip(tokens, words, strict=True):
        spoken_until = word.start + (word.end - word.start) * 0.8
        step = (spoken_until - word.start) / len(token.group())
        for offset, index in enumerate(range(token.start(), token.end())):
            starts[index] = round(word.start + offset * step, 3)
            ends[index] = round(word.start + (offset + 1) * step, 3)
        for index in range(token.end(), len(text)):  # the spaces up to the next word
            if not text[index].isspace():
                break
            starts[index], ends[index] = round(spoken_until, 3), round(word.end, 3)
    return {
        "characters": characters,
        "character_start_times_seconds": starts,
        "character_end_times_seconds": ends,
    }


def elevenlabs_speech(text: str) -> tuple[Reply, bytes, dict[str, list[Any]]]:
    """The answer for ``text`` spoken, and the PCM and the alignment in it."""
    pcm, words = spoken(text)
    aligned = alignment(text, words)
    data = {
        "audio_base64": base64.b64encode(pcm).decode(),
        "alignment": aligned,
        "normalized_alignment": aligned,
    }
    return Reply(data=data), pcm, aligned


def elevenlabs_failure(status: int, code: str, message: str) -> Reply:
    """ElevenLabs' error body: ``{"detail": {"status": ..., "message": ...}}``."""
    return Reply(status=status, data={"detail": {"status": code, "message": message}})
