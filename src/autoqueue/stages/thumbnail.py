"""The thumbnail's look: the title large inside the safe area with its subject on a yellow pill,
over the video's strongest picture (shaded only behind the text) or, when every scene is a text
card, over a bold colour field. Nothing is drawn outside the safe area or cut off. Then the
file: ``thumbnail.jpg`` as a JPEG within YouTube's limits (1280 px, 2 MB)."""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from autoqueue.layout import safe_area
from autoqueue.stages import fonts
from autoqueue.stages.cards import draw_lines, wrap

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageDraw import ImageDraw
    from PIL.ImageFont import FreeTypeFont

THUMBNAIL_MAX_SIDE = 1280  # YouTube's limits for a custom thumbnail
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024

# Colour fields (top-left, bottom-right): saturated and deep enough that a white title and a
# yellow pill stand out on every one.
FIELDS = (
    ((235, 30, 100), (80, 10, 160)),
    ((0, 120, 255), (25, 15, 120)),
    ((255, 70, 20), (150, 0, 70)),
    ((0, 165, 140), (0, 45, 120)),
    ((160, 50, 240), (45, 0, 100)),
    ((225, 10, 45), (85, 0, 30)),
)
TITLE_INK = (255, 255, 255)
PILL = (255, 221, 0)
PILL_INK = (25, 25, 25)
SHADE = 175  # the opacity of the black behind a title over a picture
MAX_LINES = 4
MIN_PX = 10
KEY_WORDS = 2  # a subject taken from the title: at most this many words
# Words that never make a subject: function words, pronouns and the vague words of listicles.
_STOP_WORDS = (
    "a an the of in on at to for from with and or but is are was were be been my your our "
    "their this that these those how why what when where who which i you we they he she it "
    "its me us them his her vs about into by as so if than then not no do does did have has "
    "had can will should would could just before after every ever all any some thing things "
    "nobody everyone tell tells know need one"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())
_EDGE_PUNCTUATION = " ,.:;!?-–—|/·"


def key_words(title: str) -> str:
    """The title's key words: the last words of its longest run of words that are not stop words."""
    # the last ones: a noun phrase's head comes last, in English as in Korean
    runs: list[list[str]] = [[]]
    for word in title.split():
        if word.strip(_EDGE_PUNCTUATION).casefold() in STOP_WORDS:
            runs.append([])
        else:
            runs[-1].append(word)
    longest = max(runs, key=lambda run: len(" ".join(run)))
    return " ".join(longest[-KEY_WORDS:]).strip(_EDGE_PUNCTUATION)


def split_title(title: str, subject: str) -> tuple[str, str, str]:
    """The title before its subject, the subject, the title after it (all before when absent)."""
    at = title.casefold().find(subject.casefold()) if subject else -1
    if at < 0:
        return title.strip(), subject.strip(), ""
    before, after = title[:at], title[at + len(subject) :]
    return before.strip(_EDGE_PUNCTUATION), title[at : at + len(subject)], after.strip(" ,:;-–—|")


@dataclasses.dataclass(frozen=True)
class Block:
    """The title laid out: the lines above the pill, on it and below it, and their two fonts."""

    before: list[str]
    subject: list[str]
    after: list[str]
    font: FreeTypeFont
    big: FreeTypeFont

    @property
    def line(self) -> int:
        return round(self.font.size * 1.22)

    @property
    def big_line(self) -> int:
        return round(self.big.size * 1.18)

    @property
    def pad(self) -> int:
        """The pill's padding, and the room kept for outlines and shadows."""
        return round(self.big.size * 0.2)

    @property
    def shadow(self) -> int:
        return max(2, round(self.font.size / 16))

    @property
    def stroke(self) -> int:
        """The title's outline: heavy, so that it reads at thumbnail size."""
        return max(3, round(self.font.size / 9))

    @property
    def pill_height(self) -> int:
        return len(self.subject) * self.big_line + round(self.pad * 1.3) if self.subject else 0

    @property
    def height(self) -> int:
        rest = (len(self.before) + len(self.after)) * self.line
        gaps = self.pad * (bool(self.before) + bool(self.after))
        return rest + gaps + self.pill_height + 2 * self.pad

    @property
    def count(self) -> int:
        return len(self.before) + len(self.subject) + len(self.after)


