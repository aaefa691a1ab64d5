"""ffmpeg: where the binary is, how long a media file lasts, the render command line, and the
``-progress`` output. The argv builders are pure functions."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from autoqueue.config import DEFAULT_QP
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.layout import CLIP_SUFFIXES
from autoqueue.media.captions import Track
from autoqueue.stages import motion

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
    captions: Track | None = None  # the lines to burn in (libass)
    loudness: float | None = None  # integrated loudness target (LUFS) of the mixed audio
    gain_db: float = 0.0  # the mix's gain, found by measuring (measure_gain)
    motion: float = 0.0  # a slow pan over each still, this fraction of the frame (0: none)
    crossfade: float = 0.0  # seconds each picture fades into the next (0: hard cuts)
    cards: tuple[bool, ...] = ()  # which scenes are text cards: they neither pan nor fade

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(max(1, round(seconds * FPS)) for seconds in self.durations)

    @property
    def total(self) -> float:
        """The video's length: whole frames, so the file and the plan agree exactly."""
        return sum(self.frames) / FPS


def _crossfade_frames(plan: RenderPlan) -> int:
    if len(plan.images) < 2 or plan.crossfade <= 0:
        return 0
    shortest = min(plan.frames)
    return max(0, min(round(plan.crossfade * FPS), shortest // 3))


def _card(plan: RenderPlan, index: int) -> bool:
    return index < len(plan.cards) and plan.cards[index]


def _fade_in(plan: RenderPlan, index: int) -> int:
    """How many frames scene ``index`` fades in over the previous one: a crossfade's, between
    two pictures; none next to a text card (two texts never double-expose: cards cut)."""
    if index <= 0 or index >= len(plan.images) or _card(plan, index - 1) or _card(plan, index):
        return 0
    return _crossfade_frames(plan)


def is_clip(path: Path) -> bool:
    """A scene that is a video clip (sora2) rather than a picture."""
    return path.suffix.lower() in CLIP_SUFFIXES


def _stream_frames(index: int, plan: RenderPlan) -> int:
    """How many frames scene ``index``'s stream has: its own, and, but for the last scene, the
    next one's fade-in, which it goes on under."""
    return plan.frames[index] + _fade_in(plan, index + 1)


def _clip_filter(index: int, plan: RenderPlan, source: int) -> str:
    """One scene from a video clip (read looped): at 30 fps, filling the frame, cut to the
    scene's frames (and the next scene's fade-in); the clip's own motion, no pan."""
    width, height = plan.size
    frames = _stream_frames(index, plan)
    return (
        f"[{source}:v]fps={FPS},scale={width}:{height}:force_original_aspect_ratio=increase:"
        f"out_range=tv,crop={width}:{height},setsar=1,format=yuv420p,"
        f"trim=end_frame={frames},setpts=N/{FPS}/TB[v{index}]"
    )


def _scene_filter(index: int, plan: RenderPlan, source: int) -> str:
    """Scene ``index`` (read from input ``source``) as a stream of frames, ``[v<index>]``: the
    picture shaped once (filled, or over a blurred copy of itself), looped, and, with motion,
    a window of the frame's size moving across it (``motion.py``)."""
    if is_clip(plan.images[index]):
        return _clip_filter(index, plan, source)
    frames = _stream_frames(index, plan)
    # sharp text judders when it pans: cards stand still
    pan = None if _card(plan, index) else motion.plan_pan(index, plan.size, frames, plan.motion)
    cw, ch = pan.canvas if pan else plan.size
    if plan.fit == "crop":
        shape = (
            f"[{source}:v]scale={cw}:{ch}:force_original_aspect_ratio=increase:out_range=tv,"
            f"crop={cw}:{ch},setsar=1,format=yuv420p"
        )
    else:
        # The whole picture, over a blurred, darkened copy of itself filling the frame: no bars.
        shape = (
            f"[{source}:v]scale=-2:-2:out_range=tv,setsar=1,format=yuv420p,split=2[bg{index}][fg{index}];"
            f"[bg{index}]scale={cw}:{ch}:force_original_aspect_ratio=increase,crop={cw}:{ch},"
            f"gblur=sigma={max(8, cw // 40)},eq=brightness=-0.08[blur{index}];"
            f"[fg{index}]scale={cw}:{ch}:force_original_aspect_ratio=decrease[pic{index}];"
            f"[blur{index}][pic{index}]overlay=(W-w)/2:(H-h)/2,setsar=1,format=yuv420p"
        )
    # The picture is shaped once; the loop filter then repeats the finished frame rather than
    # scaling the same picture again for each of its frames.
    if pan is not None:
        return f"{shape},{motion.pan_filters(pan, plan.size, f'm{index}')}[v{index}]"
    return f"{shape},{motion.looped(frames)}[v{index}]"


def _quoted(value: str) -> str:
    """A filter option value in single quotes (a path may hold ':' or ',')."""
    return "'" + value.replace("\\", "/").replace("'", "'\\''") + "'"


def _trim(label: str, first: int, last: int, out: str) -> str:
    return f"{label}trim=start_frame={first}:end_frame={last},setpts=PTS-STARTPTS{out}"


def _cut(index: int, pieces: dict[str, tuple[int, int]]) -> str:
    """Scene ``index``'s stream cut into ``pieces`` (a name: its first frame and the frame after
    its last), each ``[<name><index>]`` and timed from 0."""
    if len(pieces) == 1:
        [(name, (first, last))] = pieces.items()
        return _trim(f"[v{index}]", first, last, f"[{name}{index}]")
    copies = "".join(f"[s{index}_{name}]" for name in pieces)
    trims = [
        _trim(f"[s{index}_{name}]", first, last, f"[{name}{index}]")
        for name, (first, last) in pieces.items()
    ]
    return ";".join([f"[v{index}]split={len(pieces)}{copies}", *trims])


def _crossfade(index: int, frames: int) -> str:
    """Scene ``index``'s first ``frames`` (``[head<index>]``) blended over the previous scene's
    last (``[tail<index - 1>]``) into ``[blend<index>]``, a ``blend`` per frame at that frame's
    opacity: 1/(n+1) ... n/(n+1), so that the first already blends and the last is not yet the
    new scene alone. Each fading frame is one pass over two frames; an overlay instead needed an
    alpha plane copied into every frame of the new scene and a copy of every frame of the old
    one (a 30 s short's eight fades: 0.3 s more CPU, and up to 190 MB more memory a part)."""
    name = f"x{index}"
    chains = [
        f"[head{index}]split={frames}" + "".join(f"[{name}n{i}]" for i in range(frames)),
        f"[tail{index - 1}]split={frames}" + "".join(f"[{name}o{i}]" for i in range(frames)),
    ]
    for i in range(frames):
        chains += [
            f"[{name}n{i}]select='eq(n,{i})'[{name}N{i}]",
            f"[{name}o{i}]select='eq(n,{i})'[{name}O{i}]",
            f"[{name}N{i}][{name}O{i}]blend=all_mode=normal:"
            f"all_opacity={(i + 1) / (frames + 1):.6f}[{name}b{i}]",
        ]
    blended = "".join(f"[{name}b{i}]" for i in range(frames))
    # interleave times its frames in microseconds: back in 1/30 s, as every other piece
    chains.append(f"{blended}interleave=nb_inputs={frames},settb=1/{FPS}[blend{index}]")
    return ";".join(chains)


def _join_scenes(plan: RenderPlan, part: Part, before: int) -> str:
    """The part's scenes one after the other, cut, or crossfading: scene k keeps its slot on
    the soundtrack, and its first frames are a blend of it and the previous scene going on
    (which was made that much longer; for a part's first scene, that scene is an input of the
    part too, ``before``, for its tail alone). Only those frames are blended: each scene is
    cut into its head, its own part and its tail, so that no other frame passes through a
    blend filter."""
    scenes = range(part.first, part.last)
    if not any(_fade_in(plan, index) for index in scenes):
        return "".join(f"[v{i}]" for i in scenes) + f"concat=n={len(scenes)}:v=1:a=0"
    parts = []
    order = []
    if before < part.first:
        end = plan.frames[before]
        parts.append(_cut(before, {"tail": (end, end + _fade_in(plan, part.first))}))
    for index in scenes:
        fade, own_end = _fade_in(plan, index), plan.frames[index]
        tail = _fade_in(plan, index + 1) if index < part.last - 1 else 0
        pieces = {"own": (fade, own_end)}
        if tail:
            pieces["tail"] = (own_end, own_end + tail)
        if fade:
            pieces["head"] = (0, fade)
        parts.append(_cut(index, pieces))
        if fade:
            parts.append(_crossfade(index, fade))
            order.append(f"[blend{index}]")
        order.append(f"[own{index}]")
    parts.append("".join(order) + f"concat=n={len(order)}:v=1:a=0")
    return ";".join(parts)


@dataclass(frozen=True)
class Overlay:
    """A part's captions, drawn by libass on a transparent strip of the frame (``top``,
    ``height``) only at the frames where they change (``changes``, counted from the part's
    first frame), each drawing laid over the frames until the next: libass and the blend then
    cost a strip per change rather than a whole frame per frame."""

    ass: Path  # relative to the folder the part is rendered in
    changes: tuple[int, ...]
    top: int
    height: int
    fonts: Path | None = None  # libass's fonts folder, relative like ``ass``


@dataclass(frozen=True)
class Part:
    """Scenes ``first`` to ``last`` (excluded), the video's frames ``start`` to ``end``: what one
    ffmpeg renders into ``output`` while the other parts render theirs."""

    first: int
    last: int
    start: int
    end: int
    output: Path
    captions: Overlay | None = None
    threads: int = 0  # x264's threads (0: its own choice)


def split(plan: RenderPlan, count: int) -> list[tuple[int, int]]:
    """The scenes in at most ``count`` runs of whole scenes, as even in frames as they go."""
    count = max(1, min(count, len(plan.images)))
    ends = [sum(plan.frames[: index + 1]) for index in range(len(plan.images))]
    cuts = [0]
    for number in range(1, count):
        target = sum(plan.frames) * number / count
        cut = min(
            range(cuts[-1] + 1, len(plan.images) - (count - number) + 1),
            key=lambda index: abs(ends[index - 1] - target),
        )
        cuts.append(cut)
    cuts.append(len(plan.images))
    return list(pairwise(cuts))


def _caption_source(plan: RenderPlan, part: Part, overlay: Overlay) -> str:
    """A transparent strip at the video's rate, kept only at the frames where the captions
    change, with libass drawing them (its colours come premultiplied by their alpha, which
    the overlay wants straight)."""
    width, _height = plan.size
    frames = part.end - part.start
    keep = "+".join(f"eq(n,{change})" for change in overlay.changes)
    subtitles = f"subtitles=filename={_quoted(overlay.ass.as_posix())}:alpha=1"
    if overlay.fonts is not None:
        subtitles += f":fontsdir={_quoted(overlay.fonts.as_posix())}"
    return (
        f"color=c=black@0:s={width}x{overlay.height}:r={FPS}:d={frames / FPS:.6f},format=rgba,"
        f"select='{keep}',{subtitles},unpremultiply=inplace=1[cap]"
    )


FADE_COARSER = 6  # x264's quantizer on crossfade frames: this much above the video's


def _fade_zones(plan: RenderPlan, part: Part) -> list[str]:
    """x264 zones that code the part's crossfade frames coarser: two pictures moving apart
    under each other cost twenty times a panning frame's bits, for 0.4 s in which the eye
    sees neither picture sharply (qp 21 there cut the encoding CPU of the bench's short by 4 %).
    Frames are counted from the part's start."""
    level = min(51, plan.quality[1] + FADE_COARSER)
    coarser = f"q={level}" if plan.quality[0] == "qp" else "b=0.5"  # crf: half the bits
    zones = []
    start = sum(plan.frames[: part.first])
    for index in range(part.first, part.last):
        fade = _fade_in(plan, index)
        if fade:
            first = start - part.start
            zones.append(f"{first},{first + fade - 1},{coarser}")
        start += plan.frames[index]
    return ["-x264-params", "zones=" + "/".join(zones)] if zones else []


def _encoder(plan: RenderPlan, threads: int) -> list[str]:
    """x264's settings, the same for every part (the parts are joined as they are, so that
    their streams must agree)."""
    return [
        "-c:v", "libx264", "-preset", plan.preset,
        "-tune", "film" if any(is_clip(scene) for scene in plan.images) else "stillimage",
        f"-{plan.quality[0]}", str(plan.quality[1]), "-threads", str(threads),
        "-pix_fmt", "yuv420p", "-color_range", "tv", "-r", str(FPS),
    ]  # fmt: skip


def part_argv(ffmpeg: str, plan: RenderPlan, part: Part) -> list[str]:
    """The ffmpeg command line for one part of the video: its scenes (moving, fading into each
    other) and its captions, no sound."""
    before = part.first - 1 if _fade_in(plan, part.first) else part.first
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"]
    for index in range(before, part.last):
        image = plan.images[index]
        if is_clip(image):
            # a clip shorter than its scene starts again rather than freezing on its last frame
            argv += ["-stream_loop", "-1", "-i", str(image)]
            continue
        # Read at the video's rate, so that every stream is timed in 1/30 s: in the pictures'
        # default 1/25 s, two frames of 30 fps can share a timestamp, and the crossfades paired
        # frames one off.
        argv += ["-framerate", str(FPS), "-i", str(image)]
    filters = [_scene_filter(index, plan, index - before) for index in range(before, part.last)]
    # concat cannot know how long the last looped frame lasts, and the 30 fps output then drops
    # it: two clones at the end, and -frames:v, make the frame count exactly the part's.
    video = _join_scenes(plan, part, before) + ",tpad=stop=2:stop_mode=clone"
    if part.captions is not None:
        filters.append(_caption_source(plan, part, part.captions))
        video += f"[slides];[slides][cap]overlay=x=0:y={part.captions.top}:eval=init:format=yuv420"
    filters.append(video + "[v]")
    argv += ["-filter_complex", ";".join(filters), "-map", "[v]", *_encoder(plan, part.threads)]
    argv += _fade_zones(plan, part)
    argv += [
        "-frames:v", str(part.end - part.start), "-progress", "pipe:1", "-f", "mp4",
        str(part.output),
    ]  # fmt: skip
    return argv


def join_argv(ffmpeg: str, plan: RenderPlan, listing: Path, audio: Path | None) -> list[str]:
    """The command line that joins the parts listed in ``listing`` (ffmpeg's concat format)
    and the sound into ``plan.output``, copying both: nothing is encoded again."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats",
            "-f", "concat", "-i", str(listing)]  # fmt: skip
    maps = ["-map", "0:v"]
    if audio is not None:
        argv += ["-i", str(audio)]
        maps += ["-map", "1:a"]
    return [
        *argv, *maps, "-c", "copy", "-movflags", "+faststart", "-t", f"{plan.total:.3f}",
        "-f", "mp4", str(plan.output),
    ]  # fmt: skip


def fit_durations(durations: Sequence[float], target: float | None) -> tuple[float, ...]:
    """Stretch (or shrink) scene durations proportionally so they last ``target`` seconds."""
    if target is None or not durations:
        return tuple(durations)
    factor = target / sum(durations)
    return tuple(seconds * factor for seconds in durations)


def verify_argv(ffmpeg: str, video: Path) -> list[str]:
    """Decode every frame and throw it away: any error means the file is not a good video."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(video), "-f", "null", "-"]


def decode_problem(ffmpeg: str, video: Path) -> str | None:
    """Decode every frame of ``video`` (one that nothing here made: a generator's, a provider's
    clip): what went wrong, or None for a good video."""
    result = subprocess.run(
        verify_argv(ffmpeg, video),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=600,
        check=False,
    )
    if result.returncode == 0 and not result.stderr.strip():
        return None
    return result.stderr.strip()[-500:] or f"ffmpeg exited with {result.returncode}"


def check_argv(ffmpeg: str, video: Path) -> list[str]:
    """Read every packet of a video this stage rendered (a half-written or cut-short file fails
    here), and decode its keyframes and its sound; ``-progress`` then says how many video frames
    the file holds (``frames_checked``). A tenth of what decoding every frame costs."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-progress", "pipe:1",
        "-skip_frame", "nokey", "-i", str(video),
        "-map", "0:v:0", "-c", "copy", "-f", "null", "-",  # every packet, counted
        "-map", "0", "-f", "null", "-",  # keyframes and sound, decoded
    ]  # fmt: skip


def frames_checked(progress: str) -> int | None:
    """The video frame count in ``check_argv``'s ``-progress`` output (its last report)."""
    counts = [line[6:] for line in progress.splitlines() if line.startswith("frame=")]
    return int(counts[-1]) if counts and counts[-1].strip().isdigit() else None


def progress_seconds(line: str) -> float | None:
    """Seconds rendered so far, from one ``-progress`` line (``out_time_us=...``)."""
    key, _eq, value = line.partition("=")
    if key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
        return max(int(value) / 1_000_000, 0.0)
    return None
