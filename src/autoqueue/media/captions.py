"""Captions from timed words: short lines that break between words (Hangul and Latin measured
by how wide they draw), an ASS file for libass to burn in with the spoken word highlighted, and
an SRT file to ship beside the video.

Placement keeps clear of what YouTube draws over a video: on a vertical Short the bottom fifth
(title, channel, buttons) and the right 14 % (like, comment, share), so captions sit above the
bottom quarter, centred on the frame with 14 % margins on both sides (``layout.safe_area``).

Three looks (``PRESETS``): ``bold`` (big, heavy outline, one to three words at a time),
``subtle`` (smaller, on a translucent box, whole lines, no highlight) and ``karaoke`` (whole
lines, the spoken word highlighted).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from autoqueue.media.espeak import Word

SENTENCE_ENDS = (".", "!", "?", "。", "！", "？", "…")


@dataclass(frozen=True)
class LineStyle:
    """One scene's own look: colours (#RRGGBB, None: the home's), size factor, position."""

    colour: str | None = None
    highlight: str | None = None
    size: float = 1.0
    position: str = "bottom"


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]
    style: LineStyle | None = None

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(frozen=True)
class Layout:
    """Caption geometry for one frame size."""

    width: int
    height: int

    @property
    def vertical(self) -> bool:
        return self.height > self.width

    @property
    def font_size(self) -> int:
        return round(min(self.width, self.height) * (0.065 if self.vertical else 0.055))

    @property
    def margin_bottom(self) -> int:
        return round(self.height * (0.26 if self.vertical else 0.08))

    @property
    def margin_right(self) -> int:
        return math.ceil(self.width * (0.14 if self.vertical else 0.05))

    @property
    def margin_left(self) -> int:
        return self.margin_right  # centred on the frame, clear of the Shorts buttons

    def max_cells(self, size: float = 1.0) -> int:
        """How many narrow characters fit on a line at ``size`` times the base font size (a
        Hangul syllable counts two)."""
        usable = self.width - self.margin_left - self.margin_right
        return max(4, int(usable / (self.font_size * size * 0.55)))


def cells(text: str) -> int:
    """How wide ``text`` draws, in narrow-character cells: wide (Hangul, CJK) characters count
    two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def break_lines(words: Sequence[Word], max_cells: int, max_words: int | None = None) -> list[Line]:
    """Words into lines of at most ``max_cells`` (and ``max_words``), breaking only between
    words, and after every sentence (a word too long for a line gets one to itself)."""
    lines: list[Line] = []
    current: list[Word] = []
    for word in words:
        width = cells(" ".join(w.text for w in [*current, word]))
        full = max_words is not None and len(current) >= max_words
        if current and (width > max_cells or full):
            lines.append(Line(tuple(current)))
            current = []
        current.append(word)
        if word.text.endswith(SENTENCE_ENDS):
            lines.append(Line(tuple(current)))
            current = []
    if current:
        lines.append(Line(tuple(current)))
    return lines


def spread(text: str, start: float, end: float) -> list[Word]:
    """Words without times (a narration file of the user's, or a TTS that reports none): the
    scene's words spread over its span by their length."""
    tokens = text.split()
    if not tokens:
        return []
    total = sum(cells(token) + 1 for token in tokens)
    words, at = [], start
    for token in tokens:
        length = (end - start) * (cells(token) + 1) / total
        words.append(Word(token, at, at + length))
        at += length
    return words


def _ass_time(seconds: float) -> str:
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, centi = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centi:02d}"


def _srt_time(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3600000)
    minutes, rest = divmod(rest, 60000)
    secs, milli = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{milli:03d}"


def _ass_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", " ")


@dataclass(frozen=True)
class Style:
    """How captions look; ``highlight`` is the spoken word's colour (#RRGGBB, None: no
    highlight); sizes are fractions of the layout's base font size."""

    font: str = "Sans"
    colour: str = "#FFFFFF"
    highlight: str | None = "#FFD400"
    outline: float = 0.08  # of the font size; with ``box``, the box's padding
    size: float = 1.0  # times the layout's base size
    shadow: float = 0.0  # of the font size
    box: bool = False  # a translucent box behind each line instead of an outline
    max_words: int | None = None  # words shown at a time (None: a line's worth)


