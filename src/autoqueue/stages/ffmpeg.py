"""ffmpeg: where the binary is, how long a media file lasts, the render command line, and the
``-progress`` output. The argv builders are pure functions."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autoqueue.config import DEFAULT_QP
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _

FPS = 30
_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def binary(setting: str | None, home: Path) -> str:
    """The ffmpeg to run: the imageio-ffmpeg wheel's by default, ``system`` for the one on PATH,
    or a path."""
    if not setting:
        try:
            import imageio_ffmpeg

            return str(imageio_ffmpeg.get_ffmpeg_exe())
        except (ImportError, RuntimeError) as exc:
            raise PermanentStageError(
                _(
                    "no ffmpeg: {exc}; install imageio-ffmpeg or set [stages.video] "
                    'ffmpeg = "system"'
                ).format(exc=exc)
            ) from exc
    if setting == "system":
        found = shutil.which("ffmpeg")
        if found is None:
            raise PermanentStageError(
                _('[stages.video] ffmpeg = "system" but no ffmpeg is on PATH')
            )
        return found
    path = Path(setting).expanduser()
    path = path if path.is_absolute() else home / path
    if not path.is_file():
        raise PermanentStageError(
            _("[stages.video] ffmpeg = {setting!r}: no such file").format(setting=setting)
        )
    return str(path)


def duration(ffmpeg: str, media: Path) -> float:
    """The length of an audio or video file in seconds, read from ffmpeg's own report."""
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(media)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        check=False,
    )
    match = _DURATION.search(result.stderr)
    if match is None:
        raise PermanentStageError(
            _("cannot read the length of {name}: {value}").format(
                name=media.name, value=result.stderr[-300:]
            )
        )
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class RenderPlan:
    """Everything the render command needs; durations already fitted to the narration."""

    images: tuple[Path, ...]
    durations: tuple[float, ...]
    size: tuple[int, int]
    fit: str  # "crop" fills the frame, "pad" letterboxes (keeps the whole picture)
    output: Path
    narration: Path | None = None
    music: Path | None = None
    music_volume: float = 0.15
    preset: str = "ultrafast"
    quality: tuple[str, int] = ("qp", DEFAULT_QP)  # x264 rate control ("qp" or "crf"), value

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(max(1, round(seconds * FPS)) for seconds in self.durations)

    @property
    def total(self) -> float:
        """The video's length: whole frames, so the file and the plan agree exactly."""
        return sum(self.frames) / FPS


def _scene_filter(index: int, plan: RenderPlan) -> str:
    width, height = plan.size
    if plan.fit == "crop":
        shape = (
            f"scale={width}:{height}:force_original_aspect_ratio=increase:out_range=tv,"
            f"crop={width}:{height}"
        )
    else:
        shape = (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease:out_range=tv,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black"
        )
    # Every input normalised to one size, square pixels and one pixel format (concat refuses
    # inputs that differ), once: the loop filter then repeats the finished frame, rather than
    # scaling the same picture again for each of its frames.
    repeats = plan.frames[index] - 1
    return (
        f"[{index}:v]{shape},setsar=1,format=yuv420p,"
        f"loop=loop={repeats}:size=1:start=0,setpts=N/{FPS}/TB,fps={FPS}[v{index}]"
    )


def render_argv(ffmpeg: str, plan: RenderPlan) -> list[str]:
    """The ffmpeg command line for a slideshow of ``plan.images`` (+ narration, + music)."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"]
    for image in plan.images:
        argv += ["-i", str(image)]
    count = len(plan.images)
    filters = [_scene_filter(index, plan) for index in range(count)]
    filters.append("".join(f"[v{i}]" for i in range(count)) + f"concat=n={count}:v=1:a=0[v]")
    audio_inputs = []
    if plan.narration is not None:
        argv += ["-i", str(plan.narration)]
        audio_inputs.append(f"[{count}:a]")
    if plan.music is not None:
        argv += ["-stream_loop", "-1", "-i", str(plan.music)]
        music_index = count + len(audio_inputs)
        filters.append(f"[{music_index}:a]volume={plan.music_volume:g}[music]")
        audio_inputs.append("[music]")
    audio = None
    if len(audio_inputs) == 2:
        filters.append(f"{''.join(audio_inputs)}amix=inputs=2:duration=first:normalize=0[a]")
        audio = "[a]"
    elif audio_inputs:
        audio = f"{count}:a" if plan.narration is not None else "[music]"
    argv += ["-filter_complex", ";".join(filters), "-map", "[v]"]
    if audio is not None:
        argv += ["-map", audio, "-c:a", "aac", "-b:a", "160k"]
    argv += [
        "-c:v", "libx264", "-preset", plan.preset, "-tune", "stillimage",
        f"-{plan.quality[0]}", str(plan.quality[1]),
        "-pix_fmt", "yuv420p", "-color_range", "tv", "-r", str(FPS), "-movflags", "+faststart",
        "-t", f"{plan.total:.3f}", "-progress", "pipe:1", "-f", "mp4", str(plan.output),
    ]  # fmt: skip
    return argv


def fit_durations(durations: Sequence[float], target: float | None) -> tuple[float, ...]:
    """Stretch (or shrink) scene durations proportionally so they last ``target`` seconds."""
    if target is None or not durations:
        return tuple(durations)
    factor = target / sum(durations)
    return tuple(seconds * factor for seconds in durations)


def verify_argv(ffmpeg: str, video: Path) -> list[str]:
    """Decode every frame and throw it away: any error means the file is not a good video."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(video), "-f", "null", "-"]


def progress_seconds(line: str) -> float | None:
    """Seconds rendered so far, from one ``-progress`` line (``out_time_us=...``)."""
    key, _eq, value = line.partition("=")
    if key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
        return max(int(value) / 1_000_000, 0.0)
    return None
