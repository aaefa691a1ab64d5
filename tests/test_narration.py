"""Narration, captions and loudness: the offline voice, the caption lines and files, and what a
narrated render decodes to (small 480p renders, decoded and measured with the bundled ffmpeg)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageStat

from autoqueue.media import captions
from autoqueue.media.espeak import Espeak, Word, voice_for
from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection

from .conftest import add
from .helpers.homes import drain, small_home
from .helpers.media import FFMPEG, frame, probe, wav_seconds


def measure(video: Path) -> dict[str, float]:
    """Integrated loudness (LUFS), true peak (dBFS) and mean volume (dB) of the video's audio."""
    loud = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(video), "-af", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    summary = loud[loud.rindex("Summary:") :]
    volume = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(video), "-af", "volumedetect",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    return {
        "I": float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),  # type: ignore[union-attr]
        "peak": float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)),  # type: ignore[union-attr]
        "mean": float(re.search(r"mean_volume: (-?[\d.]+) dB", volume).group(1)),  # type: ignore[union-attr]
    }


# -- the voice -------------------------------------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("오늘의 환율을 정리해 드립니다. 달러는 조금 올랐습니다.", "ko"),
        ("Here is a quick market wrap for today.", "en-us"),
    ],
)
def test_espeak_speaks_offline_with_word_times(text: str, voice: str) -> None:
    assert voice_for(text, None) == voice
    speech = Espeak.get().speak(text, voice, 175)
    assert 1.0 < speech.seconds < 15.0
    samples = memoryview(speech.pcm).cast("h")
    assert max(abs(s) for s in samples) > 3000  # a voice, not silence
    assert [w.text for w in speech.words] == text.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and starts[-1] < speech.seconds
    assert all(w.end >= w.start for w in speech.words)


# -- caption lines and files -----------------------------------------------------------------------


@pytest.mark.no_db
def test_caption_lines_break_between_words_by_drawn_width_and_after_sentences() -> None:
    text = (
        "무선 가습기 가격은 삼만 구천 원입니다. 소음이 없고 여덟 시간 갑니다 Supercalifragilistic"
    )
    words = captions.spread(text, 0.0, 10.0)
    lines = captions.break_lines(words, max_cells=16)
    assert [w for line in lines for w in line.words] == words  # nothing lost or reordered
    for line in lines:
        assert captions.cells(line.text) <= 16 or len(line.words) == 1
    assert lines[0].text.endswith("가격은") or captions.cells(lines[0].text) <= 16
    assert any(line.text.endswith("원입니다.") for line in lines)  # a sentence ends a line
    assert captions.cells("가나") == 4 and captions.cells("ab") == 2


@pytest.mark.no_db
def test_ass_highlights_each_word_in_turn_and_srt_has_one_cue_per_line(tmp_path: Path) -> None:
    words = [
        Word("하나", 0.0, 0.5),
        Word("둘", 0.5, 1.0),
        Word("셋.", 1.0, 1.6),
        Word("넷", 2.0, 2.5),
    ]
    lines = captions.break_lines(words, 40)
    assert [line.text for line in lines] == ["하나 둘 셋.", "넷"]
    layout = captions.Layout(1080, 1920)
    captions.write_ass(tmp_path / "c.ass", lines, layout, captions.Style(font="NanumGothic"))
    events = [
        line for line in (tmp_path / "c.ass").read_text(encoding="utf-8").splitlines()
        if line.startswith("Dialogue:")
    ]  # fmt: skip
    assert len(events) == 4  # one per word
    assert events[1].startswith("Dialogue: 0,0:00:00.50,0:00:01.00,")
    assert "{\\c&H00D4FF&}둘{\\c&HFFFFFF&}" in events[1] and "하나" in events[1]
    assert f"PlayResY: {layout.height}" in (tmp_path / "c.ass").read_text(encoding="utf-8")
    captions.write_srt(tmp_path / "c.srt", lines)
    assert (tmp_path / "c.srt").read_text(encoding="utf-8") == (
        "1\n00:00:00,000 --> 00:00:01,600\n하나 둘 셋.\n\n2\n00:00:02,000 --> 00:00:02,500\n넷\n"
    )
    # Captions on a Short stay out of the bottom quarter and the right 14 % YouTube covers, and
    # are centred on the frame (as much margin on the left).
    assert layout.margin_bottom >= 0.25 * 1920 and layout.margin_right >= 0.14 * 1080
    assert layout.margin_left == layout.margin_right


# -- what a narrated render decodes to ---------------------------------------------------------


