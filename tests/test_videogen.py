"""sora2's AI clips: asynchronous jobs through the real ``openai`` and ``google-genai`` SDKs
against a fake provider on 127.0.0.1. A job is started once per scene whatever happens (a park,
a retry, the attempt SIGKILLed while it waits), and the clips end up in the rendered video."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import psutil
import pytest

from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.stages.videogen import generate_clips
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import add, open_db, stage_context, write_config
from .fake_openai import FakeOpenAI, Reply, failure, video_job
from .helpers.media import frame, probe

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
KEY = "sk-test-video-0123456789"
STORY = {
    "title": "Three clips",
    "scenes": [
        {"text": "The first scene.", "image_prompt": "a red sunrise", "duration": 1.5},
        {"text": "The second scene.", "image_prompt": "a green field", "duration": 1.5},
        {"text": "The third scene.", "duration": 1.5},
    ],
}
COLOURS = ("red", "green", "blue")
RGB = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One second of one colour each, as a provider would send (H.264 in MP4, 9:16)."""
    folder = tmp_path_factory.mktemp("clips")
    made = {}
    for colour in COLOURS:
        out = folder / f"{colour}.mp4"
        subprocess.run(
            [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"color=c={colour}:s=180x320:d=1:r=24",
             "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
            check=True,
        )  # fmt: skip
        made[colour] = out.read_bytes()
    return made


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        yield server


def video_home(
    home: Path, fake: FakeOpenAI, provider: str = "openai", extra: str = ""
) -> Workspace:
    base = fake.base_url if provider == "openai" else fake.root
    write_config(
        home,
        'timezone = "UTC"\n[retry]\nmax_retry = 1\ndelays = [0]\n'
        '[stages.video]\nresolution = 480\nnarration = "off"\ncrossfade = 0\n'
        f'[providers.{provider}]\nbase_url = "{base}"\n'
        f'[media.sora2]\nprovider = "{provider}"\npoll_seconds = 1\n'
        + ('model = "veo-via-proxy"\n' if provider == "openai" else "")
        + extra,
    )
    init_home(Workspace.load(home))
    return Workspace.load(home)


def with_story(workspace: Workspace, conn: Connection):  # type: ignore[no-untyped-def]
    ctx, logs = stage_context(
        workspace, conn, add(workspace, conn, "Three clips", media_mode="sora2")
    )
    ctx.task_dir.mkdir(parents=True, exist_ok=True)
    (ctx.task_dir / "story.json").write_text(json.dumps(STORY), encoding="utf-8")
    return ctx, logs


class Jobs:
    """A stateful OpenAI-style /videos server: each POST starts a job (video_1, video_2, ...,
    made from the scene's colour in its prompt); a job is finished once ``ready`` is set."""

    def __init__(self, clips: dict[str, bytes]) -> None:
        self.clips = clips
        self.started: dict[str, str] = {}  # job -> colour
        self.ready = threading.Event()
        self.ready.set()
        self.looked = threading.Event()

    def __call__(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        if method == "POST" and path == "/v1/videos":
            job = f"video_{len(self.started) + 1}"
            prompt = str(body.get("prompt", ""))
            self.started[job] = next((c for c in COLOURS if c in prompt), "blue")
            return video_job(job, "queued")
        match = re.fullmatch(r"/v1/videos/(video_\d+)(/content)?(\?.*)?", path)
        if method == "GET" and match and match.group(1) in self.started:
            job = match.group(1)
            if match.group(2):
                return Reply(raw=self.clips[self.started[job]])
            self.looked.set()
            finished = self.ready.wait(timeout=60)
            return video_job(job, "completed" if finished else "in_progress")
        return failure(404, f"no route {method} {path}")


def test_jobs_start_once_the_item_parks_while_they_run_and_the_clips_arrive(
    home: Path,
    conn: Connection,
    fake: FakeOpenAI,
    clips: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    workspace = video_home(home, fake)
    ctx, logs = with_story(workspace, conn)
    config = workspace.config.media.sora2
    jobs = Jobs(clips)
    jobs.ready.clear()
    fake.respond = lambda method, path, body: (
        video_job(path.rsplit("/", 1)[-1], "in_progress")
        if method == "GET"
        else jobs(method, path, body)
    )
    before = utcnow()
    with pytest.raises(ParkStageError, match="3 of 3 clips are still being made") as parked:
        generate_clips(ctx, config, (480, 854), FFMPEG)
    assert (
        before + timedelta(seconds=0.9) <= parked.value.until <= utcnow() + timedelta(seconds=1.1)
    )
    assert ctx.store.load() == {"jobs": {"1": "video_1", "2": "video_2", "3": "video_3"}}
    posts = [r for r in fake.requests if r["method"] == "POST"]
    assert [p["body"]["size"] for p in posts] == ["720x1280"] * 3
    assert posts[0]["body"]["seconds"] == "8" and posts[0]["body"]["prompt"].startswith(
        "a red sunrise"
    )
    assert not list(ctx.task_dir.glob("scene_*"))

    with pytest.raises(ParkStageError):  # still running: looked at, none started again
        generate_clips(ctx, config, (480, 854), FFMPEG)
    fake.respond = jobs
    jobs.ready.set()
    made = generate_clips(ctx, config, (480, 854), FFMPEG)
    assert [p.name for p in made] == ["scene_01.mp4", "scene_02.mp4", "scene_03.mp4"]
    assert [r["method"] for r in fake.requests].count("POST") == 3
    assert ctx.store.load() == {"jobs": {}}
    assert probe(made[1])["frames"] == 24
    assert [str(entry.message) for entry in logs][-1] == "🎞️ scene 3/3: clip ready"


def test_a_failed_job_is_forgotten_and_a_refused_one_fails_permanently(
    home: Path,
    conn: Connection,
    fake: FakeOpenAI,
    clips: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    workspace = video_home(home, fake)
    ctx, _logs = with_story(workspace, conn)
    config = workspace.config.media.sora2
    ctx.store.save({"jobs": {"1": "video_1", "2": "video_2", "3": "video_3"}})
    fake.replies = [
        video_job("video_1", "failed", {"code": "internal_error", "message": "GPU lost"})
    ]
    with pytest.raises(TransientStageError, match="job video_1 failed: GPU lost"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
    assert ctx.store.load() == {"jobs": {"2": "video_2", "3": "video_3"}}  # a retry starts one
    fake.replies = [
        video_job("video_9", "queued"),  # scene 1 again
        video_job("video_9", "failed", {"code": "moderation_blocked", "message": "not allowed"}),
    ]
    with pytest.raises(PermanentStageError, match="content policy: not allowed"):
        generate_clips(ctx, config, (480, 854), FFMPEG)


def test_veo_on_vertex_ai_starts_an_operation_and_reads_the_clip_from_it(
    home: Path,
    conn: Connection,
    fake: FakeOpenAI,
    clips: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-express-key")
    workspace = video_home(home, fake, "google")
    ctx, _logs = with_story(workspace, conn)
    config = workspace.config.media.sora2
    name = "projects/p/locations/us-central1/publishers/google/models/veo/operations/op-{}"
    started = [Reply(data={"name": name.format(n)}) for n in (1, 2, 3)]

    def done(colour: str) -> Reply:
        video = {
            "bytesBase64Encoded": base64.b64encode(clips[colour]).decode(),
            "mimeType": "video/mp4",
        }
        return Reply(data={"name": name.format(1), "done": True, "response": {"videos": [video]}})

    fake.replies = [*started, done("red"), Reply(data={"name": name.format(2)}), done("blue")]
    with pytest.raises(ParkStageError, match="1 of 3 clips"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
    first = fake.requests[0]
    assert first["path"].endswith("/models/veo-3.1-lite-generate-001:predictLongRunning")
    assert first["body"]["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 8,
        "aspectRatio": "9:16",
    }
    assert fake.requests[3]["path"].endswith(":fetchPredictOperation")
    assert fake.requests[3]["body"] == {"operationName": name.format(1)}
    assert sorted(p.name for p in ctx.task_dir.glob("scene_*")) == ["scene_01.mp4", "scene_03.mp4"]
    fake.replies = [
        Reply(
            data={
                "name": name.format(2),
                "done": True,
                "response": {"raiMediaFilteredReasons": ["The prompt names a real person."]},
            }
        )
    ]
    with pytest.raises(PermanentStageError, match="content policy: The prompt names a real person"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
    assert [r["path"].endswith(":predictLongRunning") for r in fake.requests].count(True) == 3


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_sigkill_while_waiting_for_the_clips_never_starts_a_job_twice(
    home: Path, fake: FakeOpenAI, clips: dict[str, bytes], tmp_path: Path
) -> None:
    """Through a real `tick --drain`: the attempt is SIGKILLed while it waits on the provider
    for the first job; the tick runs the stage again (no retry spent), which looks at the jobs
    it saved rather than starting new ones, and the video holds each scene's clip."""
    workspace = video_home(home, fake)
    conn = open_db(home)
    task_id = add(workspace, conn, "Three clips", media_mode="sora2")
    conn.close()
    jobs = Jobs(clips)
    jobs.ready.clear()
    fake.respond = jobs
    # The built-in script writes the story; the scenes' prompts name no colour: the fake gives
    # blue. This test's story has one, so every scene's colour can be checked in the video.
    task_dir = workspace.task_dir(task_id)
    env = {"OPENAI_API_KEY": KEY}
    tick = subprocess.Popen(
        [sys.executable, "-m", "autoqueue", "--home", str(home), "tick", "--drain",
         "--max-seconds", "120"],
        env={**__import__("os").environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert jobs.looked.wait(timeout=90), "the stage never looked at a job"
        started = dict(jobs.started)
        supervisors = psutil.Process(tick.pid).children(recursive=True)
        assert supervisors
        for process in supervisors:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(supervisors, timeout=10)
        jobs.ready.set()
        out, err = tick.communicate(timeout=180)
    finally:
        if tick.poll() is None:
            tick.kill()
    assert tick.returncode == 0, err
    conn = open_db(home)
    rows = conn.execute(
        "SELECT queue_type, status, retry_count FROM task_queue WHERE task_id = ? ORDER BY id",
        (task_id,),
    ).fetchall()
    lost = conn.execute(
        "SELECT COUNT(*) FROM task_logs WHERE task_id = ? AND message LIKE '%no retry spent%'",
        (task_id,),
    ).fetchone()[0]
    conn.close()
    video = next(tuple(r) for r in rows if r[0] == "video")
    assert video == ("video", "completed", 0), (out[-1000:], err[-1000:])
    assert lost == 1  # the killed attempt, run again
    assert jobs.started == started  # the same jobs: none started again
    scenes = sorted(task_dir.glob("scene_*.mp4"))
    assert len(scenes) == len(started)
    assert probe(task_dir / "output.mp4", count=False)["size"] == (480, 854)
    picture = frame(task_dir / "output.mp4", 0.5, tmp_path / "f.png")
    r, g, b = picture.getpixel((240, 427))  # type: ignore[misc]
    assert b > 150 and r < 80 and g < 80  # a blue clip, not a card


def service_account(path: Path, token_uri: str) -> Path:
    """A service account key file (a fresh RSA key) whose token endpoint is the fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account", "project_id": "my-project", "private_key_id": "k1",
                "private_key": pem, "client_email": "render@my-project.iam.gserviceaccount.com",
                "client_id": "1", "token_uri": token_uri,
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    return path


def test_vertex_ai_with_a_project_signs_in_with_application_default_credentials(
    home: Path, conn: Connection, fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No API key: the project's Application Default Credentials (here a service account whose
    token endpoint is the fake) give the bearer token; none at all fails permanently, saying
    how to sign in."""
    workspace = video_home(
        home, fake, "google", 'project = "my-project"\nlocation = "asia-northeast3"\n'
    )
    ctx, _logs = with_story(workspace, conn)
    config = workspace.config.media.sora2
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(PermanentStageError, match="gcloud auth application-default login"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
    assert fake.requests == []

    account = service_account(tmp_path / "sa.json", fake.root + "/token")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    name = (
        "projects/my-project/locations/asia-northeast3/publishers/google/models/veo/operations/op"
    )
    fake.replies = [
        Reply(
            data={"access_token": "ya29.from-the-fake", "expires_in": 3600, "token_type": "Bearer"}
        ),
        *[Reply(data={"name": f"{name}-{n}"}) for n in (1, 2, 3)],
        *[Reply(data={"name": f"{name}-{n}"}) for n in (1, 2, 3)],  # none done yet
    ]
    with pytest.raises(ParkStageError, match="3 of 3 clips"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
    token, first = fake.requests[0], fake.requests[1]
    assert token["path"] == "/token" and "assertion" in token["body"]
    assert first["path"] == (
        "/v1beta1/projects/my-project/locations/asia-northeast3/publishers/google/models/"
        "veo-3.1-lite-generate-001:predictLongRunning"
    )
    assert first["headers"]["authorization"] == "Bearer ya29.from-the-fake"
    assert "x-goog-api-key" not in first["headers"]
    fake.replies = [
        Reply(data={"access_token": "ya29.again", "expires_in": 3600, "token_type": "Bearer"}),
        Reply(status=403, data={"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}),
    ]  # fmt: skip
    with pytest.raises(PermanentStageError, match="Vertex AI User role in project my-project"):
        generate_clips(ctx, config, (480, 854), FFMPEG)
