"""Offline narration: eSpeak NG, from the espeakng-loader wheel (the library and its voices,
Korean and English included: no system package), called through ctypes.

eSpeak reports where each word starts in the audio it makes, so captions can follow the voice
word by word. One synthesis at a time per process (the library keeps global state).
"""

from __future__ import annotations

import ctypes
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path

from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _

# espeak_AUDIO_OUTPUT, espeak_EVENT_TYPE, flags and parameters, from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_SAMPLE_BYTES = 2  # 16-bit mono


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    # ``languages`` is a run of (priority byte, NUL-terminated name) ended by a zero byte: read
    # by hand, so it is a plain pointer here.
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Word:
    """A word of the narration and when it is spoken, in seconds from the start."""

    text: str
    start: float
    end: float


@dataclass
class Speech:
    """16-bit mono PCM and its words."""

    pcm: bytes
    rate: int
    words: list[Word] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / _SAMPLE_BYTES / self.rate

    def padded(self, seconds: float) -> Speech:
        """The speech with ``seconds`` of silence after it (air between scenes)."""
        silence = b"\x00" * (_SAMPLE_BYTES * round(seconds * self.rate))
        return Speech(self.pcm + silence, self.rate, list(self.words))

    def write_wav(self, path: Path) -> None:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(_SAMPLE_BYTES)
            out.setframerate(self.rate)
            out.writeframes(self.pcm)


def join(parts: list[Speech]) -> Speech:
    """One speech from several, the words' times shifted to where each part starts."""
    rate = parts[0].rate
    pcm = bytearray()
    words: list[Word] = []
    for part in parts:
        offset = len(pcm) / _SAMPLE_BYTES / rate
        words += [Word(w.text, w.start + offset, w.end + offset) for w in part.words]
        pcm += part.pcm
    return Speech(bytes(pcm), rate, words)


class Espeak:
    """The eSpeak NG library, loaded once."""

    _lock = threading.Lock()
    _instance: Espeak | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - a dependency of autoqueue
            raise PermanentStageError(
                _("narration needs the espeakng-loader package: {exc}").format(exc=exc)
            ) from exc
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.rate <= 0:
            raise PermanentStageError(
                _("eSpeak NG did not start (its data: {path})").format(path=data.decode())
            )
        self._pcm = bytearray()
        self._events: list[tuple[int, int, int]] = []  # text position, length, audio ms
        self._callback = _CALLBACK(self._on_audio)  # kept: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> Espeak:
        with cls._lock:
            if cls._instance is None:
                cls._instance = Espeak()
            return cls._instance

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if count > 0 and wav:
            self._pcm += ctypes.string_at(wav, count * _SAMPLE_BYTES)
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._events.append((event.text_position, event.length, event.audio_position))
            index += 1
        return 0  # go on

    def voices(self) -> list[str]:
        """Every voice's language as ``speak`` takes it (``ko``, ``en-us``, ...), sorted."""
        with self._lock:
            listed = self.lib.espeak_ListVoices(None)  # NULL: every voice
            names = set()
            index = 0
            while listed[index]:
                languages = listed[index].contents.languages
                if languages and ctypes.string_at(languages, 1) != b"\x00":
                    # The first language after its priority byte is the voice's own.
                    names.add(ctypes.string_at(languages + 1).decode(errors="replace"))
                index += 1
        return sorted(names)

    def speak(self, text: str, voice: str, words_per_minute: int, pitch: int = 50) -> Speech:
        """``text`` spoken by ``voice`` (an eSpeak voice name: ``ko``, ``en-us``, ...)."""
        with self._lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise PermanentStageError(
                    _("eSpeak NG has no voice {voice!r} (try ko, en-us, en)").format(voice=voice)
                )
            self.lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
            self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            self._pcm = bytearray()
            self._events = []
            encoded = text.encode("utf-8") + b"\x00"
            buffer = ctypes.create_string_buffer(encoded)
            self.lib.espeak_Synth(
                buffer, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            self.lib.espeak_Synchronize()
            speech = Speech(bytes(self._pcm), self.rate)
            speech.words = _words(text, self._events, speech.seconds)
            return speech


def _words(text: str, events: list[tuple[int, int, int]], total: float) -> list[Word]:
    """The words of ``text`` (as written, punctuation included) with their times. eSpeak says
    where each word it speaks starts in the text (in characters, from 1) and in the audio; a
    written word takes the time of the first spoken word inside it (a number may be spoken as
    several), a written word eSpeak said nothing for gets a time between its neighbours', and a
    word ends where the next one starts."""
    import re

    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    starts: list[float | None] = [None] * len(tokens)
    for position, _length, millis in events:
        at = position - 1
        for index, (begin, end, _token) in enumerate(tokens):
            if begin <= at < end:
                if starts[index] is None:
                    starts[index] = millis / 1000
                break
    return timed_words([token for _b, _e, token in tokens], starts, total)


def timed_words(tokens: list[str], starts: list[float | None], total: float) -> list[Word]:
    """``tokens`` with their known ``starts``: one with none gets a time between its
    neighbours' (all spread evenly when none is known), never going backwards; each word ends
    where the next one starts, the last at ``total``."""
    known = [(i, t) for i, t in enumerate(starts) if t is not None]
    if not known:
        step = total / max(len(tokens), 1)
        filled = [i * step for i in range(len(tokens))]
    else:
        filled = []
        for index in range(len(tokens)):
            value = starts[index]
            if value is None:
                before = [(i, t) for i, t in known if i < index]
                after = [(i, t) for i, t in known if i > index]
                low_i, low_t = before[-1] if before else (-1, 0.0)
                high_i, high_t = after[0] if after else (len(tokens), total)
                value = low_t + (high_t - low_t) * (index - low_i) / (high_i - low_i)
            filled.append(max(value, filled[-1]) if filled else value)
    return [
        Word(token, start, filled[index + 1] if index + 1 < len(filled) else max(total, start))
        for index, (token, start) in enumerate(zip(tokens, filled, strict=True))
    ]


def text_language(text: str) -> str:
    """``ko`` when Hangul makes up more than 30% of the letters, else ``en``."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    letters = sum(1 for ch in text if ch.isalpha())
    return "ko" if letters and hangul / letters > 0.3 else "en"


def voice_for(text: str, configured: str | None) -> str:
    """The voice to speak ``text`` with: the configured one, else Korean for Korean text, else
    English."""
    if configured:
        return configured
    return "ko" if text_language(text) == "ko" else "en-us"
