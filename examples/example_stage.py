"""An example stage program for every queue: a template for your own.

autoqueue runs it in tasks/{task_id}/ with the AUTOQUEUE_* variables set. It shows the whole
contract: read the task from AUTOQUEUE_TASK_JSON, write the stage's rule-based outputs, report
progress as JSON lines on stdout, exit 0 (done), 65 (permanent failure) or anything else
(transient failure, retried).

The outputs are stand-ins: the script is built from the title and product info, the images are
plain coloured PNGs, and output.mp4 is a placeholder text file, not a video. autoqueue's built-in
stages (see docs/stages.md) render real ones.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib
from pathlib import Path

PERMANENT = 65


def event(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, written with the standard library only."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def write_script(payload: dict, here: Path) -> None:
    task = payload["task"]
    info = payload.get("product_info") or {}
    scenes = [{"text": task["title"], "duration": 3}]
    if isinstance(info, dict):
        for key, value in info.items():
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            scenes.append({"text": f"{key}: {text}", "duration": 3})
    story = {
        "title": task["title"],
        "description": f"{task['title']} ({task['type']})",
        "tags": [task["type"]],
        "scenes": scenes,
    }
    (here / "story.json").write_text(json.dumps(story, ensure_ascii=False, indent=2), "utf-8")
    event(message=f"story with {len(scenes)} scenes written")


def make_images(here: Path) -> None:
    story = json.loads((here / "story.json").read_text("utf-8"))
    total = len(story["scenes"])
    for index in range(1, total + 1):
        colour = ((index * 70) % 256, (index * 130) % 256, (index * 190) % 256)
        (here / f"scene_{index:02d}.png").write_bytes(png(108, 192, colour))
        event(progress={"current": index, "total": total}, message=f"scene {index}/{total} image done")


def render(here: Path) -> None:
    images = sorted(here.glob("scene_*"))
    if not images:
        print("no scene images to render", file=sys.stderr)
        sys.exit(PERMANENT)
    lines = [f"placeholder for a video of {len(images)} scenes:"] + [p.name for p in images]
    (here / "output.mp4").write_text("\n".join(lines) + "\n", "utf-8")
    (here / "thumbnail.jpg").write_bytes(images[0].read_bytes())
    event(message="placeholder video written (not a real MP4)")


def publish(payload: dict, here: Path) -> None:
    home = Path(os.environ["AUTOQUEUE_HOME"])
    outbox = home / "outbox" / payload["task"]["id"]
    outbox.mkdir(parents=True, exist_ok=True)
    for name in ("output.mp4", "thumbnail.jpg", "story.json"):
        (outbox / name).write_bytes((here / name).read_bytes())
    event(message=f"copied to {outbox} (a local publish, not a YouTube upload)")


def main() -> None:
    payload = json.loads(Path(os.environ["AUTOQUEUE_TASK_JSON"]).read_text("utf-8"))
    here = Path.cwd()
    stage = os.environ["AUTOQUEUE_QUEUE_TYPE"]
    if stage == "script":
        write_script(payload, here)
    elif stage == "image":
        make_images(here)
    elif stage == "video":
        render(here)
    elif stage == "youtube":
        publish(payload, here)


if __name__ == "__main__":
    main()
