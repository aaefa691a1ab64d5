"""The user's own footage: the home's media/ folder searched per scene before stock photos and
cards, with real Pillow pictures, a real ffmpeg clip and real ticks from `add` to the outbox."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from autoqueue.kinds import LogLevel, QueueType
from autoqueue.media.story import Scene
from autoqueue.repo import logs as logs_repo
from autoqueue.stages.library import MediaFile, index, matches, ranked, scene_words, words
from autoqueue.stages.stock import credits_text, run_stock_stage
from autoqueue.stages.video import card_scenes
from autoqueue.store.db import Connection
from autoqueue.workspace import Workspace

from .conftest import add, stage_context
from .fake_openai import FakeOpenAI
from .helpers.homes import drain, last_item, small_home
from .helpers.stock import StockApis, stock_home, story_context
from .helpers.stock import fake as fake  # the fixtures, imported for this module's tests
from .helpers.stock import keys as keys


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (300, 500)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def clip(path: Path) -> Path:
    """A real one-second H.264 clip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi",
         "-i", "color=c=blue:s=480x854:d=1:r=25", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
    )  # fmt: skip
    return path


def item(name: str, *extra: str) -> MediaFile:
    return MediaFile(Path(name), name, frozenset(words(Path(name).stem) | set(extra)))


@pytest.mark.no_db
def test_tags_and_the_matcher(tmp_path: Path) -> None:
    assert words("humidifier_white_desk") == {"humidifier", "white", "desk"}
    assert words("IMG_20240101_1234") == set()  # a camera's name says nothing
    # a Mac writes Hangul file names decomposed (NFD); scenes are composed (NFC)
    assert words(unicodedata.normalize("NFD", "가습기_거실")) == {"가습기", "거실"}
    said = scene_words(Scene(text="거실에 둔 가습기가 조용해요"))
    assert all(any(matches(word, tag) for word in said) for tag in ("가습기", "거실"))
    assert matches("차를", "차") and not matches("차가운", "차")  # one syllable: a particle only
    assert matches("humidifiers", "humidifier") and not matches("humid", "humidifier")
    assert matches("HUMIDIFIER".casefold(), "humidifier")
    # the image prompt, when there is one, says what the picture shows
    assert scene_words(Scene(text="거실", image_prompt="a white desk")) == {"white", "desk"}
    files = [item("desk.jpg"), item("humidifier_white_desk.jpg"), item("sofa.jpg")]
    best = ranked({"white", "humidifier", "desk"}, files)
    assert [f.name for f, _common in best] == ["humidifier_white_desk.jpg", "desk.jpg"]
    # as many tags in common: the more specific file first
    assert [f.name for f, _c in ranked({"desk"}, [item("desk_lamp.jpg"), item("desk.jpg")])] == [
        "desk.jpg",
        "desk_lamp.jpg",
    ]
    assert ranked({"forest"}, files) == []


@pytest.mark.no_db
def test_the_index_reads_folders_and_sidecars(tmp_path: Path) -> None:
    media = tmp_path / "media"
    picture(media / "거실" / "IMG_0001.jpg", (1, 2, 3))
    picture(media / "IMG_0042.png", (4, 5, 6))
    (media / "IMG_0042.txt").write_text("lighthouse, sea\nwinter beach", encoding="utf-8")
    picture(media / "kettle.jpg", (7, 8, 9))
    (media / "kettle.json").write_text('{"tags": ["주전자"], "credit": "Mina"}', "utf-8")
    picture(media / "IMG_0043.jpg", (1, 1, 1))  # nothing to go by: left out
    picture(media / ".hidden" / "sofa.jpg", (1, 1, 1))
    (media / "notes.txt").write_text("not a picture", encoding="utf-8")
    picture(media / "broken_lamp.jpg", (1, 1, 1))
    (media / "broken_lamp.json").write_text("{not json", encoding="utf-8")
    found, problems = index(media)
    tags = {f.name: set(f.tags) for f in found}
    assert tags == {
        "broken_lamp.jpg": {"broken", "lamp"},
        "IMG_0042.png": {"lighthouse", "sea", "winter", "beach"},
        "kettle.jpg": {"kettle", "주전자"},
        "거실/IMG_0001.jpg": {"거실"},
    }
    assert next(f for f in found if f.name == "kettle.jpg").credit == "Mina"
    assert len(problems) == 1 and problems[0].startswith("broken_lamp.json: ")
    assert index(tmp_path / "nothing here") == ([], [])