# The looks a config or a story names ([stages.video] caption_style, story.json caption_style).
PRESETS: dict[str, Style] = {
    # about 100 px on a 1080-wide frame, heavy outline and a drop shadow, a few words at a time
    "bold": Style(size=1.43, outline=0.14, shadow=0.05, max_words=3),
    "subtle": Style(size=0.8, outline=0.3, box=True, highlight=None),
    "karaoke": Style(),
}


def preset(name: str, font: str, colour: str, highlight: str) -> Style:
    """The named look in ``font``, with the home's colours (subtle keeps no highlight)."""
    look = PRESETS[name]
    return replace(look, font=font, colour=colour, highlight=highlight if look.highlight else None)


def _ass_colour(hex_rgb: str) -> str:
    value = hex_rgb.lstrip("#")
    red, green, blue = value[0:2], value[2:4], value[4:6]
    return f"&H00{blue}{green}{red}".upper()


def _ass_override_colour(hex_rgb: str) -> str:
    value = hex_rgb.lstrip("#").upper()
    return f"&H{value[4:6]}{value[2:4]}{value[0:2]}&"


@dataclass(frozen=True)
class Shown:
    """One caption event: ``line`` with its word ``word`` highlighted, from ``start`` to
    ``end`` (events follow each other without a gap, so the line never flickers)."""

    line: Line
    word: int
    start: float
    end: float


def shown(lines: Sequence[Line]) -> list[Shown]:
    events = []
    for line in lines:
        for index, word in enumerate(line.words):
            end = line.words[index + 1].start if index + 1 < len(line.words) else line.end
            events.append(Shown(line, index, word.start, max(end, word.start + 0.01)))
    return events


def _size(layout: Layout, style: Style) -> int:
    return round(layout.font_size * style.size)


def _border(layout: Layout, style: Style) -> int:
    return max(1, round(_size(layout, style) * style.outline))


def _style_line(layout: Layout, style: Style) -> str:
    """The ASS style: an outline (BorderStyle 1) or a translucent box (3: libass fills it with
    the outline colour), the shadow, the margins."""
    border_style, outline_colour = (3, "&H60000000") if style.box else (1, "&H00000000")
    shadow = round(_size(layout, style) * style.shadow)
    return (
        f"Style: Caption,{style.font},{_size(layout, style)},{_ass_colour(style.colour)},"
        f"&H000000FF,{outline_colour},&H80000000,-1,0,0,0,100,100,0,0,{border_style},"
        f"{_border(layout, style)},{shadow},2,{layout.margin_left},{layout.margin_right},"
        f"{layout.margin_bottom},1"
    )


def _header(layout: Layout, style: Style, height: int) -> list[str]:
    return [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {layout.width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",  # no automatic wrapping: the lines are broken already
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        _style_line(layout, style),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]


_ALIGNMENT = {"bottom": 2, "middle": 5, "top": 8}


def _anchor(layout: Layout, position: str) -> tuple[float, float]:
    """Where a line is pinned in the frame (the middle of its bottom, centre or top edge, by
    its alignment), as the style's margins place it."""
    x = layout.margin_left + (layout.width - layout.margin_left - layout.margin_right) / 2
    if position == "top":
        return x, layout.margin_bottom
    if position == "middle":
        return x, layout.height / 2
    return x, layout.height - layout.margin_bottom


def _event_text(event: Shown, layout: Layout, style: Style, shift: float | None = None) -> str:
    """The event's text with its overrides; with ``shift``, pinned where the margins would put
    it, moved up by ``shift`` rows (for a strip of the frame that starts there)."""
    look = event.line.style or LineStyle()
    base = _ass_override_colour(look.colour or style.colour)
    highlight = _ass_override_colour(
        look.highlight or style.highlight or look.colour or style.colour
    )
    prefix = {"middle": "\\an5", "top": "\\an8"}.get(look.position, "")
    if shift is not None:
        x, y = _anchor(layout, look.position)
        prefix = f"\\an{_ALIGNMENT.get(look.position, 2)}\\pos({x:g},{y - shift:g})"
    if look.size != 1.0:
        prefix += f"\\fs{round(_size(layout, style) * look.size)}"
    return f"{{{prefix}\\c{base}}}" + " ".join(
        f"{{\\c{highlight}}}{_ass_escape(w.text)}{{\\c{base}}}"
        if i == event.word
        else _ass_escape(w.text)
        for i, w in enumerate(event.line.words)
    )


def _dialogue(start: float, end: float, text: str) -> str:
    return f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},Caption,,0,0,0,,{text}"