@pytest.mark.slow
def test_a_narrated_video_is_loud_enough_captioned_and_as_long_as_its_voice(
    home: Path, tmp_path: Path
) -> None:
    workspace = small_home(home)
    conn = workspace.connect()
    task_id = add(workspace, conn, "오늘의 환율 정리", type="shortform", media_mode="crawl")
    drain(workspace)
    folder = workspace.task_dir(task_id)
    video = folder / "output.mp4"
    meta = probe(video)
    voice = wav_seconds(folder / "voice.wav")
    assert meta["duration"] == pytest.approx(voice, abs=0.05)
    sound = measure(video)
    assert sound["mean"] > -35  # not silent
    assert sound["I"] == pytest.approx(-14.0, abs=1.0)  # YouTube's reference loudness
    assert sound["peak"] <= 0.0
    # Captions: the same task rendered without them (captions turned off, the task added
    # again) differs in the lower part of the frame only, where the spoken line is drawn.
    plain = small_home(home, "captions = false\n")
    plain_id = add(plain, conn, "오늘의 환율 정리", type="shortform", media_mode="crawl")
    drain(plain)
    assert not (plain.task_dir(plain_id) / "output.srt").exists()
    # In the second scene, a card with a headline: its captions at the foot of the safe area.
    cues = (folder / "output.srt").read_text(encoding="utf-8").split("\n\n")
    second = next(cue for cue in cues if "지금부터" in cue)
    start = re.search(r"(\d+):(\d+):(\d+),(\d+) -->", second)
    assert start is not None
    at = int(start[2]) * 60 + int(start[3]) + int(start[4]) / 1000 + 0.1
    with_captions = frame(video, at, tmp_path / "a.png")
    without = frame(plain.task_dir(plain_id) / "output.mp4", at, tmp_path / "b.png")
    width, height = with_captions.size
    difference = ImageChops.difference(with_captions, without)
    top = ImageStat.Stat(difference.crop((0, 0, width, height // 2))).mean
    bottom = ImageStat.Stat(difference.crop((0, height // 2, width, height))).mean
    assert max(top) < 0.5 and max(bottom) > 1.0, (top, bottom)  # a short line: 1.8 here
    assert (folder / "output.srt").read_text(encoding="utf-8").count("-->") >= 2
    conn.close()


def test_narration_off_keeps_the_story_durations_and_no_voice(home: Path, tmp_path: Path) -> None:
    workspace = small_home(home, 'narration = "off"\n')
    conn = workspace.connect()
    task_id = add(workspace, conn, "A quiet one", type="longform", media_mode="crawl")
    drain(workspace)
    folder = workspace.task_dir(task_id)
    assert not (folder / "voice.wav").exists()
    # three scenes with no duration in the story: 3 s each
    assert probe(folder / "output.mp4", count=False)["duration"] == pytest.approx(9.0, abs=0.05)
    assert (folder / "output.srt").exists()  # captions follow the text without a voice
    conn.close()


TTS_PROGRAM = """
import math, os, struct, wave
seconds = 0.5 + 0.1 * len(os.environ["AUTOQUEUE_NARRATION_TEXT"].split())
with wave.open(os.environ["AUTOQUEUE_NARRATION_OUT"], "wb") as out:
    out.setnchannels(2); out.setsampwidth(2); out.setframerate(44100)
    frames = int(seconds * 44100)
    out.writeframes(b"".join(struct.pack("<hh", int(9000 * math.sin(n / 9)), 0) for n in range(frames)))
print(os.environ["AUTOQUEUE_NARRATION_VOICE"], flush=True)
"""


def test_a_tts_program_of_the_users_speaks_each_scene(home: Path, conn: Connection) -> None:
    (home / "mytts.py").write_text(TTS_PROGRAM, encoding="utf-8")
    python = Path(sys.executable).as_posix()
    workspace = small_home(
        home, f'narration = "command"\nnarration_command = ["{python}", "mytts.py"]\n'
    )
    task_id = add(workspace, conn, "A voice of my own", type="longform", media_mode="crawl")
    drain(workspace)
    folder = workspace.task_dir(task_id)
    voice = wav_seconds(folder / "voice.wav")
    assert probe(folder / "output.mp4", count=False)["duration"] == pytest.approx(voice, abs=0.05)
    assert measure(folder / "output.mp4")["mean"] > -35
    logged = [row[0] for row in conn.execute("SELECT message FROM task_logs")]
    assert "en-us" in logged  # the program's own output, logged as a stage program's is


# -- motion ------------------------------------------------------------------------------------


def render_two(tmp_path: Path, workers: int = 1, **options: object) -> Path:
    """Two 1.5 s scenes (a red and a blue picture with a pattern) rendered at 108x192, in one
    part, or (``workers=2``) in two, joined where the second fades in over the first."""
    from autoqueue.stages import ffmpeg, render

    images = []
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        picture = Image.new("RGB", (400, 400), colour)
        for x in range(0, 400, 40):  # stripes, so that a pan shows
            picture.paste((255, 255, 255), (x, 0, x + 8, 400))
        picture.save(tmp_path / f"{name}.png")
        images.append(tmp_path / f"{name}.png")
    plan = ffmpeg.RenderPlan(
        images=tuple(images), durations=(1.5, 1.5), size=(108, 192), fit="crop",
        output=tmp_path / "two.mp4", **options,  # type: ignore[arg-type]
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=workers)
    assert not (tmp_path / "render.tmp").exists()  # the parts are gone once joined
    return plan.output


def red_planes(video: Path) -> list[Image.Image]:
    """Each frame's Cr plane as it is stored (4:2:0: half the width and height)."""
    reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="yuv420p", bits_per_pixel=12)
    width, height = next(reader)["size"]  # type: ignore[call-overload]
    luma, chroma = width * height, (width // 2) * (height // 2)
    return [
        Image.frombytes("L", (width // 2, height // 2), bytes(data[luma + chroma :]))  # type: ignore[index]
        for data in reader
    ]


def frames_of(video: Path) -> list[Image.Image]:
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    return [Image.frombytes("RGB", meta["size"], data) for data in reader]  # type: ignore[arg-type]


@pytest.mark.no_db
@pytest.mark.parametrize("workers", [1, 2])
def test_scenes_crossfade_and_keep_their_place(tmp_path: Path, workers: int) -> None:
    """In one part, and in two: the second part's first frames are the fade, blended from the
    first scene's end, which that part renders again for it."""
    frames = frames_of(render_two(tmp_path, workers, crossfade=0.4))
    assert len(frames) == 90  # the plan's frames: crossfades take nothing from the soundtrack
    reds = [ImageStat.Stat(f).mean[0] - ImageStat.Stat(f).mean[2] for f in frames]
    assert reds[0] > 100 and reds[-1] < -100
    # The fade's 12 frames (0.4 s) start on the first scene's last frame slot + 1, at 1.5 s, and
    # step evenly from one picture to the other: no frame of either alone, none repeated.
    fading = [index for index, value in enumerate(reds) if -145 < value < 145]
    assert fading == list(range(45, 57))
    steps = [reds[i] - reds[i + 1] for i in range(44, 57)]
    assert all(15 < step < 32 for step in steps), steps
    hard = frames_of(render_two(tmp_path, workers, crossfade=0.0))
    hard_reds = [ImageStat.Stat(f).mean[0] - ImageStat.Stat(f).mean[2] for f in hard]
    assert not [value for value in hard_reds if -100 < value < 100]  # the same render, cut


@pytest.mark.no_db
def test_a_command_line_too_long_for_windows_reads_its_filter_graph_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past Windows' 32,767 characters (a long video's scenes and captions), a part's filter
    graph goes in a file: the same video comes out."""
    from autoqueue.stages import render

    started: list[list[str]] = []
    quietly = render.run_quietly

    def run(argv: list[str], cwd: Path, part: int | None) -> None:
        started.append(argv)
        quietly(argv, cwd, part)

    monkeypatch.setattr(render, "ARGV_LIMIT", 200)
    monkeypatch.setattr(render, "run_quietly", run)
    frames = frames_of(render_two(tmp_path, 2, crossfade=0.4))
    parts = [argv for argv in started if "-/filter_complex" in argv]
    assert len(parts) == 2 and not any("-filter_complex" in argv for argv in parts)
    monkeypatch.undo()
    inline = frames_of(render_two(tmp_path, 2, crossfade=0.4))
    assert len(frames) == len(inline) == 90
    assert all(max(ImageStat.Stat(ImageChops.difference(a, b)).mean) < 0.5
               for a, b in zip(frames, inline, strict=True))  # fmt: skip


@pytest.mark.no_db
def test_a_render_cut_short_or_missing_frames_is_refused_and_removed(tmp_path: Path) -> None:
    from autoqueue.errors import TransientStageError
    from autoqueue.stages import ffmpeg
    from autoqueue.stages.video import _check, _verify

    video = render_two(tmp_path, crossfade=0.4)
    plan = ffmpeg.RenderPlan(
        images=(video,), durations=(1.5, 1.5), size=(108, 192), fit="crop", output=video
    )
    _check(FFMPEG, plan)  # the file as rendered: 90 frames, as planned
    assert video.is_file()
    whole = video.read_bytes()

    with pytest.raises(TransientStageError, match=r"lasts 3\.00 s, not 3\.03 s"):
        _check(FFMPEG, dataclasses.replace(plan, durations=(1.5, 1.54)))  # one frame short
    assert not video.exists()

    video.write_bytes(whole[: len(whole) * 2 // 3])  # cut short, as by a full disk
    with pytest.raises(TransientStageError, match="does not decode"):
        _check(FFMPEG, plan)
    assert not video.exists()

    # A video that a generator program made is decoded frame by frame: a damaged frame that
    # is not a keyframe is found too.
    damaged = bytearray(whole)
    for offset in range(len(whole) // 2, len(whole) - 2000, 97):
        damaged[offset] ^= 0x5A
    video.write_bytes(bytes(damaged))
    with pytest.raises(TransientStageError, match="does not decode"):
        _verify(None, FFMPEG, video)  # type: ignore[arg-type]
    assert not video.exists()


@pytest.mark.no_db
@pytest.mark.parametrize("workers", [1, 3])
def test_ten_crossfading_scenes_keep_every_frame_and_their_place(
    tmp_path: Path, workers: int
) -> None:
    """Scenes of uneven whole-frame lengths, crossfading, in one part or three: the file holds
    exactly the plan's frames (concat's own timestamps once lost one frame in three of nine
    fades), and each scene's colour is on screen in the middle of its slot on the
    soundtrack."""
    from autoqueue.stages import ffmpeg, render

    colours = [(240 - n * 24, 40 + n * 20, 20 + n * 22) for n in range(10)]
    images = []
    for number, colour in enumerate(colours):
        images.append(tmp_path / f"scene_{number}.png")
        Image.new("RGB", (200, 300), colour).save(images[-1])
    lengths = [92, 90, 90, 92, 94, 93, 94, 90, 94, 92]
    plan = ffmpeg.RenderPlan(
        images=tuple(images), durations=tuple(n / 30 for n in lengths), size=(108, 192),
        fit="crop", output=tmp_path / "ten.mp4", motion=0.08, crossfade=0.4,
    )  # fmt: skip
    assert len(ffmpeg.split(plan, workers)) == workers
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=workers)
    frames = frames_of(plan.output)
    assert len(frames) == sum(lengths)
    start = 0
    for colour, length in zip(colours, lengths, strict=True):
        shown = ImageStat.Stat(frames[start + length // 2]).mean
        assert all(abs(a - b) < 12 for a, b in zip(shown, colour, strict=False)), (start, shown)
        start += length


def line_positions(
    frames: list[Image.Image], axis: str, near: float, reach: int = 50
) -> list[float]:
    """Where a thin bright line across the frame stands in each frame, to a fraction of a
    pixel (the centroid of its brightness over the background, followed frame to frame); the
    first time, the brightest within ``reach`` pixels of ``near``."""
    positions: list[float] = []
    at = near
    for image in frames:
        grey = image.convert("L")
        width, height = grey.size
        if axis == "x":  # a vertical line: a band of rows, averaged
            band = grey.crop((0, height // 3, width, height // 3 + 40)).resize((width, 1))
        else:
            band = grey.crop((width // 3, 0, width // 3 + 40, height)).resize((1, height))
        values = list(band.getdata())
        if not positions:  # start on the brightest line near ``near``
            at = max(range(round(near) - reach, round(near) + reach), key=lambda i: values[i])
        window = range(max(0, round(at) - 3), min(len(values), round(at) + 4))
        floor = sorted(values)[len(values) // 2]  # the textured background's middle
        weight = sum(values[i] - floor for i in window)
        at = sum(i * (values[i] - floor) for i in window) / weight
        positions.append(at)
    return positions


@pytest.mark.no_db
def test_pans_move_the_same_fraction_of_a_pixel_every_frame(tmp_path: Path) -> None:
    """A pan across a textured still moves by sub-pixel amounts, the same every frame (crop's
    whole pixels moved 2, 0, 2, 0, 0 px a frame: a judder on sharp edges)."""
    from autoqueue.stages import ffmpeg, render

    noise = random.Random(7)
    stills = []
    for axis in ("x", "x", "y"):  # the first two scenes pan across, the third up
        picture = Image.new("L", (600, 1066))
        picture.putdata([96 + noise.randrange(-12, 13) for _ in range(600 * 1066)])
        for k in range(12):  # thin bright lines, irregularly spaced, across the pan
            at = 40 + k * 45 + noise.randrange(0, 9)
            box = (at, 0, at + 2, 1066) if axis == "x" else (0, at * 2, 600, at * 2 + 2)
            picture.paste(250, box)
        stills.append(tmp_path / f"{len(stills)}{axis}.png")
        picture.convert("RGB").save(stills[-1])
    plan = ffmpeg.RenderPlan(
        images=tuple(stills), durations=(2.0, 2.0, 2.0), size=(540, 960), fit="crop",
        output=tmp_path / "pan.mp4", motion=0.08,
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=1)
    frames = frames_of(plan.output)
    for axis, scene in (("x", frames[2:58]), ("x", frames[62:118]), ("y", frames[122:178])):
        first = scene[0].convert("L")
        middle = (first.width if axis == "x" else first.height) // 2
        steps = [b - a for a, b in itertools.pairwise(line_positions(scene, axis, middle))]
        assert 0.3 < abs(sum(steps) / len(steps)) < 1.5, (axis, steps)  # it moves
        assert max(steps) - min(steps) <= 0.25, (axis, [round(s, 2) for s in steps])


@pytest.mark.no_db
@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (108, 192)])
@pytest.mark.parametrize("frames", [2, 45, 102, 600])
@pytest.mark.parametrize("motion_", [0.01, 0.08, 0.5])
def test_every_pan_fits_its_canvas(size: tuple[int, int], frames: int, motion_: float) -> None:
    """ffmpeg's crop clamps a window that would leave its picture: the pan would stop short and
    stand still. Every window of every frame, with the copies' two pixels, lies inside the
    canvas; the pan travels about ``motion`` of the frame; from 3/4 px a frame it steps whole
    pixels, and its copies are only those its positions use."""
    from autoqueue.stages import motion

    for index in range(4):
        pan = motion.plan_pan(index, size, frames, motion_)
        assert pan is not None
        axis = 0 if pan.axis == "x" else 1
        room = pan.canvas[axis] - 2 - size[axis]
        assert pan.canvas[1 - axis] >= size[1 - axis] + 2 * pan.across  # centred across
        evens = [2 * (pan.position(n) // motion.CYCLE) for n in range(frames)]
        assert min(evens) >= 0 and max(evens) <= room, (pan, min(evens), max(evens))
        offsets = {pan.position(n) % motion.CYCLE for n in range(frames)}
        assert set(pan.copies) == offsets
        speed = size[axis] * motion_ / max(frames - 1, 1)
        if speed >= motion.WHOLE_FROM:
            assert pan.step % motion.QUARTERS == 0
        travel = abs(pan.step) * (frames - 1) / motion.QUARTERS
        assert travel <= size[axis] * motion_ * 1.5 + 1 or abs(pan.step) == 1


@pytest.mark.no_db
def test_a_crossfade_between_panning_pictures_steps_every_frame(tmp_path: Path) -> None:
    """A pan of several copies of its canvas comes out of ffmpeg's interleave timed in
    microseconds; the fade's frames of the old scene, cut and timed from 0, then fell a
    microsecond before the new one's now and then, and the overlay paired them one frame
    off: a frame shown twice, the next one skipped (a 92-frame scene before the fade)."""
    from autoqueue.stages import ffmpeg, render

    images = []
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        picture = Image.new("RGB", (400, 400), colour)
        for x in range(0, 400, 40):
            picture.paste((255, 255, 255), (x, 0, x + 8, 400))
        picture.save(tmp_path / f"{name}.png")
        images.append(tmp_path / f"{name}.png")
    plan = ffmpeg.RenderPlan(
        images=tuple(images), durations=(92 / 30, 2.0), size=(108, 192), fit="crop",
        output=tmp_path / "fade.mp4", motion=0.08, crossfade=0.4,
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=1)
    blues = [ImageStat.Stat(frame).mean[2] for frame in frames_of(plan.output)[92:104]]
    steps = [b - a for a, b in itertools.pairwise(blues)]
    assert all(step > 4 for step in steps), [round(step, 1) for step in steps]


@pytest.mark.no_db
def test_colour_moves_with_the_picture(tmp_path: Path) -> None:
    """4:2:0 video has a chroma pixel for every two: a window cropped at an odd pixel took its
    colour from a pixel before, so colour moved in two-pixel jumps behind a picture moving
    evenly. A red line's colour keeps to its brightness, every frame: at three quarters of a
    pixel a frame across, and at a whole pixel a frame up."""
    from autoqueue.stages import ffmpeg, render

    stills = []
    for axis in ("x", "x", "y"):  # the first two scenes pan across, the third up
        picture = Image.new("RGB", (600, 1066), (40, 40, 40))
        for k in range(12):
            at = 40 + k * 45
            box = (at, 0, at + 4, 1066) if axis == "x" else (0, at * 2, 600, at * 2 + 4)
            picture.paste((230, 20, 20), box)
        stills.append(tmp_path / f"{len(stills)}{axis}.png")
        picture.save(stills[-1])
    plan = ffmpeg.RenderPlan(
        images=tuple(stills), durations=(2.0, 2.0, 2.0), size=(540, 960), fit="crop",
        output=tmp_path / "red.mp4", motion=0.08,
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=1)
    frames, reds = frames_of(plan.output), red_planes(plan.output)  # chroma as stored: half size
    for axis, first, last in (("x", 2, 58), ("y", 122, 178)):
        scene = frames[first:last]
        middle = (scene[0].width if axis == "x" else scene[0].height) // 2
        brightness = line_positions(scene, axis, middle)
        colour = [2 * at for at in line_positions(reds[first:last], axis, brightness[0] / 2, 5)]
        steps = [b - a for a, b in itertools.pairwise(brightness)]
        assert 0.5 < abs(sum(steps) / len(steps)) < 1.5, (axis, steps)  # it moves
        behind = [c - b for c, b in zip(colour, brightness, strict=True)]
        # within 0.4 px of the same place every frame (0.2-0.3 here; it jumped by 0.8 before)
        assert max(behind) - min(behind) <= 0.4, (axis, [round(d, 2) for d in behind])


@pytest.mark.no_db
def test_stills_move_and_nothing_freezes_inside_a_scene(tmp_path: Path) -> None:
    def frozen(video: Path) -> list[str]:
        report = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostats", "-i", str(video), "-vf",
             "freezedetect=n=0.001:d=0.5", "-f", "null", "-"],
            capture_output=True, text=True, check=True,
        ).stderr  # fmt: skip
        return re.findall(r"freeze_duration: ([\d.]+)", report)

    # At 108x192, motion 0.5 moves about a pixel a frame, as 0.08 does at full size (a pan
    # now moves a fraction of a pixel each frame: 0.08 here is a tenth of a pixel a frame).
    assert frozen(render_two(tmp_path, motion=0.5, crossfade=0.4)) == []
    assert frozen(render_two(tmp_path, motion=0.0, crossfade=0.0))  # stills alone do freeze


@pytest.mark.no_db
def test_a_photo_fills_the_frame_over_a_blurred_copy_of_itself(tmp_path: Path) -> None:
    from autoqueue.stages import ffmpeg, render

    wide = Image.new("RGB", (800, 300), (40, 160, 40))
    wide.paste((250, 250, 250), (0, 0, 800, 30))  # a white band at its top edge
    wide.save(tmp_path / "wide.png")
    plan = ffmpeg.RenderPlan(
        images=(tmp_path / "wide.png",), durations=(1.0,), size=(108, 192), fit="pad",
        output=tmp_path / "wide.mp4",
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp")
    first = frames_of(plan.output)[0]
    top = first.getpixel((54, 10))  # above the picture: its blurred copy, not black bars
    assert isinstance(top, tuple) and max(top) > 60 and top[1] > top[0]
    centre = first.getpixel((54, 96))
    assert isinstance(centre, tuple) and centre[1] > 120 and centre[0] < 90


@pytest.mark.no_db
def test_the_thumbnail_is_the_best_picture_with_the_title_across_it(tmp_path: Path) -> None:
    from autoqueue.stages import fonts
    from autoqueue.stages.thumbnail import best_image, write_thumbnail

    flat = tmp_path / "flat.png"
    Image.new("RGB", (600, 400), (90, 90, 90)).save(flat)
    busy = tmp_path / "busy.png"
    picture = Image.new("RGB", (600, 400), (20, 20, 20))
    for x in range(0, 600, 30):
        picture.paste((240, 240, 240), (x, 0, x + 15, 400))
    picture.save(busy)
    assert best_image([flat, busy]) == busy
    write_thumbnail(flat, tmp_path / "plain.jpg", (320, 180))
    font = fonts.find_cjk_font() or fonts.find_plain_font()
    write_thumbnail(flat, tmp_path / "titled.jpg", (320, 180), "오늘의 환율 정리", font)
    plain = Image.open(tmp_path / "plain.jpg").convert("RGB")
    titled = Image.open(tmp_path / "titled.jpg").convert("RGB")
    assert plain.size == titled.size == (320, 180)
    upper = ImageChops.difference(plain, titled).crop((0, 0, 320, 70))
    lower = ImageChops.difference(plain, titled).crop((0, 120, 320, 180))
    assert max(ImageStat.Stat(upper).mean) > 20  # the title, drawn large at the top
    assert max(ImageStat.Stat(lower).mean) < 3  # the picture itself untouched below


@pytest.mark.no_db
def test_the_next_run_archives_the_voice_and_captions_too(tmp_path: Path) -> None:
    """A recurring task's next run moves the previous run's files aside first: a stale
    output.srt must never go up with the next video."""
    from autoqueue.layout import run_outputs

    for name in ("story.json", "output.mp4", "voice.wav", "captions.ass", "output.srt"):
        (tmp_path / name).write_text("x")
    archived = {path.name for path in run_outputs(tmp_path, keep_scene_images=True)}
    assert {"voice.wav", "captions.ass", "output.srt", "output.mp4"} <= archived


@pytest.mark.no_db
@pytest.mark.parametrize("position", ["bottom", "middle", "top"])
def test_captions_drawn_once_per_change_look_as_libass_burning_every_frame(
    tmp_path: Path, position: str
) -> None:
    """The render has libass draw each caption once, where it changes, on a strip of the frame,
    and lays that over the frames until the next change (here in two parts): frame for frame
    the picture that libass burning captions.ass into every frame of the same video gives,
    descenders, outline and a scene's own size and position included."""
    from autoqueue.stages import ffmpeg, fonts, render

    font = fonts.find_cjk_font() or fonts.find_plain_font()
    assert font is not None
    size = (216, 384)
    layout = captions.Layout(*size)
    style = captions.Style(font=fonts.family(Path(font)))
    look = captions.LineStyle(size=1.3, position=position) if position != "bottom" else None
    words = [Word("장면", 0.0, 0.45), Word("jumpy", 0.45, 0.9), Word("glyphs.", 0.9, 1.37),
             Word("둘째.", 1.37, 1.9), Word("마지막", 2.1, 2.4), Word("줄", 2.4, 2.6)]  # fmt: skip
    lines = [
        dataclasses.replace(line, style=look)
        for line in captions.break_lines(words, layout.max_cells())
    ]
    images = []
    for name, shade in (("one", 90), ("two", 150)):
        picture = Image.new("RGB", (300, 500), (shade, shade, shade))
        for y in range(0, 500, 25):
            picture.paste((shade // 2, shade, 255 - shade), (0, y, 300, y + 6))
        images.append(tmp_path / f"{name}.png")
        picture.save(images[-1])
    track = captions.Track(tuple(lines), layout, style, Path(font))
    plan = ffmpeg.RenderPlan(
        images=tuple(images), durations=(1.5, 1.5), size=size, fit="crop",
        output=tmp_path / "captioned.mp4", captions=track, motion=0.08, crossfade=0.3,
        quality=("qp", 0),  # lossless: what differs is how the captions were drawn
    )  # fmt: skip
    render.render(FFMPEG, plan, tmp_path / "render.tmp", workers=2)
    plain = dataclasses.replace(plan, captions=None, output=tmp_path / "plain.mp4")
    render.render(FFMPEG, plain, tmp_path / "render.tmp", workers=2)
    captions.write_ass(tmp_path / "c.ass", lines, layout, style)
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-i", "plain.mp4",
         "-vf", f"subtitles=c.ass:fontsdir={Path(font).parent.as_posix()}",
         "-c:v", "libx264", "-qp", "0", "burnt.mp4"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    ours, burnt, bare = (frames_of(tmp_path / name) for name in
                         ("captioned.mp4", "burnt.mp4", "plain.mp4"))  # fmt: skip
    assert len(ours) == len(burnt) == 90

    def apart(one: Image.Image, other: Image.Image) -> float:
        return max(ImageStat.Stat(ImageChops.difference(one, other)).mean)

    said = [n for n in range(90) if apart(burnt[n], bare[n]) > 0.3]
    # a caption until the silence from 1.9 s to 2.1 s (frames 57 to 62), and from then to 2.6 s
    assert said == [n for n in range(78) if not 57 <= n < 63], said

    # Where the glyphs are, frame by frame: the same box to a pixel or two (4:2:0 colour edges).
    def drawn(frame: Image.Image, under: Image.Image) -> tuple[int, int, int, int] | None:
        mask = ImageChops.difference(frame, under).convert("L").point(lambda v: 255 * (v > 40))
        return mask.getbbox()

    for n in range(90):
        box, expected = drawn(ours[n], bare[n]), drawn(burnt[n], bare[n])
        assert (box is None) == (expected is None), n
        if box is not None and expected is not None:
            assert max(abs(a - b) for a, b in zip(box, expected, strict=True)) <= 2, (n, box)
    # And what is drawn there: the rest of the difference is the edges' colour, under half
    # what a caption itself makes (a caption a few pixels off makes as much as the caption).
    worst = max(apart(ours[n], burnt[n]) for n in range(90))
    captioned = min(apart(burnt[n], bare[n]) for n in said)
    assert worst < captioned / 2, (worst, captioned)


@pytest.mark.no_db
def test_libass_is_given_the_captions_font_family_alone(tmp_path: Path) -> None:
    """libass reads every font of its fonts folder in each part: the render links the captions'
    font and the others of its family (its bold beside its regular), not the rest of the
    folder it sits in (a system one: fonts-nanum's 33 MB)."""
    import shutil

    from autoqueue.stages import ffmpeg, fonts, render

    font = fonts.find_cjk_font() or fonts.find_plain_font()
    if font is None:
        pytest.skip("no font on this machine")
    own = tmp_path / "own"
    own.mkdir()
    shutil.copyfile(font, own / "Caption.ttf")
    shutil.copyfile(font, own / "Caption-Twin.ttf")  # the same family, as a bold would be
    (own / "notes.txt").write_text("not a font", encoding="utf-8")
    others = [path for path in Path(font).parent.iterdir() if path.suffix == ".ttf"]
    stranger = next((p for p in others if fonts.family(p) != fonts.family(Path(font))), None)
    if stranger is not None:
        shutil.copyfile(stranger, own / stranger.name)
    assert fonts.family_files(own / "Caption.ttf") == [
        own / "Caption.ttf",
        own / "Caption-Twin.ttf",
    ]
    folder = tmp_path / "render.tmp"
    folder.mkdir()
    layout = captions.Layout(108, 192)
    track = captions.Track(
        tuple(captions.break_lines(captions.spread("one two", 0.0, 1.0), 20)), layout,
        captions.preset("bold", fonts.family(Path(font)), "#FFFFFF", "#00D4FF"), own / "Caption.ttf",
    )  # fmt: skip
    plan = ffmpeg.RenderPlan(
        images=(tmp_path / "a.png",), durations=(1.0,), size=(108, 192), fit="crop",
        output=tmp_path / "out.mp4", captions=track,
    )  # fmt: skip
    [part] = render.plan_parts(plan, folder, 1)
    assert part.captions is not None and part.captions.fonts is not None
    linked = sorted(path.name for path in (folder / part.captions.fonts).iterdir())
    assert linked == ["Caption-Twin.ttf", "Caption.ttf"]


@pytest.mark.no_db
@pytest.mark.parametrize("position", ["top", "bottom"])
def test_a_scene_caption_style_places_and_colours_its_lines(tmp_path: Path, position: str) -> None:
    """story.json's caption_style, rendered by libass: the line where the scene asks, in its
    colour."""
    from autoqueue.media.story import Story
    from autoqueue.stages.fonts import family, find_cjk_font, find_plain_font

    story = Story.model_validate(
        {"title": "t", "scenes": [{"text": "하나 둘", "caption_style": {
            "colour": "#00FF00", "highlight": "#00FF00", "size": 1.5, "position": position}}]}
    )  # fmt: skip
    own = story.scenes[0].caption_style
    assert own is not None
    look = captions.LineStyle(own.colour, own.highlight, own.size, own.position)
    line = captions.Line((Word("하나", 0.0, 1.0), Word("둘", 1.0, 2.0)), look)
    layout = captions.Layout(216, 384)
    font = find_cjk_font() or find_plain_font()
    assert font is not None
    captions.write_ass(tmp_path / "c.ass", [line], layout, captions.Style(font=family(Path(font))))
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "color=black:s=216x384:d=2:r=10",
         "-vf", f"subtitles=c.ass:fontsdir={Path(font).parent.as_posix()}",
         "-frames:v", "1", "-update", "1", "out.png"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    picture = Image.open(tmp_path / "out.png").convert("RGB")
    green = [
        (x, y)
        for x in range(216)
        for y in range(384)
        if picture.getpixel((x, y))[1] > 150 > picture.getpixel((x, y))[0]
    ]  # type: ignore[index]
    assert green, "no caption drawn"
    rows = [y for _x, y in green]
    if position == "top":
        assert max(rows) < 384 // 2
    else:
        assert min(rows) > 384 // 2
    with pytest.raises(ValueError):
        Story.model_validate(
            {"title": "t", "scenes": [{"text": "x", "caption_style": {"colour": "green"}}]}
        )


# -- the operating system's voices (pyttsx3) ---------------------------------------------------


class Voice:
    """A voice as pyttsx3 describes it: ``id``, ``name``, ``languages``."""

    def __init__(self, id: str, name: str, languages: list[object]) -> None:
        self.id, self.name, self.languages = id, name, languages


SAPI = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Speech\Voices\Tokens"


@pytest.mark.no_db
def test_a_system_voice_is_picked_by_language_id_or_name_on_every_platform() -> None:
    from autoqueue.media.system_voice import NoVoice, pick_voice

    windows = [
        Voice(SAPI + r"\TTS_MS_EN-US_ZIRA_11.0", "Microsoft Zira Desktop - English (United States)", []),
        Voice(SAPI + r"\TTS_MS_KO-KR_HEAMI_11.0", "Microsoft Heami Desktop - Korean", []),
    ]  # fmt: skip
    mac = [
        Voice("com.apple.voice.compact.en-US.Samantha", "Samantha", ["en_US"]),
        Voice("com.apple.voice.compact.ko-KR.Yuna", "Yuna", ["ko_KR"]),
    ]
    espeak = [
        Voice("gmw/en-US", "English (America)", [b"\x02en-us"]),
        Voice("ko", "Korean", [b"\x05ko"]),
    ]
    assert pick_voice(windows, "ko").endswith("KO-KR_HEAMI_11.0")
    assert pick_voice(windows, "en-us").endswith("EN-US_ZIRA_11.0")
    assert pick_voice(mac, "ko") == "com.apple.voice.compact.ko-KR.Yuna"
    assert pick_voice(mac, "en-us") == "com.apple.voice.compact.en-US.Samantha"
    assert pick_voice(espeak, "ko") == "ko"
    assert pick_voice(espeak, "en-us") == "gmw/en-US"
    assert pick_voice(mac, "Samantha") == "com.apple.voice.compact.en-US.Samantha"  # by name
    with pytest.raises(NoVoice):
        pick_voice(mac, "ja")


def test_the_system_voice_speaks_each_scene_and_captions_follow_it(
    home: Path, conn: Connection
) -> None:
    """Through the real pyttsx3 (eSpeak NG on Linux: the bundled one), in a program of its own."""
    workspace = small_home(home, 'narration = "system"\n')
    task_id = add(workspace, conn, "시스템 목소리로 읽어요", type="longform", media_mode="crawl")
    drain(workspace)
    folder = workspace.task_dir(task_id)
    item = queue_repo.for_task(conn, task_id)[-1]
    assert item.status.value == "completed", item.error_message
    voice = wav_seconds(folder / "voice.wav")
    assert probe(folder / "output.mp4", count=False)["duration"] == pytest.approx(voice, abs=0.05)
    assert measure(folder / "output.mp4")["mean"] > -35
    cues = (folder / "output.srt").read_text(encoding="utf-8")
    assert "시스템" in cues and cues.count("-->") >= 2
    assert not list(folder.glob("narration_part*"))


def test_a_system_voice_that_is_not_installed_fails_permanently_saying_so(
    home: Path, conn: Connection
) -> None:
    workspace = small_home(home, 'narration = "system"\nvoice = "xx-nowhere"\n', max_retry=3)
    task_id = add(workspace, conn, "No such voice", type="longform", media_mode="crawl")
    drain(workspace)
    item = queue_repo.for_task(conn, task_id)[-1]
    assert (item.status.value, item.retry_count) == ("failed", 0)  # permanent: not retried
    assert "no system voice speaks 'xx-nowhere'" in str(item.error_message)
    assert "[stages.video] voice" in str(item.error_message)