STORY = {
    "title": "Quiet rooms",
    "description": "A calm home.",
    "scenes": [
        {"text": "Quiet rooms"},  # a title card
        {"text": "It sits on my desk.", "image_prompt": "a humidifier on a desk"},
        {"text": "거실에 둔 가습기가 조용해요"},
        {"text": "Up close.", "image_prompt": "humidifier close up"},  # that file is taken
        {"text": "By the sea.", "image_prompt": "lighthouse by the sea"},  # a sidecar's tags
        {"text": "Into the woods.", "image_prompt": "forest"},  # the broken one, then the next
        {"text": "Waves.", "image_prompt": "ocean waves"},  # a clip
    ],
}


def media_home(home: Path) -> tuple[Workspace, dict[str, Path]]:
    """A small home whose script program writes STORY, and a media folder for it."""
    small_home(
        home,
        'narration = "off"\n[stages.script]\ncommand = ["{python}", "story.py"]\n',
    )
    (home / "story.py").write_text(
        "import json, os\n"
        f"story = {json.dumps(STORY, ensure_ascii=False)!r}\n"
        "open(os.path.join(os.environ['AUTOQUEUE_TASK_DIR'], 'story.json'), 'w', encoding='utf-8')"
        ".write(story)\n",
        encoding="utf-8",
    )
    media = home / "media"
    files = {
        "desk": picture(media / "humidifier_white_desk.jpg", (200, 30, 30)),
        "living": picture(media / "가습기_거실.jpg", (30, 200, 30)),
        "sea": picture(media / "trips" / "IMG_0042.png", (30, 30, 200)),
        "trail": picture(media / "forest_trail.jpg", (90, 120, 40)),
        "waves": clip(media / "waves.mp4"),
    }
    (media / "humidifier_white_desk.json").write_text(
        json.dumps({"tags": ["가전"], "credit": "Desk photo: Mina Park"}), encoding="utf-8"
    )
    (media / "trips" / "IMG_0042.txt").write_text("lighthouse, sea", encoding="utf-8")
    (media / "forest.jpg").write_bytes(b"not a jpeg at all")
    return Workspace.load(home), files


