"""The rule-based file layout of a home and its task folders: their paths follow from the home
and the task id and are not stored (docs/concepts.md)."""

from __future__ import annotations

import math
import re
from pathlib import Path

CONFIG_NAME = "autoqueue.toml"  # the home's configuration (autoqueue.config)
STORY = "story.json"
VIDEO = "output.mp4"
THUMBNAIL = "thumbnail.jpg"
RUNS = "runs"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"})
CLIP_SUFFIXES = frozenset({".mp4", ".mov", ".webm", ".mkv"})  # scenes that are video clips
CREDITS = "credits.json"  # who made the stock pictures and clips, under which licence
MEDIA_RECORD = "media.json"  # the scenes taken from the user's own media/ folder
# A YouTube channel's name (its token is credentials/youtube/NAME.json), and a channel
# profile's ([channels.NAME]), which may be the same name.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# The long side for each short side the video stage offers (16:9, even numbers for yuv420p).
LONG_SIDE = {1080: 1920, 720: 1280, 480: 854}


def resolution(task_type: str, short_side: int = 1080) -> tuple[int, int]:
    """Video and card size: vertical (1080x1920 at 1080p) for shortform and product,
    horizontal (1920x1080) for longform."""
    long_side = LONG_SIDE[short_side]
    if task_type == "longform":
        return (long_side, short_side)
    return (short_side, long_side)


def safe_area(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where text may go (left, top, right, bottom): on a vertical video, clear of what the
    Shorts player draws over it (the buttons in the right 14 %, the title and channel in the
    bottom 20 %, the top 8 %), with as much room on the left so that text stays centred; on a
    horizontal one, a 5 % margin all round."""
    width, height = size
    left, top, bottom = (0.14, 0.08, 0.80) if height > width else (0.05, 0.05, 0.95)
    return (
        math.ceil(width * left),
        math.ceil(height * top),
        math.floor(width * (1 - left)),
        math.floor(height * bottom),
    )


def scene_name(index: int, suffix: str) -> str:
    """``scene_01.png`` for the first scene (1-based, two digits or more)."""
    return f"scene_{index:02d}{suffix.lower()}"


def scene_images(task_dir: Path) -> list[Path]:
    """The scenes in a task folder, in scene order: pictures, or video clips (sora2, stock
    clips)."""
    return sorted(
        path
        for path in task_dir.glob("scene_*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES | CLIP_SUFFIXES
    )


def run_outputs(task_dir: Path, *, keep_scene_images: bool) -> list[Path]:
    """The files one run writes, which the next run of a recurring task archives first.

    In ``upload`` mode the scene images are the user's inputs, shared by every run, so they stay.
    """
    # the video stage's voice-over and captions too: a stale output.srt must never reach the
    # next run's upload
    names = [STORY, VIDEO, THUMBNAIL, "metadata.json", "voice.wav", "captions.ass", "output.srt"]
    names += [CREDITS, MEDIA_RECORD]
    found = [task_dir / name for name in names if (task_dir / name).is_file()]
    found += sorted(p for p in task_dir.glob("narration.*") if p.is_file())
    if not keep_scene_images:
        found += scene_images(task_dir)
    return found
