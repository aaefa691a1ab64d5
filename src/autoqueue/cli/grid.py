"""Tables and styled lines as the read commands print them (``list``, ``tasks``, ``show``,
``logs``, ``contents``), and every command's error and warning lines, without rich: importing
rich took about 40 ms, half of a read's time (ARCHITECTURE.md "Fast reads"). The terminal app
shows the same blocks through rich, which it has loaded anyway (:func:`to_rich`).

A table looks as rich's did: a centred title, bold headers over a heavy rule, columns parted
by a bar with a cell of padding each side. When it is wider than the screen, the widest of the
columns that may wrap are narrowed first, and wrap at spaces (a word longer than its column is
folded). Widths count terminal cells: a Hangul syllable takes two. Tabs become spaces and
other control characters are dropped. Colours on a terminal (or with ``FORCE_COLOR``), never
with ``NO_COLOR`` set or ``TERM=dumb``.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TextIO, cast

Span = tuple[str, str]  # a text and its style: "", or words such as "bold", "red", "dim"

PIPED_WIDTH = 200  # output into a file or a pager keeps whole rows (COLUMNS says otherwise)
MIN_WIDTH = 4  # a wrapping column never gets narrower

_SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "magenta": "35",
    "cyan": "36",
    "white": "37",
}


class Line(NamedTuple):
    """One line of styled spans. ``cut``: kept to one line at any width, cut at the edge."""

    spans: tuple[Span, ...]
    cut: bool = False


class Column(NamedTuple):
    header: str
    justify: str = "left"  # or "right"
    wrap: bool = True  # False: keeps its width and never folds


class Grid:
    """A table: each cell is a list of lines, one style each."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.columns: list[Column] = []
        self.rows: list[list[list[Span]]] = []

    def column(self, header: str, *, justify: str = "left", wrap: bool = True) -> None:
        self.columns.append(Column(header, justify, wrap))

    def row(self, *values: str | Span | Sequence[Span]) -> None:
        """Add a row: each cell a text (its lines plain), a (text, style) span, or a list of
        spans, one per line."""
        self.rows.append([_cell(value) for value in values])

    def widths(self, width: int) -> list[int]:
        """Each column's width in cells for a screen ``width`` cells wide: what its widest
        line needs, or, when the table is too wide, the widest columns that may wrap are
        narrowed to the next widest, in turn, until it fits (as rich does)."""
        widths = [cells(column.header) for column in self.columns]
        for row in self.rows:
            for index, cell in enumerate(row):
                widths[index] = max([widths[index], *(cells(text) for text, _ in cell)])
        overhead = 3 * len(self.columns) - 1
        excess = sum(widths) + overhead - width
        while excess > 0:
            flexible = [w for w, column in zip(widths, self.columns, strict=True) if column.wrap]
            top = max(flexible, default=0)
            if top <= MIN_WIDTH:
                break  # a screen too narrow for the table: its lines run on
            second = max([MIN_WIDTH, *(w for w in flexible if w != top)])
            widest = [i for i, w in enumerate(widths) if w == top and self.columns[i].wrap]
            step = min(excess, top - second)
            left = excess
            for n, index in enumerate(widest):
                cut_by = min(step, -(-left // (len(widest) - n)))  # the rest shared evenly
                widths[index] -= cut_by
                left -= cut_by
            excess = sum(widths) + overhead - width
        return widths

    def render(self, width: int, color: bool, box: tuple[str, str, str, str]) -> list[str]:
        """The table's lines; ``box`` is the bars: header, row, rule and crossing."""
        head_bar, row_bar, rule, cross = box
        widths = self.widths(width)
        total = sum(widths) + 3 * len(widths) - 1
        lines = []
        if self.title:
            gap = max(0, total - cells(self.title))
            lines.append(" " * (gap // 2) + paint(self.title, "italic", color))
        headers = [[(column.header, "bold")] for column in self.columns]
        lines.extend(self._lines(headers, widths, color, head_bar))
        lines.append(cross.join(rule * (w + 2) for w in widths))
        for row in self.rows:
            lines.extend(self._lines(row, widths, color, row_bar))
        return [line.rstrip(" ") for line in lines]

    def _lines(self, row: list[list[Span]], widths: list[int], color: bool, bar: str) -> list[str]:
        """A row's cells side by side, each wrapped to its column's width."""
        laid = [_lay(cell, c, w) for cell, c, w in zip(row, self.columns, widths, strict=True)]
        lines = []
        for depth in range(max((len(cell) for cell in laid), default=0)):
            parts = []
            for cell, column, w in zip(laid, self.columns, widths, strict=True):
                text, style = cell[depth] if depth < len(cell) else ("", "")
                parts.append(f" {paint(fit(text, w, column.justify), style, color)} ")
            lines.append(bar.join(parts))
        return lines


def _cell(value: str | Span | Sequence[Span]) -> list[Span]:
    if isinstance(value, str):
        return [(clean(text), "") for text in value.split("\n")]
    if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str):
        return [(clean(text), str(value[1])) for text in str(value[0]).split("\n")]
    lines: list[Span] = []
    for text, style in cast("Sequence[Span]", value):
        lines.extend((clean(piece), style) for piece in text.split("\n"))
    return lines


# C0 controls and DEL: a carriage return or a backspace in a title or a program's output would
# move the cursor and overwrite what the table drew.
_CONTROLS = dict.fromkeys([*range(32), 127])


def clean(text: str) -> str:
    """``text`` as one line may show it: tabs as spaces (to the next multiple of 8, as rich
    expands them), other control characters removed."""
    if text.isascii() and text.isprintable():
        return text
    return text.expandtabs(8).translate(_CONTROLS)


def _lay(cell: list[Span], column: Column, width: int) -> list[Span]:
    if not column.wrap:
        return cell
    return [
        ("".join(piece for piece, _ in line), style)
        for text, style in cell
        for line in _wrap_spans(((text, style),), width)
    ]


def cells(text: str) -> int:
    """``text``'s width in terminal cells."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(_char_cells(char) for char in text)


def _char_cells(char: str) -> int:
    if " " <= char <= "~":
        return 1
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc"):
        return 0
    if "\u1160" <= char <= "\u11ff" or "\ud7b0" <= char <= "\ud7ff":
        return 0  # a decomposed syllable's vowel and final consonant (macOS file names)
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cut(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` cells."""
    if cells(text) <= width:
        return text
    used = 0
    for index, char in enumerate(text):
        used += _char_cells(char)
        if used > width:
            return text[:index]
    return text


def fit(text: str, width: int, justify: str = "left") -> str:
    """``text`` padded to ``width`` cells (cut when longer)."""
    text = cut(text, width)
    gap = " " * (width - cells(text))
    return gap + text if justify == "right" else text + gap


def paint(text: str, style: str, color: bool) -> str:
    """``text`` in ``style`` for a terminal (as it is when ``color`` is off)."""
    codes = [_SGR[word] for word in style.split() if word in _SGR]
    if not color or not codes or not text:
        return text
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def screen_width(stream: TextIO) -> int:
    """``COLUMNS`` when set, else the terminal's width (80 when it says 0, as some
    pseudo-terminals do), else :data:`PIPED_WIDTH`."""
    try:
        return max(MIN_WIDTH * 4, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        pass
    try:
        if stream.isatty():
            return max(MIN_WIDTH * 4, os.get_terminal_size(stream.fileno()).columns or 80)
    except (OSError, ValueError, AttributeError):
        pass
    return PIPED_WIDTH


def colored(stream: TextIO) -> bool:
    """Whether ``stream`` shows colours: ``FORCE_COLOR`` set, else a terminal with neither
    ``NO_COLOR`` nor ``TERM=dumb`` (on Windows, a console that takes escape codes once they
    are switched on)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        terminal = stream.isatty()
    except (ValueError, AttributeError):
        terminal = False
    if terminal and sys.platform == "win32" and not _windows_escapes(stream):
        return False  # a console that would print the codes as text
    return terminal or bool(os.environ.get("FORCE_COLOR"))


def _windows_escapes(stream: TextIO) -> bool:
    """Switch on escape codes for a Windows console (Windows 10 and later); whether they are."""
    try:
        import ctypes
        import msvcrt

        handle = msvcrt.get_osfhandle(stream.fileno())  # type: ignore[attr-defined]
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        mode = ctypes.c_uint32()
        if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
            return False
        return bool(kernel32.SetConsoleMode(handle, mode.value | 0x0004))  # VT processing
    except Exception:  # no console API, a handle ctypes refuses, the OS's refusal: no colours
        return False


def bars(stream: TextIO) -> tuple[str, str, str, str]:
    """The table's bars (header, row, rule, crossing), or plain ASCII ones where the output's
    encoding has no box drawing."""
    try:
        "┃│━╇".encode(stream.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return ("|", "|", "-", "+")
    return ("┃", "│", "━", "╇")


def render_line(line: Line, width: int, color: bool, *, whole: bool = False) -> list[str]:
    """``line`` for a screen ``width`` cells wide: wrapped at spaces, or cut at the edge when
    it is a ``cut`` line; ``whole``: as it is (the terminal wraps it)."""
    spans = tuple((clean(text), style) for text, style in line.spans)
    if whole or sum(cells(text) for text, _ in spans) <= width:
        return ["".join(paint(text, style, color) for text, style in spans)]
    if line.cut:
        kept, room = [], width - 1
        for text, style in spans:
            piece = cut(text, room)
            kept.append((piece, style))
            room -= cells(piece)
            if piece != text:
                break
        kept.append(("…", ""))
        return ["".join(paint(text, style, color) for text, style in kept)]
    return [
        "".join(paint(t, s, color) for t, s in wrapped) for wrapped in _wrap_spans(spans, width)
    ]


def _wrap_spans(spans: tuple[Span, ...], width: int) -> list[list[Span]]:
    """Styled text in lines of at most ``width`` cells, broken at spaces (a longer word
    folded), each line as spans of one style."""
    words: list[list[tuple[str, str]]] = [[]]
    for text, style in spans:
        for char in text:
            if char == " ":
                words.append([])
            else:
                words[-1].append((char, style))
    lines: list[list[tuple[str, str]]] = []
    line: list[tuple[str, str]] = []
    used = 0
    for word in words:
        size = sum(_char_cells(char) for char, _ in word)
        if line and used + 1 + size <= width:
            line, used = [*line, (" ", ""), *word], used + 1 + size
            continue
        if not word:
            continue  # spaces where the line breaks: no blank line for them
        if line:
            lines.append(line)
        while size > width:
            head: list[tuple[str, str]] = []
            room = width
            for char, style in word:
                if _char_cells(char) > room and head:
                    break
                head.append((char, style))
                room -= _char_cells(char)
            lines.append(head)
            word = word[len(head) :]
            size = sum(_char_cells(char) for char, _ in word)
        line, used = word, size
    lines.append(line)
    return [_runs(line) for line in lines]


def _trimmed(chars: list[tuple[str, str]]) -> list[tuple[str, str]]:
    while chars and chars[-1][0] == " ":
        chars = chars[:-1]
    return chars


def _runs(chars: list[tuple[str, str]]) -> list[Span]:
    """Characters and their styles as spans, one per run of a style (none at the end a space)."""
    runs: list[Span] = []
    for char, style in _trimmed(chars):
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + char, style)
        else:
            runs.append((char, style))
    return runs


def write(
    blocks: Iterable[Grid | Line], stream: TextIO | None = None, *, whole: bool = False
) -> None:
    """Print ``blocks`` on ``stream`` (stdout); ``whole``: lines are not wrapped or cut."""
    out = stream if stream is not None else sys.stdout
    width, color, box = screen_width(out), colored(out), bars(out)
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Grid):
            lines.extend(block.render(width, color, box))
        else:
            lines.extend(render_line(block, width, color, whole=whole))
    out.write("".join(line + "\n" for line in lines))
    out.flush()


def to_rich(block: Grid | Line) -> Any:
    """``block`` as a rich renderable (the terminal app's task screen)."""
    from rich.table import Table
    from rich.text import Text

    if isinstance(block, Line):
        text = Text.assemble(*((t, s) for t, s in block.spans))
        if block.cut:
            text.no_wrap, text.overflow = True, "ellipsis"
        return text
    table = Table(title=block.title or None, show_edge=False)
    for column in block.columns:
        table.add_column(
            column.header,
            justify="right" if column.justify == "right" else "left",
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
        )
    for row in block.rows:
        cells_ = []
        for cell in row:
            text = Text()
            for index, (piece, style) in enumerate(cell):
                text.append(("\n" if index else "") + piece, style=style or "")
            cells_.append(text)
        table.add_row(*cells_)
    return table
