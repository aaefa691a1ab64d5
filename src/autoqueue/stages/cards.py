"""The built-in ``cards`` image stage: one ``scene_NN.png`` per scene, the scene's text wrapped
and centred on a coloured background at the video's resolution. Pillow is imported only here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from autoqueue.config import StageConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.layout import STORY, resolution, safe_area, scene_images, scene_name
from autoqueue.media.story import Scene, Story
from autoqueue.stages import fonts
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.library import Picker

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageDraw import ImageDraw
    from PIL.ImageFont import FreeTypeFont

# Background gradients (top colour, bottom colour), one per scene in turn.
PALETTE = (
    ((32, 58, 96), (12, 20, 40)),
    ((110, 40, 80), (40, 12, 40)),
    ((20, 100, 90), (8, 36, 40)),
    ((130, 80, 20), (50, 24, 8)),
    ((70, 50, 130), (20, 14, 50)),
    ((40, 90, 40), (12, 32, 16)),
)


def read_story(task_dir: Path) -> Story:
    """The run's story.json, validated (the script stage wrote it)."""
    path = task_dir / STORY
    try:
        return Story.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PermanentStageError(
            _("{name} is missing: the script stage did not run").format(name=path.name)
        ) from exc
    except ValidationError as exc:
        raise PermanentStageError(
            _("{name} does not match the story schema: {exc}").format(name=path.name, exc=exc)
        ) from exc


