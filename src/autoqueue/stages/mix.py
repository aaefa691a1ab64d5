"""The render's sound: the narration and the music looped under it (ducked while the voice
speaks), one gain measured to bring the mix to the loudness target with its peaks kept under the
ceiling, and the ffmpeg command line for the sound alone."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

from autoqueue.stages.ffmpeg import RenderPlan

_INTEGRATED = re.compile(r"I:\s+(-?[\d.]+) LUFS")
PEAK_LIMIT = 0.84  # -1.5 dBFS: the limiter keeps peaks under it whatever the gain


def _audio_inputs(plan: RenderPlan, first: int) -> tuple[list[str], str | None, str | None]:
    """The narration and music inputs (music looped), and their stream labels."""
    argv: list[str] = []
    narration = music = None
    if plan.narration is not None:
        argv += ["-i", str(plan.narration)]
        narration = f"[{first}:a]"
        first += 1
    if plan.music is not None:
        argv += ["-stream_loop", "-1", "-i", str(plan.music)]
        music = f"[{first}:a]"
    return argv, narration, music


def _audio_filters(
    plan: RenderPlan, narration: str | None, music: str | None, *, measure: bool = False
) -> list[str]:
    """The audio graph: the narration, the music under it (ducked while the voice speaks), the
    mix brought to the loudness target; ends in ``[a]``."""
    filters = []
    if music is not None:
        filters.append(f"{music}volume={plan.music_volume:g}[music]")
    if narration is not None and music is not None:
        filters += [
            f"{narration}asplit=2[voice][key]",
            # The music drops by up to ~12 dB while the voice is there, and comes back after.
            "[music][key]sidechaincompress=threshold=0.02:ratio=6:attack=15:release=350[ducked]",
            "[voice][ducked]amix=inputs=2:duration=first:normalize=0[mix]",
        ]
        mixed = "[mix]"
    else:
        mixed = narration if narration is not None else "[music]"
    if plan.loudness is None:
        filters.append(f"{mixed}anull[a]")
        return filters
    # One gain brings the mix to the target. Synthetic speech peaks some 18 dB over its
    # loudness, 6 dB more than -14 LUFS under a -1.5 dB ceiling allows, and a limiter alone
    # only turns the whole voice down: a soft clipper rounds the peaks off first, then the
    # limiter keeps what is left under the ceiling.
    chain = (
        f"volume={plan.gain_db:.2f}dB,asoftclip=type=tanh:threshold=0.5:output=1.6,"
        f"alimiter=limit={PEAK_LIMIT}:attack=1:release=20:level=disabled"
    )
    if measure:
        chain += ",ebur128=framelog=quiet"  # measures at the mix's own rate (loudnorm: 192 kHz)
    filters.append(f"{mixed}{chain},aresample=48000[a]")
    return filters


def _loudness(ffmpeg: str, plan: RenderPlan) -> float | None:
    """The integrated loudness (LUFS) of the plan's mix, gain and limiter included, measured
    over the audio alone (a fraction of a second)."""
    inputs, narration, music = _audio_inputs(plan, 0)
    graph = ";".join(_audio_filters(plan, narration, music, measure=True))
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "info", *inputs,
         "-filter_complex", graph,
         "-map", "[a]", "-t", f"{plan.total:.3f}", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace", timeout=600, check=False,
    )  # fmt: skip
    summary = result.stderr.rpartition("Summary:")[2]
    match = _INTEGRATED.search(summary)
    if result.returncode != 0 or match is None:
        return None
    value = float(match.group(1))
    return None if value <= -70 else value  # -70 LUFS: ebur128's floor, silence


def measure_gain(ffmpeg: str, plan: RenderPlan) -> float:
    """The gain (dB) that brings the mix to ``plan.loudness``: measured, then measured again
    with the gain and the limiter in place (the limiter takes a little back), and corrected."""
    if plan.loudness is None or (plan.narration is None and plan.music is None):
        return 0.0
    gain = 0.0
    for _round in range(3):
        measured = _loudness(ffmpeg, replace(plan, gain_db=gain))
        if measured is None:
            return gain  # silence, or an unreadable mix: the render says what is wrong
        gain = min(gain + plan.loudness - measured, 30.0)
    return gain


def audio_argv(ffmpeg: str, plan: RenderPlan, output: Path) -> list[str] | None:
    """The command line for the sound alone (AAC in an .m4a), or None for a silent video."""
    inputs, narration, music = _audio_inputs(plan, 0)
    if narration is None and music is None:
        return None
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", *inputs,
        "-filter_complex", ";".join(_audio_filters(plan, narration, music)), "-map", "[a]",
        "-c:a", "aac", "-aac_coder", "fast", "-b:a", "160k", "-ar", "48000",
        "-t", f"{plan.total:.3f}", "-f", "mp4", str(output),
    ]  # fmt: skip
