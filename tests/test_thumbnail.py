"""The thumbnail: never the bare title card; the title large and whole inside the safe area,
over a bold colour field for a video of text cards or over its strongest picture, which stays
visible away from the text. Every check decodes the JPEG the video stage writes."""

from __future__ import annotations

import uuid
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

from autoqueue.kinds import QueueStatus, QueueType, TaskType
from autoqueue.layout import safe_area, scene_images
from autoqueue.models import QueueItem, Task
from autoqueue.stages import fonts, thumbnail
from autoqueue.stages.base import StageContext
from autoqueue.stages.thumbnail import write_thumbnail
from autoqueue.workspace import Workspace

pytestmark = pytest.mark.no_db

FONT = fonts.find_cjk_font() or fonts.find_plain_font()
PRODUCT = {"name": "무선 가습기", "price": "39,000원", "features": ["무소음", "8시간 지속"]}
VERTICAL, HORIZONTAL = (720, 1280), (1280, 720)  # 720p: the JPEG keeps every pixel
LONG_TITLE = (
    "Ten things nobody tells you before you buy your first electric car in 2025, and what "
    "each of them will really cost you over the years"
)


def context(home: Path, title: str, task_type: TaskType, info: object) -> StageContext:
    """A crawl task of the built-in pipeline, called without any database."""
    task_id = str(uuid.uuid4())
    task = Task(
        id=task_id, title=title, type=task_type, product_info=info,
        settings={"mediaMode": "crawl"},
    )  # fmt: skip
    item = QueueItem(id=1, task_id=task_id, queue_type=QueueType.VIDEO, status=QueueStatus.WAITING)
    return StageContext(workspace=Workspace.load(home), task=task, schedule=None, item=item)


def chroma(image: Image.Image) -> float:
    """Mean colourfulness: HSV saturation times value (a dark navy is not a colourful field)."""
    _hue, saturation, value = image.convert("HSV").split()
    return float(ImageStat.Stat(ImageChops.multiply(saturation, value)).mean[0])


def ink_box(drawn: Image.Image, plain: Image.Image) -> tuple[int, int, int, int]:
    """The bounding box of what was drawn over ``plain`` (JPEG noise left out)."""
    difference = ImageChops.difference(drawn.convert("RGB"), plain.convert("RGB")).convert("L")
    box = difference.point(lambda value: 255 if value > 48 else 0).getbbox()
    assert box is not None, "nothing drawn"
    return box


def inside(box: tuple[int, int, int, int], area: tuple[int, int, int, int]) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


def test_a_card_only_video_gets_a_colour_field_not_its_title_card(tmp_path: Path) -> None:
    from autoqueue.stages.cards import run_cards_stage
    from autoqueue.stages.template import build_story, save_story
    from autoqueue.stages.video import _thumbnail, card_scenes

    ctx = context(tmp_path, "초간편 무선 가습기 리뷰", TaskType.PRODUCT, PRODUCT)
    story = build_story(ctx.task.title, ctx.task.type, ctx.task.product_info)
    save_story(ctx, story)
    config = ctx.workspace.config.stage(QueueType.IMAGE)
    run_cards_stage(ctx, config)  # the real cards, the title card first
    scenes = scene_images(ctx.task_dir)
    cards = card_scenes(ctx, scenes)
    assert all(cards)
    video = ctx.workspace.config.stage(QueueType.VIDEO)
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    made = _thumbnail(ctx, video, story, scenes, cards, VERTICAL, exe)
    with Image.open(made) as jpeg:
        drawn = jpeg.convert("RGB")
    title_card = Image.open(scenes[0]).convert("RGB").resize(drawn.size)
    difference = ImageStat.Stat(ImageChops.difference(drawn, title_card)).mean
    assert sum(difference) / 3 > 40  # a different picture, not the card scaled
    assert chroma(drawn) > 110 > 2 * chroma(title_card)  # a bold field, not a dark card
    assert inside(
        ink_box(drawn, thumbnail.colour_field(drawn.size, ctx.task.id)), safe_area(drawn.size)
    )


