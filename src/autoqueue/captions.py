"""Captions from timed words: short lines that break between words (Hangul and Latin measured
by how wide they draw), an ASS file for libass to burn in with the spoken word highlighted, and
an SRT file to ship beside the video.

Placement keeps clear of what YouTube draws over a video: on a vertical Short the bottom fifth
(title, channel, buttons) and the right edge (like, comment, share), so captions sit above the
bottom quarter, centred in the left 85 %.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autoqueue.tts import Word

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
        return round(self.width * (0.15 if self.vertical else 0.05))

    @property
    def margin_left(self) -> int:
        return round(self.width * 0.05)

    @property
    def max_cells(self) -> int:
        """How many narrow characters fit on a line (a Hangul syllable counts two)."""
        usable = self.width - self.margin_left - self.margin_right
        return max(8, int(usable / (self.font_size * 0.55)))


def cells(text: str) -> int:
    """How wide ``text`` draws, in narrow-character cells: wide (Hangul, CJK) characters count
    two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def break_lines(words: Sequence[Word], max_cells: int) -> list[Line]:
    """Words into lines of at most ``max_cells``, breaking only between words, and after every
    sentence (a word too long for a line gets one to itself)."""
    lines: list[Line] = []
    current: list[Word] = []
    for word in words:
        width = cells(" ".join(w.text for w in [*current, word]))
        if current and width > max_cells:
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
    """How captions look; ``highlight`` is the spoken word's colour (#RRGGBB)."""

    font: str = "Sans"
    colour: str = "#FFFFFF"
    highlight: str = "#FFD400"
    outline: float = 0.08  # of the font size


def _ass_colour(hex_rgb: str) -> str:
    value = hex_rgb.lstrip("#")
    red, green, blue = value[0:2], value[2:4], value[4:6]
    return f"&H00{blue}{green}{red}".upper()


def _ass_override_colour(hex_rgb: str) -> str:
    value = hex_rgb.lstrip("#").upper()
    return f"&H{value[4:6]}{value[2:4]}{value[0:2]}&"


def write_ass(path: Path, lines: Sequence[Line], layout: Layout, style: Style) -> None:
    """An ASS script: one event per spoken word, showing its line with that word highlighted
    (events follow each other without a gap, so the line never flickers)."""
    size = layout.font_size
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {layout.width}",
        f"PlayResY: {layout.height}",
        "WrapStyle: 2",  # no automatic wrapping: the lines are broken already
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{style.font},{size},{_ass_colour(style.colour)},&H000000FF,"
        f"&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,{max(1, round(size * style.outline))},"
        f"0,2,{layout.margin_left},{layout.margin_right},{layout.margin_bottom},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = []
    for line in lines:
        look = line.style or LineStyle()
        base = _ass_override_colour(look.colour or style.colour)
        highlight = _ass_override_colour(look.highlight or style.highlight)
        prefix = {"middle": "\\an5", "top": "\\an8"}.get(look.position, "")
        if look.size != 1.0:
            prefix += f"\\fs{round(size * look.size)}"
        prefix = f"{{{prefix}\\c{base}}}"
        for index, word in enumerate(line.words):
            end = line.words[index + 1].start if index + 1 < len(line.words) else line.end
            text = prefix + " ".join(
                f"{{\\c{highlight}}}{_ass_escape(w.text)}{{\\c{base}}}"
                if i == index
                else _ass_escape(w.text)
                for i, w in enumerate(line.words)
            )
            events.append(
                f"Dialogue: 0,{_ass_time(word.start)},{_ass_time(max(end, word.start + 0.01))},"
                f"Caption,,0,0,0,,{text}"
            )
    path.write_text("\n".join(header + events) + "\n", encoding="utf-8")


def write_srt(path: Path, lines: Sequence[Line]) -> None:
    """The captions as SubRip, one cue per line, for players and for YouTube's caption track."""
    cues = []
    for number, line in enumerate(lines, start=1):
        cues.append(f"{number}\n{_srt_time(line.start)} --> {_srt_time(line.end)}\n{line.text}\n")
    path.write_text("\n".join(cues), encoding="utf-8")