def _lay_out(parts: tuple[str, str, str], font_path: str | None, px: int, width: int) -> Block:
    """The title with its subject at ``px`` and the rest at 82 % of it, wrapped to ``width``."""
    # each part's room is the width less what its outline and shadow, or its pill, take
    big = fonts.load(font_path, px)
    empty = Block([], [], [], fonts.load(font_path, max(MIN_PX, round(px * 0.82))), big)
    rest_room = width - 2 * (empty.stroke + empty.shadow)
    pill_room = width - 2 * (empty.pad + empty.shadow + 1)

    def lines(text: str, face: FreeTypeFont, room: int) -> list[str]:
        return wrap(text, face, room) if text.strip() else []

    before, subject, after = parts
    return dataclasses.replace(
        empty,
        before=lines(before, empty.font, rest_room),
        subject=lines(subject, big, pill_room),
        after=lines(after, empty.font, rest_room),
    )


def _tidy(block: Block) -> bool:
    """Every part of the title on one line."""
    return max(len(block.before), len(block.subject), len(block.after)) <= 1


def _plain(block: Block) -> bool:
    """The title around the subject on one line each (no word left alone on a line)."""
    return max(len(block.before), len(block.after)) <= 1


def fit(size: tuple[int, int], title: str, subject: str, font_path: str | None, room: int) -> Block:
    """The largest title that fits the safe area's width in four lines and ``room`` px of height."""
    # Tidier layouts first (fewer lines read faster), while the subject stays at 12 % of the short
    # side or more; then the largest that fits, from 16 %; the smallest one when none does.
    left, _top, right, _bottom = safe_area(size)
    parts = split_title(title, subject)
    short = min(size)
    block = _lay_out(parts, font_path, MIN_PX, right - left)
    for wanted, floor in ((_tidy, short * 0.12), (_plain, short * 0.12), (None, MIN_PX)):
        px = max(MIN_PX, round(short * 0.16))
        while px >= floor:
            candidate = _lay_out(parts, font_path, px, right - left)
            fits = candidate.count <= MAX_LINES and candidate.height <= room
            if fits and (wanted is None or wanted(candidate)):
                return candidate
            block, px = candidate, round(px * 0.95)
    return block  # the smallest: more lines than wished, but whole


