"""Is a file a picture the video stage can use? Asked when ``add --image`` copies it in, and
again before the render (a file may have changed in between)."""

from __future__ import annotations

from pathlib import Path


def image_problem(path: Path) -> str | None:
    """Why Pillow cannot use ``path`` as a picture (empty, not an image, damaged, or so many
    pixels that decoding it would exhaust memory: a decompression bomb), or None."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"refused: it claims more pixels than is safe to decode ({exc})"
    except UnidentifiedImageError:
        return "not an image Pillow can read (empty, or another kind of file)"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"a damaged image: {exc}"
    return None
