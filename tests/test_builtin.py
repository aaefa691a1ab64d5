"""The built-in offline stages with real Pillow and real ffmpeg: videos are checked by decoding."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import struct
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops
from typer.testing import CliRunner

from autoqueue.errors import PermanentStageError
from autoqueue.kinds import QueueType, TaskType
from autoqueue.media.story import Story
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.stages import fonts
from autoqueue.stages.cards import render_card
from autoqueue.stages.ffmpeg import (
    Part,
    RenderPlan,
    fit_durations,
    join_argv,
    part_argv,
    progress_seconds,
)
from autoqueue.stages.template import build_story
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.workspace import Workspace

from .conftest import add, invoke, open_db, stage_context, write_config
from .helpers.homes import KOREAN_PRODUCT, SMALL, drain, last_item, small_home
from .helpers.media import probe, wav_seconds


@pytest.fixture
def builtin(home: Path) -> Workspace:
    """A home whose every stage is built in, rendering at 480p."""
    return small_home(home)


@pytest.fixture
def builtin_full(home: Path) -> Workspace:
    """A home with the default configuration: every stage built in, 1080p."""
    write_config(home, 'timezone = "UTC"\n[retry]\nmax_retry = 0\n')
    init_home(Workspace.load(home))
    return Workspace.load(home)


@pytest.fixture
def bconn(builtin: Workspace):  # type: ignore[no-untyped-def]
    conn = builtin.connect()
    yield conn
    conn.close()


def pauses(audio: Path) -> list[float]:
    """Every stretch of silence (under -40 dB for 0.15 s or more) in ``audio``, in seconds, as
    ffmpeg's silencedetect measures dead air."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(audio),
         "-af", "silencedetect=n=-40dB:d=0.15", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [float(found) for found in re.findall(r"silence_duration: ([\d.]+)", result.stderr)]


def has_audio(video: Path) -> bool:
    import subprocess

    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(video)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "Audio:" in result.stderr


# -- template ----------------------------------------------------------------------------------


def test_template_story_in_korean_from_korean_product_info() -> None:
    story = build_story("초간편 무선 가습기 리뷰", TaskType.PRODUCT, json.loads(KOREAN_PRODUCT))
    texts = [scene.text for scene in story.scenes]
    shown = [scene.on_screen for scene in story.scenes]
    assert texts[0] == "초간편 무선 가습기 리뷰"
    assert "오늘 소개할 제품은 무선 가습기입니다." in texts and "가격은 39,000원입니다." in texts
    assert "첫째, 무소음." in texts and "둘째, 8시간 지속." in texts
    assert texts[-1] == "지금 바로 확인해 보세요!"
    # A card shows a headline, never the narration: the name, the price, each feature.
    assert shown[1:5] == ["무선 가습기", "39,000원", "무소음", "8시간 지속"]
    # No scene has a length of its own: each lasts as long as it is spoken, plus a breath.
    assert all(scene.duration is None for scene in story.scenes)
    assert "무선 가습기" in story.tags
    Story.model_validate_json(story.model_dump_json())


def test_template_story_in_english_without_product_info_and_headlines_for_its_cards() -> None:
    story = build_story("A week of home cooking", TaskType.LONGFORM, None)
    assert [scene.text for scene in story.scenes][-1].startswith("Thanks for watching")
    assert story.scenes[-1].on_screen == "Like & subscribe"
    assert all(scene.duration is None for scene in story.scenes)


def test_schema_command_prints_the_story_schema(runner: CliRunner, home: Path) -> None:
    result = invoke(runner, home, "schema", "story")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert set(schema["required"]) == {"title", "scenes"}
    assert "text" in schema["$defs"]["Scene"]["properties"]
    assert invoke(runner, home, "schema", "video").exit_code == 2


# -- fonts and cards ---------------------------------------------------------------------------


