"""Rendering a plan: the video in parts, one ffmpeg for each core's share of the scenes, the
sound beside them, then the parts and the sound joined without encoding anything again.

One ffmpeg runs its filters in one thread, and x264's frame threads wait on each other's rows:
on two cores, one process kept them busy three quarters of the time. Parts of whole scenes, each
with x264 on its own share of the cores, keep every core on frames of its own (docs/stages.md "What
the video stage makes", ARCHITECTURE "Rendering in parts").
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from autoqueue.attempt.program import describe_exit
from autoqueue.errors import TransientStageError
from autoqueue.i18n import _
from autoqueue.media import captions
from autoqueue.stages import ffmpeg, fonts, mix

# Each part holds its pictures in memory, starts its own libass and opens with a keyframe, and
# it renders its first scene's predecessor's end again for the crossfade: more parts than
# workers made the 30 s short slower here (two: 7.8 s; six, taken two at a time: 9.1 s), and
# past four, a part's x264 takes the spare cores.
MAX_PARTS = 4

# Windows' command line holds 32,767 characters: a longer one (a long video's many scenes and
# captions) passes its filter graph in a file instead (ffmpeg 7's ``-/filter_complex``).
ARGV_LIMIT = 30_000

FONTS_FOLDER = "fonts"  # in the render folder: the captions' font family, for libass

# Runs one ffmpeg command line in a folder to its end, raising a StageError if it fails; the
# number is the part's (its progress), None for the sound and the join.
Run = Callable[[list[str], Path, "int | None"], None]


def cores() -> int:
    """The processors this process may run on (its affinity where the system has one)."""
    import psutil

    try:
        allowed = psutil.Process().cpu_affinity()
    except (AttributeError, psutil.Error):  # macOS has no affinity
        allowed = None
    return len(allowed) if allowed else os.cpu_count() or 1


def failed(code: int, said: str) -> TransientStageError:
    """An ffmpeg that exited ``code``, with what it last said."""
    return TransientStageError(
        _("ffmpeg {value}: {detail}").format(
            value=describe_exit(code), detail=said.strip() or "no message"
        )
    )


def run_quietly(argv: list[str], cwd: Path, _part: int | None) -> None:
    """Run an ffmpeg command line, its output captured; a failure raises with its last words."""
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, errors="replace", check=False
    )
    if result.returncode != 0:
        raise failed(result.returncode, result.stderr.strip()[-500:])


def plan_parts(plan: ffmpeg.RenderPlan, folder: Path, workers: int) -> list[ffmpeg.Part]:
    """The parts for ``workers`` cores (one each, at most one per scene and ``MAX_PARTS``), each
    with its captions written into ``folder``."""
    runs = ffmpeg.split(plan, min(workers, MAX_PARTS))
    threads = max(1, workers // len(runs)) if len(runs) > 1 else 0
    track = plan.captions
    strip = None
    font_folder = None
    if track is not None and track.lines:
        strip = captions.band(track.lines, track.layout, track.style)
        font_folder = _font_folder(track.font, folder) if track.font is not None else None
    parts = []
    start = 0
    for number, (first, last) in enumerate(runs, start=1):
        end = start + sum(plan.frames[first:last])
        overlay = None
        if track is not None and strip is not None:
            name = Path(f"part{number}.ass")
            changes = captions.write_band_ass(
                folder / name, track.lines, track.layout, track.style, strip, (start, end),
                ffmpeg.FPS,
            )  # fmt: skip
            if changes:
                overlay = ffmpeg.Overlay(name, changes, strip.top, strip.height, font_folder)
        output = folder / f"part{number}.mp4"
        parts.append(ffmpeg.Part(first, last, start, end, output, overlay, threads))
        start = end
    return parts


def _font_folder(font: Path, folder: Path) -> Path:
    """A folder in ``folder`` of links to ``font``'s family alone, for libass's ``fontsdir``
    (relative to ``folder``, where the parts render): libass reads every font of the folder it
    is given into memory, in each part, and the font's own folder can be a system one (the 12
    files of Debian's fonts-nanum, 33 MB: 0.05 s of CPU a part)."""
    linked = folder / FONTS_FOLDER
    linked.mkdir()
    for path in fonts.family_files(font.absolute()):
        try:
            (linked / path.name).symlink_to(path)
        except OSError:  # Windows without the right to make links
            shutil.copyfile(path, linked / path.name)
    return Path(FONTS_FOLDER)


def _fitted(argv: list[str], folder: Path, name: str) -> list[str]:
    """``argv`` as it is, or, past ``ARGV_LIMIT``, with its filter graph read from a file."""
    if sum(len(arg) + 3 for arg in argv) <= ARGV_LIMIT:
        return argv
    index = argv.index("-filter_complex")
    (folder / name).write_text(argv[index + 1], encoding="utf-8")
    return [*argv[:index], "-/filter_complex", name, *argv[index + 2 :]]


def _sound(exe: str, plan: ffmpeg.RenderPlan, output: Path, run: Run) -> bool:
    """The sound brought to the loudness target, into ``output``; False for a silent video."""
    plan = replace(plan, gain_db=mix.measure_gain(exe, plan))
    argv = mix.audio_argv(exe, plan, output)
    if argv is None:
        return False
    run(argv, output.parent, None)
    return True


def render(
    exe: str,
    plan: ffmpeg.RenderPlan,
    folder: Path,
    run: Run | None = None,
    *,
    workers: int | None = None,
) -> None:
    """Render ``plan.output``: the parts and the sound at once, then joined; each command
    through ``run`` (default: ``run_quietly``). ``folder`` holds what the parts need and make,
    and is gone afterwards, whatever happened."""
    run = run or run_quietly
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        parts = plan_parts(plan, folder, workers or cores())
        listing = folder / "parts.txt"
        listing.write_text(
            "".join(f"file '{part.output.name}'\n" for part in parts), encoding="utf-8"
        )
        with ThreadPoolExecutor(max_workers=len(parts) + 1) as pool:
            sound = pool.submit(_sound, exe, plan, folder / "sound.m4a", run)
            jobs: list[Future[Any]] = [
                pool.submit(
                    run,
                    _fitted(ffmpeg.part_argv(exe, plan, part), folder, f"part{number + 1}.graph"),
                    folder,
                    number,
                )
                for number, part in enumerate(parts)
            ]
            wait([sound, *jobs])  # none is left running, whichever failed
            for job in jobs:
                job.result()
            audio = folder / "sound.m4a" if sound.result() else None
        run(ffmpeg.join_argv(exe, plan, listing, audio), folder, None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
