"""The built-in ``ffmpeg`` video stage: ``output.mp4`` (H.264, yuv420p, +faststart, 30 fps) and
``thumbnail.jpg`` from the scene images, with the narration and background music when present.
The file is rendered to a temporary name, checked by decoding it, then renamed into place."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from autoqueue.attempt.processes import ProcessInfo
from autoqueue.config import StageConfig
from autoqueue.errors import PermanentStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, MediaMode
from autoqueue.layout import THUMBNAIL, VIDEO, resolution, scene_images
from autoqueue.media import captions
from autoqueue.media.story import Story
from autoqueue.stages import ffmpeg, narration, render
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.cards import card_text, read_story
from autoqueue.stages.command import run_command
from autoqueue.stages.external import run_program
from autoqueue.stages.thumbnail import best_image, write_thumbnail

CAPTIONS_ASS = "captions.ass"
CAPTIONS_SRT = "output.srt"
RENDER_FOLDER = "render.tmp"  # the parts, their captions and the sound while they render
THUMBNAIL_NEXT = "thumbnail.next.jpg"
GENERATED_MODES = (MediaMode.DALLE3, MediaMode.IMAGEN3, MediaMode.SORA2)


class _Progress:
    """Turns the parts' ``-progress`` lines into a progress log row every 10 % of the video."""

    def __init__(self, ctx: StageContext, total: float) -> None:
        self.ctx = ctx
        self.total = total
        self.reported = 0
        self.done: dict[int, float] = {}
        self.lock = threading.Lock()

    def advance(self, part: int, seconds: float, info: ProcessInfo | None) -> None:
        with self.lock:
            self.done[part] = seconds
            rendered = sum(self.done.values())
            percent = min(int(rendered / self.total * 100) // 10 * 10, 100)
            if percent <= self.reported:
                return
            self.reported = percent
        self.ctx.log(
            StageLog(
                LogLevel.INFO,
                _("🎬 rendering {percent}% ({seconds:.1f}/{total:.1f} s)").format(
                    percent=percent, seconds=rendered, total=self.total
                ),
                ActionType.PROGRESS,
                {"current": round(rendered, 2), "total": round(self.total, 2)},
                info.pid if info else None,
                info.name if info else None,
            )
        )


class _Sink:
    """One ffmpeg's output: its error lines kept, its progress (a part's) passed on."""

    def __init__(self, progress: _Progress, part: int | None) -> None:
        self.progress = progress
        self.part = part
        self.errors: deque[str] = deque(maxlen=20)
        self.info: ProcessInfo | None = None

    def attach(self, info: ProcessInfo) -> None:
        self.info = info

    def handle(self, lines: list[tuple[str, str]]) -> None:
        for stream, line in lines:
            if stream == "stderr":
                if line.strip():
                    self.errors.append(line.strip())
                continue
            seconds = ffmpeg.progress_seconds(line)
            if seconds is not None and self.part is not None and self.progress.total > 0:
                self.progress.advance(self.part, seconds, self.info)


def _check_images(images: list[Path]) -> None:
    """Every scene image decodes, and none is a decompression bomb (a few kilobytes that would
    take gigabytes of memory): either fails permanently, naming the file."""
    from autoqueue.media.images import image_problem

    for path in images:
        problem = image_problem(path)
        if problem is not None:
            raise PermanentStageError(
                _("{name}: {problem}; replace it in {parent}").format(
                    name=path.name, problem=problem, parent=path.parent
                )
            )


MUSIC_FOLDER = "music"  # the home's folder of background tracks, used when nothing is set


def music_tracks(folder: Path) -> list[Path]:
    """The audio files in a music folder, in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in narration.AUDIO_SUFFIXES)


def _music(ctx: StageContext, config: StageConfig) -> Path | None:
    """The background music: a file, or one picked from a folder (the same one for a task on
    every run, different tasks spread over the folder); with no setting, the home's music/
    folder when it holds audio files."""

    def pick(tracks: list[Path]) -> Path:
        return tracks[int(ctx.task.id.replace("-", "")[:8], 16) % len(tracks)]

    if not config.music:
        tracks = music_tracks(ctx.workspace.home / MUSIC_FOLDER)
        return pick(tracks) if tracks else None
    music = Path(config.music).expanduser()
    music = music if music.is_absolute() else ctx.workspace.home / music
    if music.is_dir():
        tracks = music_tracks(music)
        if not tracks:
            raise PermanentStageError(
                _("[stages.video] music = {music!r}: no audio file in that folder").format(
                    music=config.music
                )
            )
        return pick(tracks)
    if not music.is_file():
        raise PermanentStageError(
            _("[stages.video] music = {music!r}: no such file").format(music=config.music)
        )
    return music


def _caption_font(ctx: StageContext, config: StageConfig) -> str | None:
    """The font file for captions and the thumbnail's title: the image stage's, else this
    stage's, else one with Hangul, else a plain one."""
    from autoqueue.kinds import QueueType
    from autoqueue.stages import fonts

    configured = ctx.workspace.config.stage(QueueType.IMAGE).font or config.font
    if configured:
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else ctx.workspace.home / path
        if path.is_file():
            return str(path)
    return fonts.find_cjk_font() or fonts.find_plain_font()


# A bare text card's captions: large, in the middle of the card, where its text would be.
CARD_CAPTIONS = captions.LineStyle(size=1.25, position="middle")


def _scene_look(
    story: Story, index: int, cards: tuple[bool, ...], config: StageConfig
) -> captions.LineStyle | None:
    """Scene ``index``'s own caption look: the story's, else a bare card's (its text is said by
    the captions in its middle), else None: the video's look."""
    scene = story.scenes[index] if index < len(story.scenes) else None
    if scene is not None and scene.caption_style is not None:
        own = scene.caption_style
        return captions.LineStyle(own.colour, own.highlight, own.size, own.position)
    bare = (
        scene is not None
        and index < len(cards)
        and cards[index]
        and card_text(scene, config.captions and scene.captions) is None
    )
    return CARD_CAPTIONS if bare else None


def _write_captions(
    ctx: StageContext,
    config: StageConfig,
    soundtrack: narration.Soundtrack,
    size: tuple[int, int],
    story: Story,
    cards: tuple[bool, ...],
) -> captions.Track:
    """The captions from the timed words, in the story's look (else the home's), each scene in
    its own ``caption_style`` when it has one: what the render burns in, also written as
    captions.ass (the whole frame's, to keep) and output.srt (beside the video)."""
    from autoqueue.stages import fonts

    font_path = _caption_font(ctx, config)
    family = fonts.family(Path(font_path)) if font_path else "Sans"
    style = captions.preset(
        story.caption_style or config.caption_style,
        family,
        config.caption_colour,
        config.caption_highlight,
    )
    layout = captions.Layout(*size)
    lines = []
    for index, words in enumerate(soundtrack.scenes):
        look = _scene_look(story, index, cards, config)
        width = layout.max_cells(style.size * (look.size if look else 1.0))
        lines += [
            dataclasses.replace(line, style=look)
            for line in captions.break_lines(words, width, style.max_words)
        ]
    captions.write_ass(ctx.task_dir / CAPTIONS_ASS, lines, layout, style)
    srt = ctx.task_dir / CAPTIONS_SRT
    temporary = srt.with_suffix(".tmp.srt")
    captions.write_srt(temporary, lines)
    temporary.replace(srt)
    return captions.Track(tuple(lines), layout, style, Path(font_path) if font_path else None)


def _generate(
    ctx: StageContext, config: StageConfig, size: tuple[int, int], exe: str
) -> list[Path] | None:
    """dalle3 / imagen3 / sora2: the scene pictures or clips (or the video itself) are made here,
    before the render: by the configured generator program when there is one (None: it wrote
    what it wrote), else by the built-in models of ``[media.dalle3]`` / ``[media.imagen3]`` /
    ``[media.sora2]`` (the scenes they made)."""
    from autoqueue.config import VideoModelConfig

    if config.generator:
        run_command(
            ctx, config.generator, timeout=config.timeout, max_log_lines=config.max_log_lines
        )
        return None
    model = ctx.workspace.config.generator(ctx.task.media_mode.value)
    if isinstance(model, VideoModelConfig):
        from autoqueue.stages.videogen import generate_clips

        return generate_clips(ctx, model, size, exe)
    assert model is not None
    from autoqueue.stages.imagegen import generate_pictures

    return generate_pictures(ctx, ctx.task.media_mode.value, model, size)


def _stills(exe: str, scenes: list[Path], folder: Path) -> list[Path]:
    """A picture of each scene for the thumbnail: the scene itself, or a clip's middle frame
    (written to ``folder``)."""
    stills = []
    for scene in scenes:
        if not ffmpeg.is_clip(scene):
            stills.append(scene)
            continue
        folder.mkdir(exist_ok=True)
        still = folder / (scene.stem + ".png")
        middle = ffmpeg.duration(exe, scene) / 2
        subprocess.run(
            [exe, "-v", "error", "-y", "-ss", f"{middle:.2f}", "-i", str(scene),
             "-frames:v", "1", str(still)],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        stills.append(still)
    return stills


def run_video_stage(ctx: StageContext, config: StageConfig) -> StageResult:
    """Render the run's video and thumbnail."""
    task_dir = ctx.task_dir
    exe = ffmpeg.binary(config.ffmpeg, ctx.workspace.home)
    size = resolution(ctx.task.type.value, config.resolution)
    made = _generate(ctx, config, size, exe) if ctx.task.media_mode in GENERATED_MODES else None
    images = made if made is not None else scene_images(task_dir)
    video = task_dir / VIDEO
    if ctx.task.media_mode in GENERATED_MODES and video.is_file():
        _verify(ctx, exe, video)  # the generator made the video itself
        pictures = [image for image in images if not ffmpeg.is_clip(image)]
        if not (task_dir / THUMBNAIL).is_file() and pictures:
            write_thumbnail(best_image(pictures), task_dir / THUMBNAIL, size)
        return StageResult(details={"handler": "ffmpeg", "generated": True})
    if not images:
        raise PermanentStageError(
            _(
                "no scene images in {task_dir}: give upload-mode tasks --image FILE, or copy "
                "scene_01.png ... into the task folder"
            ).format(task_dir=task_dir)
        )
    _check_images([image for image in images if not ffmpeg.is_clip(image)])
    story = read_story(task_dir)
    cards = card_scenes(ctx, images)
    soundtrack = narration.prepare(ctx, config, story, len(images), exe)
    music = _music(ctx, config)
    track = None
    if config.captions and any(soundtrack.scenes):
        track = _write_captions(ctx, config, soundtrack, size, story, cards)
    plan = ffmpeg.RenderPlan(
        images=tuple(images),
        durations=soundtrack.durations,
        size=size,
        fit="pad" if ctx.task.media_mode is MediaMode.UPLOAD else "crop",
        output=task_dir / "output.tmp.mp4",
        narration=soundtrack.narration,
        music=music,
        music_volume=config.music_volume,
        preset=config.preset,
        quality=config.quality,
        captions=track,
        loudness=config.loudness,
        motion=config.motion,
        crossfade=config.crossfade,
        cards=cards,
    )
    started = time.monotonic()
    # The thumbnail is drawn on another thread while ffmpeg renders; it takes its place only
    # beside a video that passed its check.
    with ThreadPoolExecutor(max_workers=1) as pool:
        thumbnail = pool.submit(_thumbnail, ctx, config, story, images, cards, size, exe)
        try:
            _render(ctx, exe, plan, config)
            plan.output.replace(video)
            thumbnail.result().replace(task_dir / THUMBNAIL)
        finally:
            wait([thumbnail])
            task_dir.joinpath(THUMBNAIL_NEXT).unlink(missing_ok=True)
    elapsed = time.monotonic() - started
    return StageResult(
        details={
            "handler": "ffmpeg",
            "seconds": round(plan.total, 2),
            "size": f"{size[0]}x{size[1]}",
            "scenes": len(images),
            "narration": soundtrack.narration.name if soundtrack.narration else None,
            "voiceGenerated": soundtrack.generated,
            "captions": track is not None,
            "renderSeconds": round(elapsed, 2),
            "realtimeFactor": round(plan.total / elapsed, 2) if elapsed else None,
        }
    )


def _render(ctx: StageContext, exe: str, plan: ffmpeg.RenderPlan, config: StageConfig) -> None:
    """Render ``plan.output`` (in parts, with the sound beside them) and check it."""
    progress = _Progress(ctx, plan.total)

    def run(argv: list[str], cwd: Path, part: int | None) -> None:
        sink = _Sink(progress, part)
        code, _info = run_program(
            ctx, argv, cwd=cwd, env=os.environ, timeout=config.timeout, sink=sink
        )
        if code != 0:
            raise render.failed(code, " | ".join(sink.errors))

    try:
        render.render(exe, plan, ctx.task_dir / RENDER_FOLDER, run)
    except BaseException:
        plan.output.unlink(missing_ok=True)
        raise
    _check(exe, plan)


def card_scenes(ctx: StageContext, scenes: list[Path]) -> tuple[bool, ...]:
    """Which scenes are text cards that autoqueue drew (the cards stage's, or the stock stage's
    where it found nothing), not an upload, a generated picture, a stock photo, one of the
    user's own (media.json) or a picture of the user's own crawler: cards cut rather than fade
    and do not pan, so that their text never blurs or double-exposes."""
    from autoqueue.kinds import QueueType
    from autoqueue.stages.library import read_media
    from autoqueue.stages.stock import read_credits

    drawn = ctx.task.media_mode is MediaMode.CRAWL and ctx.workspace.config.handler(
        QueueType.IMAGE
    ) in ("cards", "stock")
    if not drawn:
        return tuple(False for _scene in scenes)
    taken = {credit.file for credit in read_credits(ctx.task_dir)}
    taken |= {entry.file for entry in read_media(ctx.task_dir)}
    return tuple(scene.suffix.lower() == ".png" and scene.name not in taken for scene in scenes)


def _thumbnail(
    ctx: StageContext,
    config: StageConfig,
    story: Story,
    scenes: list[Path],
    cards: tuple[bool, ...],
    size: tuple[int, int],
    exe: str,
) -> Path:
    """The next thumbnail, beside the one in place: the title over the strongest picture."""
    # Over a colour field when every scene is a text card: a bare title card, dark and small,
    # says nothing at thumbnail size. The subject is the product's name, else the key words.
    from autoqueue.stages.template import product_name

    target = ctx.task_dir / THUMBNAIL_NEXT
    font = _caption_font(ctx, config)
    subject = product_name(ctx.task.product_info)
    pictures = [scene for scene, card in zip(scenes, cards, strict=True) if not card]
    if not pictures:
        write_thumbnail(None, target, size, story.title, font, subject=subject, seed=ctx.task.id)
        return target
    folder = ctx.task_dir / "stills.tmp"
    try:
        best = best_image(_stills(exe, pictures, folder))
        write_thumbnail(best, target, size, story.title, font, subject=subject)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def _verify(ctx: StageContext, exe: str, video: Path) -> None:
    """A video another program made: every frame must decode."""
    problem = ffmpeg.decode_problem(exe, video)
    if problem is not None:
        video.unlink(missing_ok=True)
        raise TransientStageError(
            _("the rendered video does not decode: {value}").format(value=problem)
        )


def _check(exe: str, plan: ffmpeg.RenderPlan) -> None:
    """The video this stage just rendered: every packet is there and readable, the keyframes
    and the sound decode, and it holds exactly the plan's frames. (ffmpeg exited cleanly, so
    what can still be wrong is a file cut short or mis-assembled; decoding every frame as well
    would catch only a corrupt bitstream from the encoder itself, at ten times the cost. A
    generator's video, which nothing here made, is decoded in full: ``_verify``.)"""
    video = plan.output
    result = subprocess.run(
        ffmpeg.check_argv(exe, video),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or result.stderr.strip():
        video.unlink(missing_ok=True)
        raise TransientStageError(
            _("the rendered video does not decode: {value}").format(value=result.stderr[-500:])
        )
    frames = ffmpeg.frames_checked(result.stdout)
    expected = sum(plan.frames)
    if frames != expected:
        video.unlink(missing_ok=True)
        raise TransientStageError(
            _("the rendered video lasts {actual:.2f} s, not {expected:.2f} s").format(
                actual=(frames or 0) / ffmpeg.FPS, expected=expected / ffmpeg.FPS
            )
        )
