"""The ``stock`` image stage: Pexels and Pixabay searched per scene against a fake of both APIs
on 127.0.0.1 (the real endpoints' shapes), the credits recorded and carried into the
description, errors and rate limits, and a real tick from `add` to the outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autoqueue.errors import ParkStageError, PermanentStageError, UsageError
from autoqueue.stages.stock import run_stock_stage
from autoqueue.store.db import Connection
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import add
from .fake_openai import FakeOpenAI, Reply, failure, png
from .helpers.homes import drain, last_item
from .helpers.stock import PEXELS_KEY, PIXABAY_KEY, STORY, StockApis, stock_home, story_context
from .helpers.stock import fake as fake  # the fixtures, imported for this module's tests
from .helpers.stock import keys as keys

# The built-in script's shape: the first scene says the title.
TITLED = {**STORY, "scenes": [{**STORY["scenes"][0], "text": STORY["title"]}, *STORY["scenes"][1:]]}  # type: ignore[list-item, dict-item]


def test_each_scene_gets_its_own_photo_from_the_first_source_that_has_one_with_credits(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None
) -> None:
    server, apis = fake
    workspace = stock_home(home, server.root)
    ctx, logs = story_context(workspace, conn)
    result = run_stock_stage(ctx)
    names = sorted(p.name for p in ctx.task_dir.glob("scene_*"))
    assert names == ["scene_01.jpg", "scene_02.jpg", "scene_03.jpg", "scene_04.png"]
    assert result.details == {"handler": "stock", "scenes": 4, "cards": 1}
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert [(c["scene"], c["source"], c["id"], c["author"]) for c in credits] == [
        (1, "pexels", "101", "Ana Lima"),
        (2, "pexels", "102", "Bo Kim"),  # not the same photo twice
        (3, "pixabay", "77", "woods"),  # Pexels had none: the next source
    ]
    assert credits[2]["licence"] == "Pixabay Content License"
    pexels = next(q for path, q in apis.searches if path == "/v1/search")
    assert pexels["orientation"] == ["portrait"] and pexels["locale"] == ["ko-KR"]
    pixabay = next(q for path, q in apis.searches if path == "/api/")
    assert pixabay["key"] == [PIXABAY_KEY] and pixabay["orientation"] == ["vertical"]
    assert pixabay["lang"] == ["ko"] and pixabay["safesearch"] == ["true"]
    header = next(r for r in server.requests if r["path"].startswith("/v1/search"))["headers"]
    assert header["authorization"] == PEXELS_KEY
    downloads = [r for r in server.requests if r["path"].startswith("/files/")]
    assert len(downloads) == 3 and not [r for r in downloads if "authorization" in r["headers"]]
    assert "nothing found for 'nothing at all'; a card instead" in str(logs[-1].message)
    assert all(PEXELS_KEY not in str(e.message) and PIXABAY_KEY not in str(e.message) for e in logs)


def test_a_retry_keeps_the_scenes_already_found(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None
) -> None:
    server, apis = fake
    workspace = stock_home(home, server.root)
    ctx, _logs = story_context(workspace, conn)
    run_stock_stage(ctx)
    (ctx.task_dir / "scene_03.jpg").unlink()
    apis.searches.clear()
    run_stock_stage(ctx)
    assert [q.get("q", q.get("query")) for _p, q in apis.searches] == [["forest"], ["forest"]]
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert [c["scene"] for c in credits] == [1, 2, 3]
    for scene in ctx.task_dir.glob("scene_0[12].jpg"):  # replaced by the user with cards
        scene.with_suffix(".png").write_bytes(png())
        scene.unlink()
    run_stock_stage(ctx)
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert [c["scene"] for c in credits] == [3]  # no credit for a photo no longer used


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (failure(401, f"bad key {PEXELS_KEY}"), PermanentStageError, r"Pexels refused the key.*\$PEXELS_API_KEY"),
        (Reply(status=429, data={"error": "slow down"}, headers={"X-Ratelimit-Reset": "90"}), ParkStageError, "Pexels asks to wait 90 s"),
        (failure(503, "maintenance"), Exception, "Pexels: "),
    ],
)  # fmt: skip
def test_what_the_apis_errors_lead_to(
    home: Path,
    conn: Connection,
    fake: tuple[FakeOpenAI, StockApis],
    keys: None,
    reply: Reply,
    error: type[Exception],
    message: str,
) -> None:
    server, apis = fake
    workspace = stock_home(home, server.root)
    ctx, _logs = story_context(workspace, conn)
    apis.fail = reply
    before = utcnow()
    with pytest.raises(error, match=message) as caught:
        run_stock_stage(ctx)
    assert PEXELS_KEY not in str(caught.value)
    if isinstance(caught.value, ParkStageError):
        assert (
            before + timedelta(seconds=89) <= caught.value.until <= utcnow() + timedelta(seconds=91)
        )


def test_add_refuses_crawl_through_stock_without_a_key(
    home: Path,
    conn: Connection,
    fake: tuple[FakeOpenAI, StockApis],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, _apis = fake
    workspace = stock_home(home, server.root)
    with pytest.raises(UsageError, match=r"needs a key: set \$PEXELS_API_KEY / \$PIXABAY_API_KEY"):
        add(workspace, conn, "no key")
    monkeypatch.setenv("PIXABAY_API_KEY", PIXABAY_KEY)
    add(workspace, conn, "one key is enough")


@pytest.mark.parametrize("handler", ["stock", None])
def test_a_crawl_task_runs_to_the_outbox_with_stock_photos_and_their_credits(
    home: Path,
    conn: Connection,
    fake: tuple[FakeOpenAI, StockApis],
    keys: None,
    handler: str | None,
) -> None:
    """Through real ticks: a script program writes the story, the stock stage finds the photos
    in the attempt's supervisor (named, or the image stage's default when a key is there), the
    render uses them, and the outbox's description ends with their credits."""
    server, _apis = fake
    workspace = stock_home(
        home, server.root, '[stages.script]\ncommand = ["{python}", "story.py"]\n', handler
    )
    (home / "story.py").write_text(
        "import json, os\n"
        f"story = {json.dumps(TITLED, ensure_ascii=False)!r}\n"
        "open(os.path.join(os.environ['AUTOQUEUE_TASK_DIR'], 'story.json'), 'w', encoding='utf-8')"
        ".write(story)\n",
        encoding="utf-8",
    )
    workspace = Workspace.load(home)
    task_id = add(workspace, conn, "바다 여행")
    drain(workspace)
    item = last_item(conn, task_id)
    assert (item.queue_type.value, item.status.value) == ("youtube", "completed"), (
        item.error_message
    )
    metadata = json.loads((home / "outbox" / task_id / "metadata.json").read_text(encoding="utf-8"))
    description = metadata["description"]
    assert description.startswith("바다로 떠나요.\n\nCredits:\n")
    assert "- Ana Lima (Pexels, Pexels License): https://www.pexels.com/photo/101/" in description
    assert (
        "- woods (Pixabay, Pixabay Content License): https://pixabay.com/photos/forest-77/"
        in description
    )
    task_dir = workspace.task_dir(task_id)
    scenes = sorted(p.name for p in task_dir.glob("scene_*"))
    assert scenes == ["scene_01.jpg", "scene_02.jpg", "scene_03.jpg", "scene_04.png"]
    assert (home / "outbox" / task_id / "output.mp4").stat().st_size > 0
    # The first scene says the title, but it is a photo, not a card: the title is drawn on
    # the thumbnail (in its yellow), as for any picture.
    from PIL import Image

    with Image.open(task_dir / "thumbnail.jpg") as thumbnail:
        band = thumbnail.convert("RGB").crop((0, 0, thumbnail.width, thumbnail.height // 4))
        colours = band.getcolors(maxcolors=1_000_000) or []
    assert sum(n for n, (r, g, b) in colours if r > 200 and g > 180 and b < 120) > 200


def test_stock_clips_from_pexels_are_checked_and_kept_as_scene_clips(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None, tmp_path: Path
) -> None:
    import subprocess

    import imageio_ffmpeg

    server, _apis = fake
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi",
         "-i", "color=c=red:s=720x1280:d=1:r=25", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(clip)],
        check=True,
    )  # fmt: skip

    def respond(method: str, path: str, body: dict[str, Any]) -> Reply:
        if path.startswith("/videos/search"):
            files = [
                {"link": f"{server.root}/files/small.mp4", "width": 360, "height": 640, "file_type": "video/mp4"},
                {"link": f"{server.root}/files/hd.mp4", "width": 720, "height": 1280, "file_type": "video/mp4"},
                {"link": f"{server.root}/files/4k.mp4", "width": 2160, "height": 3840, "file_type": "video/mp4"},
            ]  # fmt: skip
            number = len([r for r in server.requests if r["path"].startswith("/videos")])
            video = {"id": number, "url": f"https://www.pexels.com/video/{number}/",
                     "user": {"name": "Cam Era", "url": "https://www.pexels.com/@cam"},
                     "video_files": files}  # fmt: skip
            return Reply(data={"videos": [video]})
        if path == "/files/hd.mp4":
            return Reply(raw=clip.read_bytes())
        return failure(404, "only the HD file is fetched")

    server.respond = respond
    workspace = stock_home(home, server.root, 'kind = "videos"\n')
    ctx, _logs = story_context(workspace, conn)
    run_stock_stage(ctx)
    clips = sorted(p.name for p in ctx.task_dir.glob("scene_*"))
    assert clips == ["scene_01.mp4", "scene_02.mp4", "scene_03.mp4", "scene_04.mp4"]
    assert [r["path"] for r in server.requests if r["path"].startswith("/files/")] == [
        "/files/hd.mp4"
    ] * 4  # the smallest file of at least 720 px
    credits = json.loads((ctx.task_dir / "credits.json").read_text(encoding="utf-8"))
    assert {c["author"] for c in credits} == {"Cam Era"} and len(credits) == 4


