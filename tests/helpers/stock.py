"""A fake of the Pexels and Pixabay APIs (``StockApis``) served by tests/fake_openai.py's server
on 127.0.0.1, the fixtures that start it (``fake``) and give the keys (``keys``), a home whose
image stage searches it (``stock_home``), and a task's story ready for the image stage
(``story_context``). A test module takes the fixtures by importing them by name."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.workspace import Workspace

from ..conftest import add, stage_context, write_config
from ..fake_openai import FakeOpenAI, Reply, failure

PEXELS_KEY = "pexels-test-key-0123"
PIXABAY_KEY = "pixabay-test-key-4567"
STORY = {
    "title": "바다 여행",
    "description": "바다로 떠나요.",
    "scenes": [
        {"text": "첫 장면", "image_prompt": "lighthouse"},
        {"text": "둘째 장면", "image_prompt": "lighthouse"},  # the same search: another photo
        {"text": "셋째 장면", "image_prompt": "forest"},
        {"text": "넷째 장면", "image_prompt": "nothing at all"},
    ],
}


def jpeg(colour: tuple[int, int, int]) -> bytes:
    """A 300x500 JPEG of one colour."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 500), colour).save(out, format="JPEG")
    return out.getvalue()


class StockApis:
    """Pexels (/v1/search, Authorization header) and Pixabay (/api/?key=) with a few photos:
    "lighthouse" on Pexels (two), "forest" on Pixabay only, nothing else anywhere."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.searches: list[tuple[str, dict[str, list[str]]]] = []
        self.fail: Reply | None = None

    def __call__(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        url = urlsplit(path)
        query = parse_qs(url.query)
        if url.path.startswith("/files/"):
            colour = {"1": (200, 30, 30), "2": (30, 200, 30), "3": (30, 30, 200)}[url.path[-5]]
            return Reply(raw=jpeg(colour), content_type="image/jpeg")
        self.searches.append((url.path, query))
        if self.fail is not None:
            return self.fail
        if url.path == "/v1/search":
            photos = []
            if query["query"] == ["lighthouse"]:
                photos = [self.pexels(1, "Ana Lima"), self.pexels(2, "Bo Kim")]
            return Reply(data={"page": 1, "per_page": 15, "photos": photos})
        if url.path == "/api/":
            hits = []
            if query["q"] == ["forest"]:
                hits = [
                    {
                        "id": 77, "pageURL": "https://pixabay.com/photos/forest-77/",
                        "largeImageURL": f"{self.root}/files/3.jpg", "user": "woods",
                        "user_id": 9, "imageWidth": 300, "imageHeight": 500,
                    }
                ]  # fmt: skip
            return Reply(data={"total": len(hits), "totalHits": len(hits), "hits": hits})
        return failure(404, "no route")

    def pexels(self, number: int, author: str) -> dict[str, Any]:
        return {
            "id": 100 + number, "width": 300, "height": 500,
            "url": f"https://www.pexels.com/photo/{100 + number}/", "photographer": author,
            "photographer_url": f"https://www.pexels.com/@{author.split()[0].lower()}",
            "src": {"portrait": f"{self.root}/files/{number}.jpg", "original": "unused"},
        }  # fmt: skip


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, StockApis]]:
    """The fake server on 127.0.0.1 answering as ``StockApis``, and those APIs."""
    with FakeOpenAI().running() as server:
        apis = StockApis(server.root)
        server.respond = apis
        yield server, apis


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both services' keys in the environment."""
    monkeypatch.setenv("PEXELS_API_KEY", PEXELS_KEY)
    monkeypatch.setenv("PIXABAY_API_KEY", PIXABAY_KEY)


def stock_home(home: Path, root: str, extra: str = "", handler: str | None = "stock") -> Workspace:
    """A home whose image stage is ``handler`` (None: left at its default)."""
    write_config(
        home,
        'timezone = "UTC"\n[retry]\nmax_retry = 0\n'
        + (f'[stages.image]\nhandler = "{handler}"\n' if handler else "")
        + '[stages.video]\nresolution = 480\nnarration = "off"\n'
        f'[stock]\npexels_url = "{root}"\npixabay_url = "{root}/api"\n' + extra,
    )
    init_home(Workspace.load(home))
    return Workspace.load(home)


def story_context(workspace: Workspace, conn: Connection):  # type: ignore[no-untyped-def]
    """A new task titled "바다 여행" whose folder holds ``STORY`` as its story.json, and a
    context to call a stage on it in this process (with the log rows it asks for)."""
    ctx, logs = stage_context(workspace, conn, add(workspace, conn, "바다 여행"))
    ctx.task_dir.mkdir(parents=True, exist_ok=True)
    (ctx.task_dir / "story.json").write_text(json.dumps(STORY, ensure_ascii=False), "utf-8")
    return ctx, logs