def test_a_hangul_font_is_found() -> None:
    found = fonts.find_cjk_font()
    if found is None and not os.environ.get("CI"):
        pytest.skip("no Hangul font on this machine (CI installs fonts-nanum)")
    assert found is not None
    assert fonts.missing_glyphs(fonts.load(found, 40), "가나다 한글 ABC") == set()


def test_a_latin_font_is_known_to_lack_hangul() -> None:
    assert fonts.missing_glyphs(fonts.load(None, 40), "가나 AB") == {"가", "나"}


def test_hangul_renders_as_hangul_not_boxes() -> None:
    cjk = fonts.find_cjk_font()
    if cjk is None:
        pytest.skip("no Hangul font")
    text = "무선 가습기"
    with_hangul = render_card(text, size=(1080, 1920), index=0, total=1, font_path=cjk)
    with_boxes = render_card(text, size=(1080, 1920), index=0, total=1, font_path=None)
    assert with_hangul.size == (1080, 1920)
    assert ImageChops.difference(with_hangul, with_boxes).getbbox() is not None

    # Tofu boxes are hollow rectangles; real glyphs put more ink where the text is (the upper
    # part of the safe area, above the captions).
    def ink(image: Image.Image) -> int:
        middle = image.crop((0, 634, 1080, 834)).convert("L")
        return sum(middle.histogram()[201:])

    assert ink(with_hangul) > ink(with_boxes)


@pytest.mark.parametrize(
    ("text", "fails"),
    [("무선 가습기 ABC", True), ("Humidifier review, 무선", False)],
)
def test_cards_refuse_a_font_that_cannot_draw_most_of_a_scene(
    builtin: Workspace, bconn: Connection, monkeypatch: pytest.MonkeyPatch, text: str, fails: bool
) -> None:
    """The cards handler itself, called directly (a tick runs it in an attempt's supervisor,
    where this process's patched font lookup would not reach)."""
    from autoqueue.stages.cards import run_cards_stage

    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    monkeypatch.setattr(fonts, "find_plain_font", lambda: None)
    task_id = add(builtin, bconn, "무선 가습기", media_mode="crawl")
    folder = builtin.task_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "story.json").write_text(
        json.dumps({"title": "t", "scenes": [{"text": text}]}), encoding="utf-8"
    )
    ctx, logged = stage_context(builtin, bconn, task_id)
    if fails:
        # Most of the scene would be blank boxes: a permanent failure that says the fix, and
        # no card that the pipeline would go on to publish.
        with pytest.raises(PermanentStageError, match="fonts-nanum"):
            run_cards_stage(ctx, builtin.config.stage(QueueType.IMAGE))
        assert not (folder / "scene_01.png").exists()
        return
    run_cards_stage(ctx, builtin.config.stage(QueueType.IMAGE))
    warnings = [entry for entry in logged if entry.level.value == "warn"]
    assert any("fonts-nanum" in e.message and "cannot draw" in e.message for e in warnings)
    assert (folder / "scene_01.png").is_file()


def test_the_demo_checks_the_font_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from autoqueue.cli.demo import run_demo
    from autoqueue.errors import UsageError

    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    monkeypatch.setattr(fonts, "find_plain_font", lambda: None)
    with pytest.raises(UsageError, match="fonts-nanum"):
        run_demo(tmp_path / "demo", Console(quiet=True))
    assert not (tmp_path / "demo" / "autoqueue.db").exists()  # nothing started


def test_a_configured_font_that_does_not_exist_fails_permanently(home: Path) -> None:
    write_config(home, '[stages.image]\nfont = "fonts/missing.ttf"\n')
    workspace = Workspace.load(home)
    init_home(workspace)
    conn = workspace.connect()
    task_id = add(workspace, conn, media_mode="crawl")
    drain(workspace)
    item = last_item(conn, task_id)
    assert (item.queue_type, item.status.value, item.retry_count) == (QueueType.IMAGE, "failed", 0)
    assert "font = 'fonts/missing.ttf': no such file" in str(item.error_message)
    conn.close()


# -- the whole built-in pipeline ---------------------------------------------------------------