def draw_block(image: Image, block: Block, centre: int, top: int) -> None:
    """The title block from ``top``: white outlined lines, the subject on a yellow pill."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    y = top + block.pad
    y = _lines(draw, block, block.before, centre, y) + (block.pad if block.before else 0)
    if block.subject:
        _pill(draw, block, centre, y)
        y += block.pill_height + (block.pad if block.after else 0)
    _lines(draw, block, block.after, centre, y)


def _lines(draw: ImageDraw, block: Block, lines: list[str], centre: int, top: int) -> int:
    """White title lines from ``top``, shadowed, outlined; the y under them."""
    stroke, shadow = block.stroke, block.shadow
    shadowed = (centre + shadow, top + shadow)
    draw_lines(draw, lines, block.font, shadowed, block.line, (0, 0, 0), stroke)
    draw_lines(draw, lines, block.font, (centre, top), block.line, TITLE_INK, stroke)
    return top + len(lines) * block.line


def _pill(draw: ImageDraw, block: Block, centre: int, top: int) -> None:
    """The subject on a yellow rounded band, outlined and shadowed like a sticker."""
    widest = max(block.big.getlength(line) for line in block.subject)
    half = round(widest / 2) + block.pad
    box = (centre - half, top, centre + half, top + block.pill_height)
    shadow = block.shadow
    offset = (box[0] + shadow, box[1] + shadow, box[2] + shadow, box[3] + shadow)
    radius = block.pad
    draw.rounded_rectangle(offset, radius, fill=(0, 0, 0))
    draw.rounded_rectangle(box, radius, fill=PILL, outline=(0, 0, 0), width=max(2, shadow // 2))
    first = top + round(block.pad * 0.65)
    draw_lines(draw, block.subject, block.big, (centre, first), block.big_line, PILL_INK, 0)


def colour_field(size: tuple[int, int], seed: str) -> Image:
    """A saturated diagonal gradient, split by a lighter band, in the palette ``seed`` picks."""
    # seeded by the task id: a task keeps its colours from run to run, tasks differ
    from PIL import Image, ImageChops, ImageDraw

    first, second = FIELDS[zlib.crc32(seed.encode()) % len(FIELDS)]
    down = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)
    mask = ImageChops.add(down, ImageChops.invert(across), scale=2.0)
    field = Image.composite(Image.new("RGB", size, second), Image.new("RGB", size, first), mask)
    width, height = size
    band = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(band).polygon(
        [(width * 0.62, 0), (width, 0), (width, height * 0.35), (width * 0.2, height)],
        fill=(255, 255, 255, 30),
    )
    return Image.alpha_composite(field.convert("RGBA"), band).convert("RGB")


def on_field(
    size: tuple[int, int], title: str, subject: str, font_path: str | None, seed: str
) -> Image:
    """A video without pictures: the title block centred in the safe area on a colour field."""
    left, top, right, bottom = safe_area(size)
    block = fit(size, title, subject, font_path, bottom - top)
    image = colour_field(size, seed)
    draw_block(image, block, (left + right) // 2, top + (bottom - top - block.height) // 2)
    return image


def over_picture(picture: Image, title: str, subject: str, font_path: str | None) -> Image:
    """The title block at the top of the safe area over ``picture``, shaded only behind it."""
    from PIL import Image

    size = picture.size
    left, top, right, bottom = safe_area(size)
    block = fit(size, title, subject, font_path, round((bottom - top) * 0.6))
    shade = Image.new("L", (1, size[1]))
    shade.putdata(_shade(size[1], top + block.height, round(block.font.size * 1.2)))
    black = Image.new("RGB", size, (0, 0, 0))
    image = Image.composite(black, picture.convert("RGB"), shade.resize(size))
    draw_block(image, block, (left + right) // 2, top)
    return image


def _shade(height: int, end: int, fade: int) -> list[int]:
    """Each row's shade: dark enough for white text down to ``end``, then easing out."""
    # eased over ``fade`` rows so that no hard edge cuts across the picture
    rows = []
    for y in range(height):
        left = 1.0 - min(1.0, max(0, y - end) / max(1, fade))
        rows.append(round(SHADE * left * left))
    return rows


def save_thumbnail_jpeg(frame: Image, target: Path) -> None:
    """Save ``frame`` as a JPEG of at most 1280 px and 2 MB (YouTube's thumbnail limits),
    lowering the quality until it fits; written to a temporary name, then renamed."""
    frame = frame.convert("RGB")
    frame.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    temporary = target.with_suffix(".tmp.jpg")
    for quality in (90, 80, 70, 60, 50, 35):
        frame.save(temporary, format="JPEG", quality=quality, optimize=True)
        if temporary.stat().st_size <= THUMBNAIL_MAX_BYTES:
            break
    temporary.replace(target)


def best_image(images: list[Path]) -> Path:
    """The scene picture with the most to see (the largest spread of brightness, on a small
    grey copy); the first one among equals."""
    from PIL import Image, ImageStat

    def detail(path: Path) -> float:
        with Image.open(path) as image:
            small = image.convert("L")
            small.thumbnail((160, 160))
            return float(ImageStat.Stat(small).stddev[0])

    scores = [detail(path) for path in images]
    return images[scores.index(max(scores))]


def write_thumbnail(
    source: Path | None,
    target: Path,
    size: tuple[int, int],
    title: str = "",
    font_path: str | None = None,
    *,
    subject: str | None = None,
    seed: str = "",
) -> None:
    """thumbnail.jpg: ``title`` (its ``subject`` on a pill) over ``source``, else a colour field."""
    # subject None: the title's key words; seed: the task id, which picks the field's colours
    from PIL import Image, ImageOps

    subject = key_words(title) if subject is None else subject
    if source is None:
        frame = on_field(size, title, subject, font_path, seed)
    else:
        with Image.open(source) as image:
            frame = ImageOps.fit(image.convert("RGB"), size)
        if title.strip():
            frame = over_picture(frame, title, subject, font_path)
    save_thumbnail_jpeg(frame, target)
