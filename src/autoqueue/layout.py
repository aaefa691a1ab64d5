"""The rule-based file layout of a task folder (seed section 1: paths are not stored)."""

from __future__ import annotations

from pathlib import Path

STORY = "story.json"
VIDEO = "output.mp4"
THUMBNAIL = "thumbnail.jpg"
RUNS = "runs"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"})


def resolution(task_type: str) -> tuple[int, int]:
    """Video and card size: 1080x1920 (vertical) for shortform and product, 1920x1080 longform."""
    return (1920, 1080) if task_type == "longform" else (1080, 1920)


def scene_name(index: int, suffix: str) -> str:
    """``scene_01.png`` for the first scene (1-based, two digits or more)."""
    return f"scene_{index:02d}{suffix.lower()}"


def scene_images(task_dir: Path) -> list[Path]:
    """The scene images in a task folder, in scene order."""
    return sorted(
        path
        for path in task_dir.glob("scene_*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )


def run_outputs(task_dir: Path, *, keep_scene_images: bool) -> list[Path]:
    """The files one run writes, which the next run of a recurring task archives first.

    In ``upload`` mode the scene images are the user's inputs, shared by every run, so they stay.
    """
    names = [STORY, VIDEO, THUMBNAIL, "metadata.json"]
    found = [task_dir / name for name in names if (task_dir / name).is_file()]
    found += sorted(p for p in task_dir.glob("narration.*") if p.is_file())
    if not keep_scene_images:
        found += scene_images(task_dir)
    return found
