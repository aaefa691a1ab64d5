"""Finding a font that can draw the text (Hangul included), and telling when none can."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

# Fonts known to carry Hangul, per platform, best first.
CJK_CANDIDATES: dict[str, tuple[str, ...]] = {
    "win32": (
        "C:/Windows/Fonts/malgunbd.ttf",
        "C:/Windows/Fonts/malgun.ttf",
    ),
    "darwin": (
        "/System/Library/Fonts/AppleSDGothicNeo.ttc",
        "/System/Library/Fonts/Supplemental/AppleGothic.ttf",
        "/Library/Fonts/AppleGothic.ttf",
    ),
    "linux": (
        "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    ),
}
# Latin-only fallbacks, still better than Pillow's bitmap font.
PLAIN_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
MISSING_PROBE = "\U0010fffd"  # a private-use code point no font draws: its mask is .notdef's


def _platform() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def _fontconfig_korean() -> list[str]:
    """Fonts that fontconfig says cover Korean (Linux and BSDs with fc-list)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        result = subprocess.run(
            [fc_list, ":lang=ko", "file"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted(line.split(":")[0].strip() for line in result.stdout.splitlines() if line.strip())


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The path of a font with Hangul on this machine, or None."""
    for candidate in CJK_CANDIDATES.get(_platform(), ()):
        if Path(candidate).is_file():
            return candidate
    found = _fontconfig_korean()
    return found[0] if found else None


def find_plain_font() -> str | None:
    for candidate in PLAIN_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def load(path: str | None, size: int) -> FreeTypeFont:
    """A FreeType font at ``size`` px; Pillow's own scalable default when ``path`` is None."""
    from PIL import ImageFont

    if path is None:
        return ImageFont.load_default(size=size)  # type: ignore[return-value]
    return ImageFont.truetype(path, size=size)


def missing_glyphs(font: FreeTypeFont, text: str) -> set[str]:
    """The characters of ``text`` that ``font`` would draw as an empty box (tofu)."""
    notdef = _mask(font, MISSING_PROBE)
    return {char for char in set(text) if not char.isspace() and _mask(font, char) == notdef}


def coverage_problem(font_path: str | None, texts: Iterable[str]) -> str | None:
    """Why ``font_path`` cannot be used for ``texts``: it draws fewer than half the characters
    of one of them (cards or captions would come out blank, and be published so). None when it
    draws them, or most of them (the rest are left out with a warning)."""
    from autoqueue.i18n import _

    font = load(font_path, 48)
    for text in texts:
        drawn = [char for char in text if not char.isspace()]
        if not drawn:
            continue
        missing = missing_glyphs(font, text)
        gone = sum(1 for char in drawn if char in missing)
        if gone * 2 > len(drawn):
            return _(
                "the font {font} cannot draw {gone} of the {count} characters of {text!r}: "
                "install a font that has them (Debian/Ubuntu: apt-get install fonts-nanum) or "
                'set [stages.image] font = "/path/to/font.ttf"'
            ).format(
                font=font_path or "Pillow default", gone=gone, count=len(drawn), text=text[:40]
            )
    return None


def _mask(font: FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


def family(path: Path) -> str:
    """The font's family name, as libass looks fonts up (e.g. ``NanumGothic``)."""
    from PIL import ImageFont

    try:
        name = ImageFont.truetype(str(path), 12).getname()[0]
    except OSError:
        return "Sans"
    return name or "Sans"


def family_files(path: Path) -> list[Path]:
    """``path`` and the fonts beside it of the same family (its bold, its italic): what libass
    needs to draw that family as it would from the whole folder."""
    try:
        beside = [other for other in path.parent.iterdir() if other.suffix.lower() in FONT_SUFFIXES]
    except OSError:  # a folder that cannot be listed: the font alone
        return [path]
    name = family(path)
    return [path, *sorted(other for other in beside if other != path and family(other) == name)]
