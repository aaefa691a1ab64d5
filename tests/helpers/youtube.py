"""A home whose youtube stage uploads to tests/fake_youtube.py's fake YouTube on 127.0.0.1
(``youtube_home``, with the ``fake`` fixture that starts it), and a task whose video is
rendered and whose youtube item waits (``ready_task``). A test module takes the fixture by
importing it by name."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from autoqueue.kinds import QueueType
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import to_db, utcnow
from autoqueue.workspace import Workspace
from autoqueue.youtube import auth

from ..conftest import add, write_config
from ..fake_youtube import FakeYouTube


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    """The fake YouTube (API, uploads and token endpoint) on 127.0.0.1, for the test."""
    with FakeYouTube() as server:
        yield server


def youtube_home(
    home: Path, fake: FakeYouTube, extra: str = "", token: str | None = None, max_retry: int = 2
) -> Workspace:
    """A home whose youtube stage uploads to ``fake`` as channel "main" (its [youtube] default),
    ``extra`` added at the end of its [youtube] table (a table of its own may follow)."""
    write_config(
        home,
        f'timezone = "UTC"\n[retry]\ndelays = [0]\nmax_retry = {max_retry}\n'
        '[stages.youtube]\nhandler = "youtube"\n'
        f'[youtube]\napi_root = "{fake.url}"\ntoken_uri = "{fake.url}token"\n'
        "chunk_mb = 0.25\nretry_seconds = 0.01\n"
        'default_channel = "main"\n' + extra,
    )
    auth.write_private(auth.token_path(home, "main"), token or fake.token_json())
    workspace = Workspace.load(home)
    init_home(workspace)
    return Workspace.load(home)


def ready_task(
    workspace: Workspace, conn: Connection, size: int = 1_000_000, **fields: object
) -> tuple[str, bytes]:
    """A task whose video is rendered and whose youtube item waits (the earlier stages done)."""
    task_id = add(workspace, conn, "업로드 테스트", at="2099-01-01 00:00", **fields)
    folder = workspace.task_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    (folder / "output.mp4").write_bytes(data)
    Image.new("RGB", (1280, 720), (200, 10, 10)).save(folder / "thumbnail.jpg")
    story = {
        "title": "무선 가습기 <리뷰>",
        "description": "설명",
        "tags": ["가습기", "리뷰"],
        "scenes": [{"text": "a"}],
    }
    (folder / "story.json").write_text(json.dumps(story, ensure_ascii=False), encoding="utf-8")
    now = to_db(utcnow())
    schedule = schedules_repo.for_task(conn, task_id)[0]
    contents_repo.insert_script(
        conn,
        content_id=f"c-{task_id}",
        user_id=None,
        format="shortform",
        title="t",
        content="{}",
        task_id=task_id,
        now=now,
    )
    tasks_repo.set_content_id(conn, task_id, f"c-{task_id}", now)
    queue_repo.insert(
        conn,
        task_id=task_id,
        schedule_id=schedule.id,
        queue_type=QueueType.YOUTUBE,
        max_retry=2,
        now=now,
    )
    return task_id, data