@pytest.mark.slow
def test_a_korean_shortform_becomes_a_real_vertical_video(builtin_full: Workspace) -> None:
    builtin = builtin_full
    bconn = builtin.connect()
    task_id = add(
        builtin,
        bconn,
        "초간편 무선 가습기 리뷰",
        type="product",
        media_mode="crawl",
        product_info=KOREAN_PRODUCT,
        privacy="unlisted",
    )
    drain(builtin)
    folder = builtin.task_dir(task_id)
    assert [i.status.value for i in queue_repo.for_task(bconn, task_id)] == ["completed"] * 5
    story = Story.model_validate_json((folder / "story.json").read_text(encoding="utf-8"))
    meta = probe(folder / "output.mp4")
    assert meta["codec"] == "h264"
    assert str(meta["pix_fmt"]).startswith("yuv420p")
    assert meta["size"] == (1080, 1920)
    assert meta["fps"] == 30.0
    # Each scene lasts as long as it is spoken plus a breath: the video is exactly as long as
    # the voice-over, and no pause in it is dead air (eSpeak's own pauses at commas included).
    voice = wav_seconds(folder / "voice.wav")
    assert meta["duration"] == pytest.approx(voice, abs=0.05)
    gaps = pauses(folder / "voice.wav")
    assert len(gaps) >= len(story.scenes) - 1 and max(gaps) <= 0.4, gaps
    assert meta["frames"] == round(voice * 30)
    assert has_audio(folder / "output.mp4")
    cues = (folder / "output.srt").read_text(encoding="utf-8")
    assert "-->" in cues and any("\uac00" <= ch <= "\ud7a3" for ch in cues)
    with Image.open(folder / "thumbnail.jpg") as thumbnail:
        assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 1280
    # +faststart: the moov atom comes before the media data.
    head = (folder / "output.mp4").read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or head.find(b"mdat") == -1
    progress = logs_repo.query(
        bconn, logs_repo.LogFilter(task_id=task_id, queue_type=QueueType.VIDEO, action="progress")
    )  # type: ignore[arg-type]
    assert progress, "ffmpeg's -progress output was not logged"
    # The outbox: a local publish, never passed off as a YouTube upload.
    outbox = builtin.home / "outbox" / task_id
    metadata = json.loads((outbox / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["title"] == "초간편 무선 가습기 리뷰" and metadata["privacy"] == "unlisted"
    assert (outbox / "output.mp4").read_bytes() == (folder / "output.mp4").read_bytes()
    task = tasks_repo.get(bconn, task_id)
    assert task is not None and task.youtube_url is None
    content = contents_repo.get(bconn, str(task.content_id))
    assert content is not None and content.type == "video" and not content.published
    local = logs_repo.query(
        bconn, logs_repo.LogFilter(task_id=task_id, queue_type=QueueType.YOUTUBE)
    )
    assert any(
        "published locally" in e.message and "not uploaded to YouTube" in e.message for e in local
    )
    bconn.close()


@pytest.mark.slow
def test_a_longform_video_is_horizontal(builtin: Workspace, bconn: Connection) -> None:
    task_id = add(builtin, bconn, "A week of home cooking", type="longform", media_mode="crawl")
    drain(builtin)
    video = builtin.task_dir(task_id) / "output.mp4"
    meta = probe(video)
    assert meta["size"] == (854, 480)
    voice = wav_seconds(builtin.task_dir(task_id) / "voice.wav")
    assert meta["duration"] == pytest.approx(voice, abs=0.05)
    assert max(pauses(builtin.task_dir(task_id) / "voice.wav")) <= 0.4  # breaths, no dead air
    # The default rate control: x264 writes its settings into the stream.
    assert b"rc=cqp mbtree=0 qp=15 " in video.read_bytes()


def test_a_configured_crf_reaches_x264(home: Path, tmp_path: Path) -> None:
    workspace = small_home(home, "crf = 28\n")
    conn = workspace.connect()
    images = [make_image(tmp_path / "a.png", (1080, 1920), (40, 90, 160))]
    task_id = add(workspace, conn, "CRF", media_mode="upload", images=images)
    drain(workspace)
    assert last_item(conn, task_id).status.value == "completed"
    assert b"rc=crf mbtree=0 crf=28.0 " in (workspace.task_dir(task_id) / "output.mp4").read_bytes()
    conn.close()


def test_quality_is_qp_or_crf_never_both() -> None:
    from pydantic import ValidationError

    from autoqueue.config import StageConfig

    assert StageConfig().quality == ("qp", 15)
    assert StageConfig(qp=20).quality == ("qp", 20)
    assert StageConfig(crf=23).quality == ("crf", 23)
    with pytest.raises(ValidationError, match="set qp or crf, not both"):
        StageConfig(qp=20, crf=23)
    with pytest.raises(ValidationError):
        StageConfig(qp=52)


def make_image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_upload_mode_with_images_of_mixed_sizes(
    builtin: Workspace, bconn: Connection, tmp_path: Path
) -> None:
    images = [
        make_image(tmp_path / "wide.jpg", (1600, 900), (200, 30, 30)),
        make_image(tmp_path / "tall.png", (700, 1300), (30, 200, 30)),
        make_image(tmp_path / "square.webp", (801, 801), (30, 30, 200)),
    ]
    task_id = add(builtin, bconn, "Trip", media_mode="upload", images=images)
    drain(builtin)
    video = builtin.task_dir(task_id) / "output.mp4"
    meta = probe(video)
    assert meta["size"] == (480, 854)
    voice = wav_seconds(builtin.task_dir(task_id) / "voice.wav")
    assert meta["duration"] == pytest.approx(voice, abs=0.05)
    # The wide picture is whole, not cropped, over a blurred copy of itself rather than black
    # bars: red above it too, and red in the middle.
    frames = imageio_ffmpeg.read_frames(str(video))
    next(frames)
    first = Image.frombytes("RGB", (480, 854), next(frames))
    above = first.getpixel((240, 40))
    assert isinstance(above, tuple) and above[0] > 100 and above[0] > 2 * above[1]
    red, green, blue = first.getpixel((240, 427))  # type: ignore[misc]
    assert red > 150 and green < 80 and blue < 80


def write_wav(path: Path, seconds: float, rate: int = 22050) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate))
        )
        audio.writeframes(b"".join(struct.pack("<h", s) for s in samples))