def wrap(text: str, font: FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap by measured width; words wider than a line are split by characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:
                if font.getlength(line + char) > width and line:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return [line for line in lines if line] or [""]


HEADLINE_WORDS = 5  # a card's headline when the story gives none: at most this many words
_CLAUSE_ENDS = (".", "!", "?", ",", ":", ";", "。", "！", "？", "…")


def first_words(text: str) -> str:
    """The narration's first clause, at most ``HEADLINE_WORDS`` words, as a card's headline."""
    words: list[str] = []
    for word in text.split():
        words.append(word)
        if word.endswith(_CLAUSE_ENDS) or len(words) == HEADLINE_WORDS:
            break
    return " ".join(words).rstrip(",:;")


def _plain(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def card_text(scene: Scene, captioned: bool) -> str | None:
    """What a scene's text card shows: its ``on_screen`` headline, else the narration's first
    words. None when that would be the narration itself while the captions say it: the card is
    then drawn bare and the captions stand large in its middle, the spoken word highlighted, so
    that the same sentence is never on screen twice. Without captions, the card says it all."""
    if not captioned:
        return scene.on_screen or scene.text
    headline = scene.on_screen or first_words(scene.text)
    return None if _plain(headline) == _plain(scene.text) else headline


def _fit(text: str, font_path: str | None, size: tuple[int, int]) -> tuple[FreeTypeFont, list[str]]:
    """The largest font (up to a headline's size) at which ``text`` fits the safe area's width
    in at most four lines and 45 % of the height."""
    left, _top, right, _bottom = safe_area(size)
    width, height = size
    px = int(min(width, height) * 0.13)
    while True:
        font = fonts.load(font_path, px)
        lines = wrap(text, font, right - left)
        if (len(lines) * px * 1.3 <= height * 0.45 and len(lines) <= 4) or px <= 24:
            return font, lines
        px = int(px * 0.9)


def _background(size: tuple[int, int], index: int) -> Image:
    from PIL import Image

    top, bottom = PALETTE[index % len(PALETTE)]
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def render_card(
    text: str | None, *, size: tuple[int, int], index: int, total: int, font_path: str | None
) -> Image:
    """One scene card: a gradient background and, unless ``text`` is None, the text centred in
    the upper part of the safe area with an outline, clear of the captions below it (no page
    counter: a published frame has no use for one)."""
    from PIL import ImageDraw

    image = _background(size, index)
    if text is None:
        return image
    draw = ImageDraw.Draw(image)
    font, lines = _fit(text, font_path, size)
    px = int(font.size)
    line_height = int(px * 1.3)
    left, top, right, bottom = safe_area(size)
    middle = top + (bottom - top) * 0.42  # above the captions, which sit at the safe area's foot
    first = round(middle - line_height * len(lines) / 2)
    centre = (left + right) // 2
    draw_lines(draw, lines, font, (centre, first), line_height, (255, 255, 255), px // 16)
    return image


def draw_lines(
    draw: ImageDraw,
    lines: list[str],
    font: FreeTypeFont,
    at: tuple[int, int],
    line_height: int,
    fill: tuple[int, int, int],
    stroke: int,
) -> None:
    """``lines`` centred on ``at``'s x, one under the other from its y, outlined in black (at
    least 2 px) so that they read over any picture."""
    centre, top = at
    for number, line in enumerate(lines):
        draw.text(
            (centre, top + number * line_height + line_height // 2),
            line,
            font=font,
            fill=fill,
            anchor="mm",
            stroke_width=max(2, stroke),
            stroke_fill=(0, 0, 0),
        )


def choose_font(ctx: StageContext, config: StageConfig) -> str | None:
    """The configured font, else one with Hangul, else a plain one, else Pillow's default."""
    if config.font:
        path = Path(config.font).expanduser()
        path = path if path.is_absolute() else ctx.workspace.home / path
        if not path.is_file():
            raise PermanentStageError(
                _("[stages.image] font = {font!r}: no such file").format(font=config.font)
            )
        return str(path)
    return fonts.find_cjk_font() or fonts.find_plain_font()


def run_cards_stage(ctx: StageContext, config: StageConfig) -> StageResult:
    """Render ``scene_NN.png`` for every scene of story.json."""
    story = read_story(ctx.task_dir)
    video = ctx.workspace.config.stage(QueueType.VIDEO)
    size = resolution(ctx.task.type.value, video.resolution)
    font_path = choose_font(ctx, config)
    problem = fonts.coverage_problem(font_path, [scene.text for scene in story.scenes])
    if problem is not None:
        raise PermanentStageError(problem)  # never blank cards that would be published
    probe = fonts.load(font_path, 48)
    missing = set().union(*(fonts.missing_glyphs(probe, scene.text) for scene in story.scenes))
    if missing:
        sample = "".join(sorted(missing)[:10])
        ctx.log(
            StageLog(
                LogLevel.WARN,
                _(
                    "the font {value} cannot draw {sample!r}; those characters are left out. "
                    "Install a font with them (Debian/Ubuntu: apt-get install fonts-nanum) or set "
                    '[stages.image] font = "/path/to/font.ttf"'
                ).format(value=font_path or "Pillow default", sample=sample),
                metadata={"missing": sorted(missing), "font": font_path},
            )
        )
    for stale in scene_images(ctx.task_dir):
        stale.unlink()  # a previous attempt's cards; this one writes the whole set
    media = Picker.open(ctx)  # the user's own pictures and clips come first
    total = len(story.scenes)
    for index, scene in enumerate(story.scenes):
        if media.take(index + 1, total, scene):
            continue
        shown = card_text(scene, video.captions and scene.captions)
        text = None if shown is None else "".join(ch for ch in shown if ch not in missing)
        card = render_card(text, size=size, index=index, total=total, font_path=font_path)
        target = ctx.task_dir / scene_name(index + 1, ".png")
        temporary = target.with_suffix(".tmp.png")
        card.save(temporary, format="PNG", optimize=False, compress_level=3)
        temporary.replace(target)
        ctx.log(
            StageLog(
                LogLevel.INFO,
                _("📸 scene {value}/{total} card done").format(value=index + 1, total=total),
                ActionType.PROGRESS,
                {"current": index + 1, "total": total, "sceneName": target.stem},
            )
        )
    media.finish()
    return StageResult(details={"scenes": total, "font": font_path, "handler": "cards"})