def test_doctor_checks_each_stock_source_that_has_a_key(
    home: Path, fake: tuple[FakeOpenAI, StockApis], monkeypatch: pytest.MonkeyPatch
) -> None:
    from autoqueue.cli.doctor import run_checks

    server, apis = fake
    stock_home(home, server.root)
    checks = {check.name: check for check in run_checks(home, None)}
    assert checks["stock"].status == "fail" and "$PEXELS_API_KEY" in checks["stock"].detail
    monkeypatch.setenv("PEXELS_API_KEY", PEXELS_KEY)
    checks = {check.name: check for check in run_checks(home, None)}
    assert checks["pexels"].status == "ok" and "pixabay" not in checks
    monkeypatch.setenv("PIXABAY_API_KEY", PIXABAY_KEY)
    apis.fail = failure(403, "invalid key")
    checks = {check.name: check for check in run_checks(home, None)}
    assert checks["pexels"].status == checks["pixabay"].status == "fail"
    assert "$PIXABAY_API_KEY" in checks["pixabay"].detail


@pytest.mark.slow
def test_handler_cards_keeps_the_text_cards_even_with_a_key(
    home: Path, conn: Connection, fake: tuple[FakeOpenAI, StockApis], keys: None
) -> None:
    server, apis = fake
    workspace = stock_home(home, server.root, handler="cards")
    task_id = add(workspace, conn, "Cards please")
    drain(workspace)
    assert last_item(conn, task_id).status.value == "completed"
    assert apis.searches == [] and server.requests == []
    assert not (workspace.task_dir(task_id) / "credits.json").exists()
    assert sorted(p.suffix for p in workspace.task_dir(task_id).glob("scene_*")) == [".png"] * 3