TTS_SCRIPT = """
import json, math, struct, wave
story = {"title": "Narrated", "scenes": [{"text": "one"}, {"text": "two"}]}
open("story.json", "w").write(json.dumps(story))
rate = 22050
with wave.open("narration.wav", "wb") as audio:
    audio.setnchannels(1); audio.setsampwidth(2); audio.setframerate(rate)
    audio.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(n / 8))) for n in range(int(SECONDS * rate))))
"""


def narrated_home(home: Path, seconds: float, extra: str = "") -> Workspace:
    """A home whose script stage writes story.json and narration.wav, as a TTS writer would."""
    (home / "tts.py").write_text(TTS_SCRIPT.replace("SECONDS", str(seconds)), encoding="utf-8")
    write_config(home, '[stages.script]\ncommand = ["{python}", "tts.py"]\n' + SMALL + extra)
    workspace = Workspace.load(home)
    init_home(workspace)
    return workspace


def test_narration_is_muxed_and_sets_the_length(home: Path, tmp_path: Path) -> None:
    workspace = narrated_home(home, 7.4)
    conn = workspace.connect()
    images = [
        make_image(tmp_path / f"{n}.png", (1080, 1920), (n * 60, 80, 80)) for n in range(1, 3)
    ]
    task_id = add(workspace, conn, "Narrated", media_mode="upload", images=images)
    drain(workspace)
    video = workspace.task_dir(task_id) / "output.mp4"
    assert probe(video)["duration"] == pytest.approx(7.4, abs=0.1)
    assert has_audio(video)
    conn.close()


