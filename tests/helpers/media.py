"""What a render wrote, probed and decoded with the bundled ffmpeg: a video's metadata and
frame count (``probe``), one frame as a picture (``frame``), a WAV file's length
(``wav_seconds``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def probe(video: Path, *, count: bool = True) -> dict[str, object]:
    """The video's metadata as ffmpeg reads it; with ``count``, every frame is decoded and
    counted too."""
    frames = imageio_ffmpeg.read_frames(str(video))
    meta = dict(next(frames))
    if count:
        meta["frames"] = sum(1 for _ in frames)
    frames.close()
    return meta


def wav_seconds(path: Path) -> float:
    """How long the WAV file at ``path`` plays, in seconds."""
    import wave

    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def frame(video: Path, seconds: float, out: Path) -> Image.Image:
    """The video's frame at ``seconds``, written to ``out`` and read back as RGB."""
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-ss", f"{seconds:.2f}", "-i", str(video),
         "-frames:v", "1", str(out)],
        check=True,
    )  # fmt: skip
    return Image.open(out).convert("RGB")