def test_a_crawl_task_takes_the_users_own_pictures_and_clip_and_cards_for_the_rest(
    home: Path, conn: Connection
) -> None:
    workspace, files = media_home(home)
    task_id = add(workspace, conn, "Quiet rooms")
    drain(workspace)
    item = last_item(conn, task_id)
    assert (item.queue_type.value, item.status.value) == ("youtube", "completed"), (
        item.error_message
    )
    task_dir = workspace.task_dir(task_id)
    scenes = sorted(p.name for p in task_dir.glob("scene_*"))
    assert scenes == [
        "scene_01.png", "scene_02.jpg", "scene_03.jpg", "scene_04.png",
        "scene_05.png", "scene_06.jpg", "scene_07.mp4",
    ]  # fmt: skip
    taken = {
        "scene_02.jpg": files["desk"],
        "scene_03.jpg": files["living"],
        "scene_05.png": files["sea"],
        "scene_06.jpg": files["trail"],
        "scene_07.mp4": files["waves"],
    }
    for name, source in taken.items():
        assert (task_dir / name).read_bytes() == source.read_bytes()
        assert os.path.samefile(task_dir / name, source)  # hard-linked: no second copy
    record = json.loads((task_dir / "media.json").read_text(encoding="utf-8"))
    assert [(e["scene"], e["file"], e["source"]) for e in record] == [
        (2, "scene_02.jpg", "humidifier_white_desk.jpg"),
        (3, "scene_03.jpg", "가습기_거실.jpg"),
        (5, "scene_05.png", "trips/IMG_0042.png"),
        (6, "scene_06.jpg", "forest_trail.jpg"),
        (7, "scene_07.mp4", "waves.mp4"),
    ]
    assert record[0]["tags"] == ["desk", "humidifier"]
    # the user's .png is a picture that may pan and fade, not a card; the drawn ones are cards
    ctx, _logs = stage_context(workspace, conn, task_id)
    scenes = [task_dir / name for name in ("scene_05.png", "scene_01.png", "scene_04.png")]
    assert card_scenes(ctx, scenes) == (False, True, True)
    assert (home / "outbox" / task_id / "output.mp4").stat().st_size > 0
    metadata = json.loads((home / "outbox" / task_id / "metadata.json").read_text("utf-8"))
    assert metadata["description"] == "A calm home.\n\nCredits:\n- Desk photo: Mina Park"
    rows = logs_repo.query(conn, logs_repo.LogFilter(task_id=task_id, queue_type=QueueType.IMAGE))  # type: ignore[arg-type]
    said = [(row.level, row.message) for row in rows]
    assert (LogLevel.INFO, "📸 scene 2/7: your media/humidifier_white_desk.jpg") in said
    assert (LogLevel.INFO, "📸 scene 7/7: your media/waves.mp4") in said
    broken = [m for level, m in said if level is LogLevel.WARN and "forest.jpg" in m]
    assert len(broken) == 1 and broken[0].startswith("your media/forest.jpg is not usable")
    assert len([m for _level, m in said if "card done" in m]) == 2


def test_the_stock_stage_searches_only_for_what_the_media_folder_lacks(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None
) -> None:
    server, apis = fake
    workspace = stock_home(home, server.root)
    source = picture(home / "media" / "lighthouse_night.jpg", (10, 10, 60))
    (home / "media" / "lighthouse_night.json").write_text('{"credit": "Photo: me"}', "utf-8")
    ctx, logs = story_context(workspace, conn)
    result = run_stock_stage(ctx)
    names = sorted(p.name for p in ctx.task_dir.glob("scene_*"))
    assert names == ["scene_01.jpg", "scene_02.jpg", "scene_03.jpg", "scene_04.png"]
    assert (ctx.task_dir / "scene_01.jpg").read_bytes() == source.read_bytes()
    assert result.details == {"handler": "stock", "scenes": 4, "cards": 1}
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert [(c["scene"], c["author"]) for c in credits] == [(2, "Ana Lima"), (3, "woods")]
    record = json.loads((ctx.task_dir / "media.json").read_text(encoding="utf-8"))
    assert [(e["scene"], e["source"], e["credit"]) for e in record] == [
        (1, "lighthouse_night.jpg", "Photo: me")
    ]
    assert str(logs[0].message) == "📸 scene 1/4: your media/lighthouse_night.jpg"
    assert credits_text(ctx.task_dir).endswith("\n- Photo: me")
    # a retry keeps the user's scene and searches for the missing one only
    (ctx.task_dir / "scene_03.jpg").unlink()
    apis.searches.clear()
    run_stock_stage(ctx)
    assert [q.get("q", q.get("query")) for _p, q in apis.searches] == [["forest"], ["forest"]]
    record = json.loads((ctx.task_dir / "media.json").read_text(encoding="utf-8"))
    assert [e["scene"] for e in record] == [1]


def test_without_a_media_folder_nothing_changes(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None
) -> None:
    server, _apis = fake
    workspace = stock_home(home, server.root)
    (home / "media").mkdir(exist_ok=True)  # empty
    ctx, _logs = story_context(workspace, conn)
    run_stock_stage(ctx)
    assert not (ctx.task_dir / "media.json").exists()
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert [c["scene"] for c in credits] == [1, 2, 3]