def test_background_music_is_mixed_under_the_narration(home: Path, tmp_path: Path) -> None:
    write_wav(home / "music.wav", 2.0)
    workspace = narrated_home(home, 5.0, 'music = "music.wav"\nmusic_volume = 0.2\n')
    conn = workspace.connect()
    images = [make_image(tmp_path / "a.png", (1080, 1920), (90, 90, 90))]
    task_id = add(workspace, conn, "Music", media_mode="upload", images=images)
    drain(workspace)
    video = workspace.task_dir(task_id) / "output.mp4"
    assert last_item(conn, task_id).status.value == "completed"
    assert probe(video)["duration"] == pytest.approx(5.0, abs=0.1)
    assert has_audio(video)
    conn.close()


def test_a_failed_render_leaves_neither_video_nor_thumbnail(home: Path, tmp_path: Path) -> None:
    """The thumbnail is drawn while ffmpeg works; it is put in place only beside a video that
    rendered and passed its check."""
    (home / "music.wav").write_bytes(b"RIFF....WAVE this is no sound at all")
    workspace = small_home(home, 'music = "music.wav"\n')
    conn = workspace.connect()
    images = [make_image(tmp_path / "a.png", (640, 480), (90, 20, 20))]
    task_id = add(workspace, conn, "No music", media_mode="upload", images=images)
    drain(workspace)
    item = last_item(conn, task_id)
    assert (item.queue_type, item.status.value) == (QueueType.VIDEO, "failed")
    assert "ffmpeg" in str(item.error_message) and "music.wav" in str(item.error_message)
    assert sorted(p.name for p in workspace.task_dir(task_id).glob("*.mp4")) == []
    assert sorted(p.name for p in workspace.task_dir(task_id).glob("thumbnail*")) == []
    conn.close()


