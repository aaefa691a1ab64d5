"""The built-in AI handlers behind the generated mediaModes and the Gemini script writer, through
the real ``openai`` and ``google-genai`` SDKs against a fake provider on 127.0.0.1
(tests/fake_openai.py): pictures per scene, what each provider error leads to, the key kept
out of everything, the daily spend ledger, and ``add`` refusing what could not be made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue.cli.app import app
from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError, UsageError
from autoqueue.stages.base import StageContext
from autoqueue.stages.imagegen import generate_pictures
from autoqueue.stages.llm import run_llm_stage
from autoqueue.stages.providers import spent
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import add, open_db, stage_context, write_config
from .fake_openai import (
    FakeOpenAI,
    Reply,
    failure,
    gemini,
    gemini_failure,
    gemini_picture,
    gemini_text,
    picture,
    png,
)
from .helpers.homes import drain, last_item
from .helpers.media import frame, probe

OPENAI_KEY = "sk-test-pictures-0123456789"
GOOGLE_KEY = "AIza-test-0123456789abcdef"
STORY = {
    "title": "바다 여행",
    "scenes": [
        {"text": "첫 장면입니다.", "image_prompt": "a red lighthouse at dawn"},
        {"text": "두 번째 장면입니다.", "image_prompt": "a green forest path"},
        {"text": "세 번째 장면입니다."},
    ],
}
RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (30, 60, 220)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        yield server


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GOOGLE_KEY)


def provider_home(
    home: Path, fake: FakeOpenAI, extra: str = "", *, openai: str = "", google: str = ""
) -> Workspace:
    """Both providers pointed at the fake (``openai`` and ``google`` added to their sections);
    every stage built in, at 480p, without narration."""
    write_config(
        home,
        'timezone = "UTC"\n[retry]\nmax_retry = 0\n'
        '[stages.video]\nresolution = 480\nnarration = "off"\n'
        f'[providers.openai]\nbase_url = "{fake.base_url}"\n{openai}'
        f'[providers.google]\nbase_url = "{fake.root}"\n{google}' + extra,
    )
    init_home(Workspace.load(home))
    return Workspace.load(home)


def with_story(
    workspace: Workspace, conn: Connection, media_mode: str, story: dict[str, object] = STORY
) -> tuple[StageContext, list[object]]:
    task_id = add(workspace, conn, str(story["title"]), media_mode=media_mode)
    ctx, logs = stage_context(workspace, conn, task_id)
    ctx.task_dir.mkdir(parents=True, exist_ok=True)
    (ctx.task_dir / "story.json").write_text(json.dumps(story, ensure_ascii=False), "utf-8")
    return ctx, logs


def colour(image_path: Path) -> tuple[int, int, int]:
    from PIL import Image

    with Image.open(image_path) as image:
        return image.convert("RGB").getpixel((image.width - 3, image.height - 3))  # type: ignore[return-value]


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# -- pictures ----------------------------------------------------------------------------------


def test_dalle3_asks_openai_for_one_picture_per_scene_at_the_videos_aspect(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake, '[media.dalle3]\nmodel = "picture-model"\n')
    ctx, logs = with_story(workspace, conn, "dalle3")
    fake.replies = [picture(png(c)) for c in (RED, GREEN, BLUE)]
    made = generate_pictures(ctx, "dalle3", workspace.config.media.dalle3, (480, 854))
    assert [p.name for p in made] == ["scene_01.png", "scene_02.png", "scene_03.png"]
    assert [near(colour(p), c) for p, c in zip(made, (RED, GREEN, BLUE), strict=True)] == [True] * 3
    assert fake.paths() == ["/v1/images/generations"] * 3
    first, _second, third = (request["body"] for request in fake.requests)
    assert first["model"] == "picture-model" and first["size"] == "864x1536"
    assert first["prompt"].startswith("a red lighthouse at dawn") and "vertical" in first["prompt"]
    assert third["prompt"].startswith("세 번째 장면입니다.")  # no image_prompt: the text
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert len(logs) == 3 and "3/3" in str(logs[-1].message)  # type: ignore[attr-defined]


def test_imagen3_asks_gemini_for_pictures_at_the_videos_aspect(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake)
    ctx, _logs = with_story(workspace, conn, "imagen3")
    fake.replies = [gemini_picture(png(c)) for c in (RED, GREEN, BLUE)]
    made = generate_pictures(ctx, "imagen3", workspace.config.media.imagen3, (854, 480))
    assert near(colour(made[1]), GREEN)
    request = fake.requests[0]
    assert request["path"].endswith("/models/gemini-2.5-flash-image:generateContent")
    assert request["headers"]["x-goog-api-key"] == GOOGLE_KEY
    generation = request["body"]["generationConfig"]
    assert generation["responseModalities"] == ["IMAGE"]
    assert generation["imageConfig"]["aspectRatio"] == "16:9"  # a horizontal video


def test_a_retry_pays_only_for_the_pictures_not_made_yet(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake)
    ctx, _logs = with_story(workspace, conn, "dalle3")
    config = workspace.config.media.dalle3
    fake.replies = [picture(png(RED)), failure(500, "The server had an error")]
    with pytest.raises(TransientStageError, match="The server had an error"):
        generate_pictures(ctx, "dalle3", config, (480, 854))
    assert (ctx.task_dir / "scene_01.png").is_file()
    assert not list(ctx.task_dir.glob("*.part"))
    fake.replies = [picture(png(GREEN)), picture(png(BLUE))]
    generate_pictures(ctx, "dalle3", config, (480, 854))
    assert len(fake.requests) == 4  # 1 made, 1 failed, then only the 2 missing
    assert near(colour(ctx.task_dir / "scene_01.png"), RED)


@pytest.mark.parametrize(
    ("mode", "reply", "error", "message"),
    [
        (
            "dalle3",
            failure(401, f"Incorrect API key provided: {OPENAI_KEY}", "invalid_api_key"),
            PermanentStageError,
            r"refused the key \(Incorrect API key provided: \*\*\*\): set \$OPENAI_API_KEY",
        ),
        (
            "dalle3",
            failure(404, "The model does not exist", "model_not_found"),
            PermanentStageError,
            r"no model 'gpt-image-2'.*set \[media.dalle3\] model",
        ),
        (
            "dalle3",
            failure(400, "Your request was rejected by the safety system", "moderation_blocked"),
            PermanentStageError,
            "content policy: Your request was rejected",
        ),
        (
            "imagen3",
            gemini_failure(403, f"API key not valid: {GOOGLE_KEY}", "PERMISSION_DENIED"),
            PermanentStageError,
            r"refused the key \(API key not valid: \*\*\*\): set \$GEMINI_API_KEY",
        ),
        (
            "imagen3",
            gemini_failure(404, "models/x is not found", "NOT_FOUND"),
            PermanentStageError,
            r"set \[media.imagen3\] model",
        ),
        (
            "imagen3",
            gemini(block="PROHIBITED_CONTENT"),
            PermanentStageError,
            "content policy: PROHIBITED_CONTENT",
        ),
        (
            "imagen3",
            gemini({"text": "I cannot draw that."}, finish="IMAGE_SAFETY"),
            PermanentStageError,
            "content policy: IMAGE_SAFETY",
        ),
        (
            "imagen3",
            gemini_failure(500, "Internal error", "INTERNAL"),
            TransientStageError,
            "Internal error",
        ),
        ("imagen3", gemini({"text": "no picture"}), TransientStageError, "without a picture"),
        ("dalle3", failure(408, "Request timed out"), TransientStageError, "Request timed out"),
        (
            "dalle3",
            Reply(data={"created": 1, "data": [{"b64_json": "bm90IGFuIGltYWdl"}]}),
            TransientStageError,
            "does not decode",
        ),
    ],
)
def test_what_each_provider_error_leads_to(
    home: Path,
    conn: Connection,
    fake: FakeOpenAI,
    keys: None,
    mode: str,
    reply: Reply,
    error: type[Exception],
    message: str,
) -> None:
    workspace = provider_home(home, fake)
    ctx, _logs = with_story(workspace, conn, mode)
    fake.replies = [reply]
    with pytest.raises(error, match=message) as caught:
        generate_pictures(ctx, mode, workspace.config.generator(mode), (480, 854))  # type: ignore[arg-type]
    assert OPENAI_KEY not in str(caught.value) and GOOGLE_KEY not in str(caught.value)
    assert len(fake.requests) == 1  # the SDKs' own retries are off
    assert not list(ctx.task_dir.glob("scene_*"))


@pytest.mark.parametrize(
    "reply",
    [
        failure(429, "Rate limit reached", "rate_limit_exceeded", retry_after="90"),
        gemini_failure(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED", retry_after="90"),
    ],
)
def test_429_parks_for_the_providers_retry_after(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None, reply: Reply
) -> None:
    workspace = provider_home(home, fake)
    mode = "imagen3" if reply.data else "dalle3"
    ctx, _logs = with_story(workspace, conn, mode)
    fake.replies = [reply]
    before = utcnow()
    with pytest.raises(ParkStageError) as parked:
        generate_pictures(ctx, mode, workspace.config.generator(mode), (480, 854))  # type: ignore[arg-type]
    assert before + timedelta(seconds=89) <= parked.value.until <= utcnow() + timedelta(seconds=91)


def test_the_daily_cap_parks_work_until_midnight_utc_and_counts_what_was_sent(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake, openai="daily_requests = 2\n")
    ctx, _logs = with_story(workspace, conn, "dalle3")
    fake.replies = [picture(png(c)) for c in (RED, GREEN, BLUE)]
    with pytest.raises(ParkStageError) as parked:
        generate_pictures(ctx, "dalle3", workspace.config.media.dalle3, (480, 854))
    now = utcnow()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert parked.value.until == midnight
    assert "2 of 2 requests" in str(parked.value) and "daily_requests" in str(parked.value)
    assert len(fake.requests) == 2
    assert spent(ctx, "openai", now) == (2, pytest.approx(0.10))
    assert sorted(p.name for p in ctx.task_dir.glob("scene_*")) == ["scene_01.png", "scene_02.png"]


def test_the_daily_budget_counts_the_configured_price(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(
        home,
        fake,
        '[media.imagen3]\nprovider = "google"\nmodel = "m"\nprice = 0.25\n',
        google="daily_budget = 0.5\n",
    )
    ctx, _logs = with_story(workspace, conn, "imagen3")
    fake.replies = [gemini_picture(png(c)) for c in (RED, GREEN, BLUE)]
    with pytest.raises(ParkStageError, match=r"\$0.50 of \$0.50"):
        generate_pictures(ctx, "imagen3", workspace.config.media.imagen3, (480, 854))
    assert len(fake.requests) == 2


def test_a_dalle3_task_runs_from_add_to_the_outbox_with_the_pictures_in_its_video(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None, tmp_path: Path
) -> None:
    """Through real ticks: the script (the built-in template), the pictures from the fake
    provider in the video stage's supervisor, the render, the outbox; the spend is in the
    database."""
    workspace = provider_home(home, fake)
    task_id = add(workspace, conn, "Three colours", media_mode="dalle3")
    scenes = len(json.loads(json.dumps(STORY))["scenes"])
    fake.replies = [picture(png(c)) for c in (RED, GREEN, BLUE)] * 4  # enough for any story
    drain(workspace)
    item = last_item(conn, task_id)
    assert (item.queue_type.value, item.status.value) == ("youtube", "completed"), (
        item.error_message
    )
    task_dir = workspace.task_dir(task_id)
    made = sorted(task_dir.glob("scene_*.png"))
    assert len(made) == len(fake.requests) >= scenes
    video = task_dir / "output.mp4"
    assert probe(video, count=False)["size"] == (480, 854)
    picture_of_first = frame(video, 0.5, tmp_path / "f.png")
    assert near(picture_of_first.getpixel((470, 840)), RED, 60)  # type: ignore[arg-type]
    day = utcnow().date().isoformat()
    row = conn.execute(
        "SELECT units FROM youtube_quota WHERE project = 'ai:openai' AND day = ?", (day,)
    ).fetchone()
    assert row is not None and row[0] == len(made)


# -- add refuses what could not be made ---------------------------------------------------------


def test_add_refuses_a_generated_mode_without_its_generator_naming_the_setting(
    home: Path, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home, 'timezone = "UTC"\n')
    workspace = Workspace.load(home)
    init_home(workspace)
    with pytest.raises(UsageError, match=r"needs a key: set \$OPENAI_API_KEY"):
        add(workspace, conn, "no key", media_mode="dalle3")
    with pytest.raises(UsageError, match=r"needs a key: set \$GEMINI_API_KEY"):
        add(workspace, conn, "no key", media_mode="imagen3")
    with pytest.raises(UsageError, match=r"sora2 is made by Google \(veo-3.1-lite-generate-001\)"):
        add(workspace, conn, "no key", media_mode="sora2")
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0

    key = home / "credentials" / "google.key"
    key.parent.mkdir(exist_ok=True)
    key.write_text(GOOGLE_KEY, encoding="utf-8")
    key.chmod(0o600)
    add(workspace, conn, "a key file", media_mode="imagen3")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    add(workspace, conn, "a key in the environment", media_mode="dalle3")
    write_config(home, 'timezone = "UTC"\n[stages.video]\ngenerator = ["{python}", "gen.py"]\n')
    add(Workspace.load(home), conn, "a program of mine", media_mode="sora2")
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 3
    write_config(home, '[media.sora2]\nprovider = "openai"\n')  # a key, but which model?
    with pytest.raises(UsageError, match=r"set \[media.sora2\] model"):
        add(Workspace.load(home), conn, "no model", media_mode="sora2")


def open_key(home: Path, provider: str, mode: int = 0o644) -> Path:
    """``credentials/{provider}.key`` with ``mode`` (0644: others can read it)."""
    key = home / "credentials" / f"{provider}.key"
    key.parent.mkdir(exist_ok=True)
    key.write_text(f"{provider}-secret-0123456789", encoding="utf-8")
    key.chmod(mode)
    return key


def test_add_refuses_a_key_file_others_can_read_as_the_stage_would(
    home: Path, conn: Connection
) -> None:
    """A key file the stage would refuse (chmod 644) is refused by add already, with the
    stage's words: for a generated mode, for crawl's stock photos and for the script writer;
    a task that reads no key is not concerned by it."""
    write_config(home, 'timezone = "UTC"\n')
    workspace = Workspace.load(home)
    init_home(workspace)
    key = open_key(home, "openai")
    with pytest.raises(UsageError, match=r"openai.key is readable by other users: chmod 600"):
        add(workspace, conn, "pictures", media_mode="dalle3")
    result = CliRunner().invoke(app, ["--home", str(home), "add", "t", "--media-mode", "dalle3"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {key} is readable by other users: chmod 600 {key}"
    add(workspace, conn, "cards: no key read", media_mode="crawl")
    key.chmod(0o600)
    add(workspace, conn, "pictures", media_mode="dalle3")

    open_key(home, "google")  # Vertex AI with a project: the stage still reads the key file
    write_config(home, 'timezone = "UTC"\n[media.sora2]\nproject = "my-project"\n')
    with pytest.raises(UsageError, match=r"google.key is readable by other users"):
        add(Workspace.load(home), conn, "clips", media_mode="sora2")

    open_key(home, "pexels")  # crawl takes stock photos once a key is there
    write_config(home, 'timezone = "UTC"\n')
    with pytest.raises(UsageError, match=r"pexels.key is readable by other users"):
        add(Workspace.load(home), conn, "photos", media_mode="crawl")
    add(Workspace.load(home), conn, "my own pictures", media_mode="upload")
    write_config(home, 'timezone = "UTC"\n[stages.image]\nhandler = "cards"\n')
    add(Workspace.load(home), conn, "cards again", media_mode="crawl")

    open_key(home, "openai")  # every task's script, when a model writes it
    write_config(home, 'timezone = "UTC"\n[stages.script]\nhandler = "llm"\n'
                 '[stages.image]\nhandler = "cards"\n')  # fmt: skip
    with pytest.raises(UsageError, match=r"openai.key is readable by other users"):
        add(Workspace.load(home), conn, "a written script", media_mode="upload")
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 4


def test_a_base_url_of_your_own_needs_no_key_and_is_sent_none(
    home: Path, conn: Connection, fake: FakeOpenAI
) -> None:
    """No key and a base_url (a local server): add takes the task, and the requests carry no
    credential at all (no made-up ``Bearer none``)."""
    workspace = provider_home(home, fake, '[media.dalle3]\nmodel = "picture-model"\n')
    ctx, _logs = with_story(workspace, conn, "dalle3")
    fake.replies = [picture(png(c)) for c in (RED, GREEN, BLUE)]
    generate_pictures(ctx, "dalle3", workspace.config.media.dalle3, (480, 854))
    assert len(fake.requests) == 3
    assert all("authorization" not in request["headers"] for request in fake.requests)
    ctx, _logs = with_story(workspace, conn, "imagen3")
    fake.replies = [gemini_picture(png(c)) for c in (RED, GREEN, BLUE)]
    generate_pictures(ctx, "imagen3", workspace.config.media.imagen3, (480, 854))
    assert len(fake.requests) == 6
    assert all("x-goog-api-key" not in request["headers"] for request in fake.requests[3:])


# -- the Gemini script writer -------------------------------------------------------------------


def test_gemini_writes_the_story_against_the_schema_and_invalid_answers_go_back(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake, '[llm]\nprovider = "google"\n')
    fake.replies = [gemini_text("Here you go!"), gemini_text(STORY)]
    task_id = add(workspace, conn, "바다 여행")
    ctx, logs = stage_context(workspace, conn, task_id)
    result = run_llm_stage(ctx)
    assert result.details["model"] == "gemini-3.8-flash"
    written = json.loads((ctx.task_dir / "story.json").read_text(encoding="utf-8"))
    assert written["scenes"][0]["image_prompt"] == "a red lighthouse at dawn"
    first, second = (request["body"] for request in fake.requests)
    assert fake.requests[0]["path"].endswith("/models/gemini-3.8-flash:generateContent")
    assert first["generationConfig"]["responseMimeType"] == "application/json"
    assert "scenes" in first["generationConfig"]["responseJsonSchema"]["required"]
    assert "Korean" in first["systemInstruction"]["parts"][0]["text"]
    assert [turn["role"] for turn in second["contents"]] == ["user", "model", "user"]
    assert "does not follow the schema" in second["contents"][2]["parts"][0]["text"]
    assert len(logs) == 1
    assert spent(ctx, "google", utcnow()) == (2, pytest.approx(0.02))  # both answers counted


def test_gemini_errors_mean_what_openais_do(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    workspace = provider_home(home, fake, '[llm]\nprovider = "google"\nmodel = "old-model"\n')
    task_id = add(workspace, conn, "A title")
    ctx, _logs = stage_context(workspace, conn, task_id)
    fake.replies = [
        gemini_failure(404, "models/old-model is not found", "NOT_FOUND"),
        gemini_failure(503, "overloaded", "UNAVAILABLE", retry_after="30"),
        gemini(block="SAFETY"),
    ]
    with pytest.raises(PermanentStageError, match=r"no model 'old-model'.*set \[llm\] model"):
        run_llm_stage(ctx)
    with pytest.raises(ParkStageError):
        run_llm_stage(ctx)
    with pytest.raises(PermanentStageError, match="content policy: SAFETY"):
        run_llm_stage(ctx)


# -- doctor --------------------------------------------------------------------------------------


def test_doctor_checks_each_configured_provider_with_its_key_and_model(
    home: Path, fake: FakeOpenAI, keys: None
) -> None:
    from autoqueue.cli.doctor import run_checks

    provider_home(home, fake, '[stages.script]\nhandler = "llm"\n[llm]\nprovider = "google"\n')
    fake.replies = [
        gemini_failure(404, "models/gemini-3.8-flash is not found", "NOT_FOUND"),  # llm
        Reply(data={"id": "gpt-image-2", "object": "model", "created": 1, "owned_by": "x"}),
        gemini_failure(401, f"API key not valid: {GOOGLE_KEY}", "UNAUTHENTICATED"),  # imagen3
        Reply(data={"name": "publishers/google/models/veo-3.1-lite-generate-001"}),  # sora2
    ]
    conn = open_db(home)
    day = utcnow().date().isoformat()
    conn.execute(
        "INSERT INTO youtube_quota (day, project, units) VALUES (?, 'ai:openai', 2), "
        "(?, 'ai:openai:usd-micro', 100000)",
        (day, day),
    )
    conn.close()
    checks = {check.name: check for check in run_checks(home, None)}
    assert [r["method"] for r in fake.requests] == ["GET"] * 4
    assert fake.requests[0]["path"].endswith("/models/gemini-3.8-flash")
    assert fake.requests[1]["path"] == "/v1/models/gpt-image-2"
    assert checks["llm"].status == "fail" and "set [llm] model" in checks["llm"].detail
    assert checks["dalle3"].status == "ok" and "gpt-image-2" in checks["dalle3"].detail
    assert checks["dalle3"].detail.endswith("; today (UTC): 2 requests, about $0.10")
    assert checks["imagen3"].status == "fail" and "$GEMINI_API_KEY" in checks["imagen3"].detail
    assert GOOGLE_KEY not in checks["imagen3"].detail
    assert fake.requests[3]["path"].endswith("/publishers/google/models/veo-3.1-lite-generate-001")
    assert checks["sora2"].status == "ok"  # Veo, on Vertex AI


def test_doctor_leaves_out_picture_providers_without_a_key_but_fails_the_script_writers(
    home: Path, fake: FakeOpenAI
) -> None:
    from autoqueue.cli.doctor import run_checks

    write_config(home, '[stages.script]\nhandler = "llm"\n')
    init_home(Workspace.load(home))
    checks = {check.name: check for check in run_checks(home, None)}
    assert not {"dalle3", "imagen3", "sora2"} & set(checks)
    assert checks["llm"].status == "fail" and "$OPENAI_API_KEY" in checks["llm"].detail
    assert fake.requests == []
