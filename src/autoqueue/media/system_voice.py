"""The operating system's own voices, through pyttsx3: SAPI5 on Windows, the speech synthesiser
on macOS, eSpeak NG on Linux (the one bundled with autoqueue when the system has none).

This is the video stage's ``narration = "system"`` engine. It runs as a program of its own
(``python -m autoqueue.media.system_voice``), under the same contract as a ``narration_command``: it
reads ``AUTOQUEUE_NARRATION_TEXT``, ``_VOICE`` (a language such as ``ko``, or a voice's id or
name), ``_RATE`` (words per minute) and writes the audio file named by ``_OUT``. A program of
its own because the platforms' speech APIs want their own thread or run loop (COM on Windows,
the main thread on macOS), and so that ``stop`` kills it like any other program of the stage.
No word times come back: the captions spread each scene's words over what was said.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autoqueue.attempt.program import PERMANENT_EXIT_CODE
from autoqueue.i18n import _, set_language


class NoVoice(Exception):
    """No installed voice speaks the language asked for."""


def _languages(voice: Any) -> list[str]:
    """A voice's languages as lowercase codes with hyphens (``ko-kr``); eSpeak gives them as
    bytes after a priority byte, macOS with an underscore."""
    found = []
    for entry in voice.languages or []:
        if isinstance(entry, bytes):
            entry = entry.lstrip(bytes(range(10))).decode("utf-8", "replace")
        found.append(str(entry).lower().replace("_", "-"))
    return found


def _language_name(code: str) -> str | None:
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(code).get_display_name("en"))
    except (ValueError, UnknownLocaleError):
        return None


def pick_voice(voices: Iterable[Any], wanted: str) -> str:
    """The id of the voice for ``wanted``: a voice whose id or name it is, else the first whose
    language it is (``ko`` matches ``ko``, ``ko-KR``, ``ko_KR`` and a Windows voice named
    "... - Korean"). Raises ``NoVoice``."""
    voices = list(voices)
    target = wanted.strip().lower()
    for voice in voices:
        if target in (str(voice.id).lower(), str(voice.name or "").lower()):
            return str(voice.id)
    code = target.replace("_", "-")
    primary = code.split("-")[0]
    name = (_language_name(primary) or "").lower()

    def speaks(voice: Any) -> bool:
        if any(language.split("-")[0] == primary for language in _languages(voice)):
            return True
        ident = str(voice.id).lower().replace("_", "-")  # ...\\TTS_MS_KO-KR_HEAMI, ...ko-KR.Yuna
        if re.search(rf"(^|[.\-\\]){re.escape(primary)}-[a-z]{{2}}([.\-]|$)", ident):
            return True
        return bool(name) and name in str(voice.name or "").lower()

    exact = [voice for voice in voices if code in _languages(voice)]
    for voice in exact or [v for v in voices if speaks(v)]:
        return str(voice.id)
    raise NoVoice(wanted)


def _bundled_espeak_on_linux() -> None:
    """pyttsx3 on Linux loads ``libespeak-ng.so.1`` by name: when the system has none, the
    library bundled with autoqueue (espeakng-loader) is loaded first under that name."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libespeak-ng.so.1")
        return
    except OSError:
        pass
    import espeakng_loader

    ctypes.CDLL(espeakng_loader.get_library_path(), mode=ctypes.RTLD_GLOBAL)
    os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())


def speak(text: str, wanted: str, words_per_minute: int, out: Path) -> None:
    """Say ``text`` into ``out`` with the system's voice for ``wanted``."""
    _bundled_espeak_on_linux()
    import pyttsx3

    engine = pyttsx3.init()
    engine.setProperty("voice", pick_voice(engine.getProperty("voices"), wanted))
    engine.setProperty("rate", words_per_minute)
    engine.save_to_file(text, str(out))
    engine.runAndWait()
    _settled(out)


def _settled(out: Path, limit: float = 10.0) -> None:
    """Wait until ``out`` stops growing: some drivers write it from the speech engine's own
    thread, and ``runAndWait`` can return while that thread is still writing (eSpeak NG's
    driver did, for texts of two sentences); leaving then would cut the file off."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        size = out.stat().st_size if out.is_file() else -1
        if size > 0 and size == last:
            return
        last = size
        time.sleep(0.1)


def main() -> int:
    set_language(os.environ.get("AUTOQUEUE_LANGUAGE", "en"))
    text = os.environ.get("AUTOQUEUE_NARRATION_TEXT", "")
    wanted = os.environ.get("AUTOQUEUE_NARRATION_VOICE", "en")
    out = Path(os.environ["AUTOQUEUE_NARRATION_OUT"])
    rate = int(os.environ.get("AUTOQUEUE_NARRATION_RATE", "170"))
    try:
        speak(text, wanted, rate, out)
    except NoVoice:
        print(
            _(
                "no system voice speaks {voice!r}: install one (Windows: Settings > Time & "
                "language > Speech; macOS: System Settings > Accessibility > Spoken Content), "
                'or set [stages.video] voice, or narration = "espeak"'
            ).format(voice=wanted),
            file=sys.stderr,
        )
        return PERMANENT_EXIT_CODE
    except ImportError as exc:
        print(
            _("the system voices need pyttsx3 ({exc}): pip install pyttsx3").format(exc=exc),
            file=sys.stderr,
        )
        return PERMANENT_EXIT_CODE
    if not out.is_file() or out.stat().st_size == 0:
        print(_("the system voice wrote no audio"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