def bomb_png(path: Path, side: int = 40_000) -> Path:
    """A PNG of a few hundred bytes that claims 40,000 x 40,000 pixels: decoding it would take
    gigabytes (a decompression bomb). Its header is real, with a correct checksum."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", side, side)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["broken", "bomb"])
def test_a_scene_image_that_turned_bad_fails_permanently_with_a_clear_message(
    builtin: Workspace, bconn: Connection, tmp_path: Path, kind: str
) -> None:
    good = make_image(tmp_path / "good.png", (800, 600), (1, 2, 3))
    second = make_image(tmp_path / "second.png", (800, 600), (4, 5, 6))
    task_id = add(builtin, bconn, "Broken", media_mode="upload", images=[good, second])
    # Replaced in the task folder after `add` checked it.
    scene = builtin.task_dir(task_id) / "scene_02.png"
    if kind == "bomb":
        bomb_png(scene)
    else:
        scene.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    drain(builtin)
    item = last_item(bconn, task_id)
    assert (item.queue_type, item.status.value, item.retry_count) == (QueueType.VIDEO, "failed", 0)
    expected = (
        "more pixels than is safe to decode" if kind == "bomb" else "scene_02.png: not an image"
    )
    assert expected in str(item.error_message)
    assert not (builtin.task_dir(task_id) / "output.mp4").exists()


def test_a_generated_mode_whose_key_went_away_fails_at_the_video_stage_naming_it(
    builtin: Workspace, bconn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add` checks for the key (tests/test_generators.py); a key gone by the time the video
    stage runs fails it permanently, saying where the key goes."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gone")
    task_id = add(builtin, bconn, "Generated", media_mode="dalle3")
    monkeypatch.delenv("OPENAI_API_KEY")
    drain(builtin)
    item = last_item(bconn, task_id)
    assert (item.queue_type, item.status.value) == (QueueType.VIDEO, "failed")
    assert "[media.dalle3] uses OpenAI, which needs a key: set $OPENAI_API_KEY" in str(
        item.error_message
    )


def test_a_configured_generator_makes_the_images(home: Path) -> None:
    (home / "gen.py").write_text(
        "from PIL import Image\n"
        "for n in (1, 2):\n"
        "    Image.new('RGB', (512, 512), (n * 100, 50, 50)).save(f'scene_{n:02d}.png')\n",
        encoding="utf-8",
    )
    write_config(home, SMALL + 'generator = ["{python}", "gen.py"]\n')
    workspace = Workspace.load(home)
    init_home(workspace)
    conn = workspace.connect()
    task_id = add(workspace, conn, "Imagen", media_mode="imagen3")
    drain(workspace)
    assert last_item(conn, task_id).status.value == "completed"
    voice = wav_seconds(workspace.task_dir(task_id) / "voice.wav")
    assert probe(workspace.task_dir(task_id) / "output.mp4")["duration"] == pytest.approx(
        voice, abs=0.05
    )
    conn.close()


# -- pure pieces -------------------------------------------------------------------------------


def test_render_command_normalises_every_input() -> None:
    plan = RenderPlan(
        images=(Path("a.png"), Path("b.jpg")),
        durations=(1.0, 2.5),
        size=(1080, 1920),
        fit="crop",
        output=Path("out.mp4"),
    )
    whole = Part(0, 2, 0, sum(plan.frames), Path("part1.mp4"))
    argv = part_argv("ffmpeg", plan, whole)
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.count("setsar=1") == 2 and "concat=n=2:v=1:a=0" in graph
    assert "crop=1080:1920" in graph and "loop=loop=29:" in graph and "loop=loop=74:" in graph
    for flag in ("yuv420p", "libx264"):
        assert flag in argv
    assert argv[argv.index("-qp") + 1] == "15" and "-crf" not in argv
    crf = part_argv("ffmpeg", dataclasses.replace(plan, quality=("crf", 23)), whole)
    assert crf[crf.index("-crf") + 1] == "23" and "-qp" not in crf
    assert argv[argv.index("-frames:v") + 1] == "105"
    join = join_argv("ffmpeg", plan, Path("parts.txt"), None)
    assert "+faststart" in join and join[join.index("-t") + 1] == "3.500"
    assert join[join.index("-c") + 1] == "copy"  # the parts are joined, not encoded again


def test_durations_stretch_to_the_narration() -> None:
    assert fit_durations([3, 3, 4], 20) == (6.0, 6.0, 8.0)
    assert fit_durations([3, 3], None) == (3, 3)


def test_progress_lines() -> None:
    assert progress_seconds("out_time_us=1500000") == 1.5
    assert progress_seconds("out_time_us=N/A") is None
    assert progress_seconds("progress=continue") is None


@pytest.mark.slow
def test_demo_makes_three_videos_in_the_home_it_is_given(home: Path, tmp_path: Path) -> None:
    """AUTOQUEUE_HOME (like --home) says where the demo goes; run again, it adds nothing."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()

    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "autoqueue", "demo"],
            cwd=elsewhere,
            env={**os.environ, "AUTOQUEUE_HOME": str(home / "demo")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    result = demo()
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(elsewhere.iterdir()) == [], "the demo ignored AUTOQUEUE_HOME"
    videos = list((home / "demo" / "tasks").glob("*/output.mp4"))
    assert len(videos) == 3
    sizes = sorted(probe(video, count=False)["size"] for video in videos)  # type: ignore[type-var]
    assert sizes == [(1080, 1920), (1080, 1920), (1920, 1080)]
    # No dead air: each video is silent (under -40 dB for 0.15 s or more) for at most a tenth
    # of its length, with its own music (made here, not shipped) under the pauses.
    for video in videos:
        length = probe(video, count=False)["duration"]
        assert isinstance(length, float) and sum(pauses(video)) <= 0.10 * length, video
    assert [p.name for p in (home / "demo" / "music").iterdir()] == ["autoqueue-demo-pad.m4a"]
    assert result.stdout.count("✅") == 3
    again = demo()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already in" in again.stdout and again.stdout.count("✅") == 3
    conn = open_db(home / "demo")
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 3
    conn.close()