def write_ass(path: Path, lines: Sequence[Line], layout: Layout, style: Style) -> None:
    """An ASS script for the whole frame: one event per spoken word, showing its line with that
    word highlighted."""
    events = [
        _dialogue(event.start, event.end, _event_text(event, layout, style))
        for event in shown(lines)
    ]
    text = "\n".join(_header(layout, style, layout.height) + events) + "\n"
    path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Band:
    """The rows of the frame that the captions are drawn in (from ``top``, even, so that a
    4:2:0 picture's colour rows line up)."""

    top: int
    height: int


def band(lines: Sequence[Line], layout: Layout, style: Style) -> Band:
    """The strip that holds every line where the style puts it: a line's glyphs, outline
    included, reach at most 1.5 font sizes above the bottom of its box (its descenders 0.35
    below the baseline, inside the box), with room to spare."""
    border = 2 * _border(layout, style) + round(_size(layout, style) * style.shadow)
    top, bottom = float(layout.height), 0.0
    for line in lines:
        look = line.style or LineStyle()
        size = _size(layout, style) * look.size
        _x, y = _anchor(layout, look.position)
        above, below = {"top": (0.35, 1.5), "middle": (0.95, 0.95)}.get(look.position, (1.5, 0.35))
        top = min(top, y - above * size - border)
        bottom = max(bottom, y + below * size + border)
    first = max(0, int(top) // 2 * 2)
    last = min(layout.height, -(-int(bottom + 1) // 2) * 2)
    return Band(first, max(2, last - first))


def frame_at(seconds: float, fps: int) -> int:
    """The first frame that shows something starting at ``seconds`` (libass shows an event
    from its start on)."""
    return max(0, math.ceil(seconds * fps - 1e-6))


def write_band_ass(
    path: Path,
    lines: Sequence[Line],
    layout: Layout,
    style: Style,
    strip: Band,
    frames: tuple[int, int],
    fps: int,
) -> tuple[int, ...]:
    """An ASS script for ``strip`` alone and the video's frames ``frames`` (first, end) alone,
    timed from the first: the lines where ``write_ass`` puts them in the whole frame. Returns
    the frames (from the first, 0 included) at which what is shown changes: libass need draw
    only those, and each stays until the next. None at all: nothing is said in those frames."""
    first, end = frames
    events = []
    changes = {0}
    for event in shown(lines):
        start, stop = max(frame_at(event.start, fps), first), min(frame_at(event.end, fps), end)
        if stop <= start:
            continue
        changes.update((start - first, stop - first))
        # Times on the frame grid, rounded down to ASS's hundredths: a frame at or past an
        # event's start shows it, and the frame where the next begins no longer does.
        events.append(
            _dialogue(
                math.floor((start - first) * 100 / fps) / 100,
                math.floor((stop - first) * 100 / fps) / 100,
                _event_text(event, layout, style, strip.top),
            )
        )
    text = "\n".join(_header(layout, style, strip.height) + events) + "\n"
    path.write_text(text, encoding="utf-8")
    if not events:
        return ()
    return tuple(sorted(change for change in changes if change < end - first))


@dataclass(frozen=True)
class Track:
    """The captions a video is rendered with: the lines, the frame's layout, the look, and the
    font file libass draws them with."""

    lines: tuple[Line, ...]
    layout: Layout
    style: Style
    font: Path | None = None


def write_srt(path: Path, lines: Sequence[Line]) -> None:
    """The captions as SubRip, one cue per line, for players and for YouTube's caption track."""
    cues = []
    for number, line in enumerate(lines, start=1):
        cues.append(f"{number}\n{_srt_time(line.start)} --> {_srt_time(line.end)}\n{line.text}\n")
    path.write_text("\n".join(cues), encoding="utf-8")