@pytest.mark.parametrize("size", [VERTICAL, HORIZONTAL])
def test_the_title_is_large_and_inside_the_safe_area(tmp_path: Path, size: tuple[int, int]) -> None:
    target = tmp_path / "thumbnail.jpg"
    write_thumbnail(None, target, size, "A week of home cooking", FONT, seed="task")
    drawn = Image.open(target)
    assert drawn.size == size
    box = ink_box(drawn, thumbnail.colour_field(size, "task"))
    left, top, right, bottom = safe_area(size)
    assert inside(box, (left, top, right, bottom)), (box, safe_area(size))
    assert box[2] - box[0] > 0.5 * (right - left)  # large: across most of the safe width
    block = thumbnail.fit(size, "A week of home cooking", "home cooking", FONT, bottom - top)
    assert block.big.size >= 0.12 * min(size) and block.font.size >= 0.095 * min(size)
    assert block.count <= 3
    assert " ".join(block.subject) == "home cooking"  # the title's key words, on the pill


def photo(size: tuple[int, int]) -> Image.Image:
    """A busy picture with no pure white or yellow in it: stripes and blocks of colour."""
    picture = Image.linear_gradient("L").resize(size).convert("RGB")
    picture = ImageChops.multiply(picture, Image.new("RGB", size, (120, 200, 230)))
    draw = ImageDraw.Draw(picture)
    for x in range(0, size[0], 90):
        draw.rectangle((x, 0, x + 30, size[1]), fill=(40 + x % 160, 90, 150))
    draw.ellipse((size[0] // 3, size[1] // 2, size[0] // 2, size[1] * 3 // 4), fill=(200, 60, 40))
    return picture


@pytest.mark.parametrize("size", [VERTICAL, HORIZONTAL])
def test_over_a_photo_the_photo_shows_away_from_the_text(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    source = tmp_path / "scene_01.png"
    photo((900, 900)).save(source)
    target = tmp_path / "thumbnail.jpg"
    write_thumbnail(source, target, size, "초간편 무선 가습기 리뷰", FONT, subject="무선 가습기")
    drawn = Image.open(target).convert("RGB")
    picture = ImageOps.fit(Image.open(source).convert("RGB"), size)
    red = drawn.getchannel("R").point(lambda value: 255 if value > 235 else 0)
    green = drawn.getchannel("G").point(lambda value: 255 if value > 200 else 0)
    box = ImageChops.multiply(red, green).getbbox()  # the white letters and the yellow pill
    assert box is not None and inside(box, safe_area(size)), box
    below = (0, box[3] + size[1] // 5, size[0], size[1])  # well under the text
    away = ImageChops.difference(drawn.crop(below), picture.crop(below))
    assert max(ImageStat.Stat(away).mean) < 4  # the picture itself, untouched
    above = ImageStat.Stat(drawn.crop((0, 0, size[0], box[1]))).mean
    assert sum(above) < sum(ImageStat.Stat(picture.crop((0, 0, size[0], box[1]))).mean) * 0.6


@pytest.mark.parametrize("size", [VERTICAL, HORIZONTAL])
def test_a_long_title_shrinks_into_four_lines_inside_the_safe_area(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    left, top, right, bottom = safe_area(size)
    subject = thumbnail.key_words(LONG_TITLE)
    short = thumbnail.fit(size, "A week of home cooking", "home cooking", FONT, bottom - top)
    block = thumbnail.fit(size, LONG_TITLE, subject, FONT, bottom - top)
    assert block.count <= 4 and block.font.size < short.font.size
    shown = " ".join(block.before + block.subject + block.after)
    assert shown.split() == LONG_TITLE.split()  # every word, none cut off
    target = tmp_path / "thumbnail.jpg"
    write_thumbnail(None, target, size, LONG_TITLE, FONT, seed="long")
    box = ink_box(Image.open(target), thumbnail.colour_field(size, "long"))
    assert inside(box, (left, top, right, bottom)), (box, safe_area(size))


def test_the_subject_is_the_product_name_else_the_titles_key_words() -> None:
    from autoqueue.stages.template import product_name

    assert product_name(PRODUCT) == "무선 가습기"
    assert product_name({"price": "1"}) is None and product_name(None) is None
    assert thumbnail.split_title("초간편 무선 가습기 리뷰", "무선 가습기") == (
        "초간편", "무선 가습기", "리뷰",
    )  # fmt: skip
    assert thumbnail.key_words("A week of home cooking") == "home cooking"
    assert thumbnail.key_words(LONG_TITLE) == "electric car"
    assert thumbnail.split_title("Is it worth it?", "Dyson V15") == (
        "Is it worth it?",
        "Dyson V15",
        "",
    )


def test_a_task_keeps_its_colours_and_tasks_differ() -> None:
    fields = {thumbnail.colour_field((64, 64), str(n)).getpixel((0, 0)) for n in range(12)}
    assert len(fields) >= 3
    assert thumbnail.colour_field((64, 64), "a") == thumbnail.colour_field((64, 64), "a")
