"""The ``llm`` script writer, through the real ``openai`` SDK against a fake OpenAI-compatible
server on 127.0.0.1 (tests/fake_openai.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.repo import queue as queue_repo
from autoqueue.stages.llm import run_llm_stage
from autoqueue.stages.providers import spent
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import add, stage_context, write_config
from .fake_openai import FakeOpenAI, Reply, answer, failure

KEY = "sk-test-0123456789abcdef"
STORY = {
    "title": "제주 여행 팁",
    "description": "제주 여행을 위한 세 가지 팁.",
    "tags": ["제주", "여행"],
    "scenes": [
        {"text": "제주 여행, 이것만 알면 됩니다.", "image_prompt": "제주 바다"},
        {"text": "렌터카는 미리 예약하세요.", "image_prompt": "렌터카"},
        {"text": "구독하고 다음 팁도 받아 보세요.", "image_prompt": "구독 버튼"},
    ],
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        yield server


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


def llm_home(home: Path, fake: FakeOpenAI, extra: str = "") -> Workspace:
    write_config(
        home,
        'timezone = "UTC"\n[retry]\nmax_retry = 0\n[stages.script]\nhandler = "llm"\n'
        f'[llm]\nbase_url = "{fake.base_url}"\nmodel = "story-model"\n' + extra,
    )
    init_home(Workspace.load(home))
    return Workspace.load(home)


def context(workspace: Workspace, conn: Connection, title: str, **fields: Any):  # type: ignore[no-untyped-def]
    return stage_context(workspace, conn, add(workspace, conn, title, **fields))


def test_the_model_writes_the_story_in_the_tasks_language_against_the_schema(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [answer(STORY)]
    ctx, _logs = context(
        workspace,
        conn,
        "제주 여행 팁",
        type="product",
        product_info=json.dumps({"name": "제주 렌터카", "price": "3만원"}, ensure_ascii=False),
    )
    result = run_llm_stage(ctx)
    written = json.loads((ctx.task_dir / "story.json").read_text(encoding="utf-8"))
    assert written["scenes"][1]["text"] == "렌터카는 미리 예약하세요."
    assert result.details == {"scenes": 3, "handler": "llm", "model": "story-model"}
    [request] = fake.requests
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "story-model"
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert "scenes" in schema["required"] and "Scene" in schema["$defs"]
    system, user = body["messages"]
    assert "Korean" in system["content"]
    assert "제주 렌터카" in user["content"] and "3만원" in user["content"]  # the product info
    assert "product video" in user["content"]  # the product prompt
    assert spent(ctx, "openai", utcnow()) == (0, 0)  # a server of one's own is not counted


def test_an_invalid_answer_is_sent_back_with_what_is_wrong_then_a_valid_one_is_kept(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [
        answer("Sure! Here is your story: ..."),
        answer({"title": "x", "scenes": []}),
        answer(STORY),
    ]
    ctx, logs = context(workspace, conn, "제주 여행 팁")
    run_llm_stage(ctx)
    assert len(fake.requests) == 3
    last = fake.requests[-1]["body"]["messages"]
    assert last[-1]["role"] == "user" and "scenes" in last[-1]["content"]  # what was wrong
    assert [entry.message.split(":")[0] for entry in logs] == [
        "✍️ answer 1/3 is not a valid story",
        "✍️ answer 2/3 is not a valid story",
    ]


def test_answers_that_never_fit_fail_transiently_after_the_configured_attempts(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake, "attempts = 2\n")
    fake.replies = [answer("{}"), answer('{"title": ""}')]
    ctx, _logs = context(workspace, conn, "A title")
    with pytest.raises(TransientStageError, match="gave no valid story in 2 answers"):
        run_llm_stage(ctx)
    assert len(fake.requests) == 2
    assert not (ctx.task_dir / "story.json").exists()


def test_a_refused_key_fails_permanently_naming_the_setting_and_never_showing_the_key(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [failure(401, f"Incorrect API key provided: {KEY}.", "invalid_api_key")]
    ctx, _logs = context(workspace, conn, "A title")
    with pytest.raises(PermanentStageError) as caught:
        run_llm_stage(ctx)
    message = str(caught.value)
    assert "$OPENAI_API_KEY" in message and "credentials/openai.key" in message
    assert KEY not in message and "***" in message
    assert len(fake.requests) == 1  # the SDK's own retries are off


def test_an_unknown_model_fails_permanently_naming_the_setting(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [failure(404, "The model `story-model` does not exist", "model_not_found")]
    ctx, _logs = context(workspace, conn, "A title")
    with pytest.raises(PermanentStageError, match=r"no model 'story-model'.*set \[llm\] model"):
        run_llm_stage(ctx)


def test_429_parks_until_the_providers_retry_after_and_5xx_is_transient(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [
        failure(429, "Rate limit reached", "rate_limit_exceeded", retry_after="120"),
        failure(503, "overloaded", retry_after="30"),
        failure(500, "The server had an error"),
    ]
    ctx, _logs = context(workspace, conn, "A title")
    before = utcnow()
    with pytest.raises(ParkStageError) as parked:
        run_llm_stage(ctx)
    assert (
        before + timedelta(seconds=119) <= parked.value.until <= utcnow() + timedelta(seconds=121)
    )
    assert "wait 120 s" in str(parked.value)
    with pytest.raises(ParkStageError) as overloaded:
        run_llm_stage(ctx)
    assert overloaded.value.until <= utcnow() + timedelta(seconds=31)
    with pytest.raises(TransientStageError, match="The server had an error"):
        run_llm_stage(ctx)
    assert len(fake.requests) == 3  # one request each: no hidden retries


def test_a_content_policy_refusal_fails_permanently_with_the_providers_reason(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    fake.replies = [
        failure(400, "Your request was rejected by the safety system.", "content_policy_violation"),
        Reply(content=None, refusal="I can't help with that request."),
    ]
    ctx, _logs = context(workspace, conn, "A title")
    with pytest.raises(PermanentStageError, match="content policy: Your request was rejected"):
        run_llm_stage(ctx)
    with pytest.raises(PermanentStageError, match="content policy: I can't help"):
        run_llm_stage(ctx)


def test_a_local_server_needs_no_key_and_a_missing_key_says_what_to_set(
    home: Path, conn: Connection, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    workspace = llm_home(home, fake)  # base_url: an Ollama-like server
    fake.replies = [answer(STORY)]
    ctx, _logs = context(workspace, conn, "제주 여행 팁")
    run_llm_stage(ctx)
    assert (ctx.task_dir / "story.json").is_file()

    write_config(home, 'timezone = "UTC"\n[stages.script]\nhandler = "llm"\n')
    ctx, _logs = context(Workspace.load(home), conn, "No key")
    with pytest.raises(PermanentStageError, match=r"needs a key: set \$OPENAI_API_KEY"):
        run_llm_stage(ctx)


def test_the_key_file_must_be_private(
    home: Path, conn: Connection, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    workspace = llm_home(home, fake)
    ctx, _logs = context(workspace, conn, "A title")  # before the key: add would refuse it
    secret = home / "credentials" / "openai.key"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(KEY + "\n", encoding="utf-8")
    if os.name != "nt":
        secret.chmod(0o644)
        with pytest.raises(PermanentStageError, match="readable by other users: chmod 600"):
            run_llm_stage(ctx)
    secret.chmod(0o600)
    fake.replies = [answer(STORY)]
    run_llm_stage(ctx)
    assert fake.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"


def test_the_homes_own_prompt_replaces_the_built_in_one(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    workspace = llm_home(home, fake)
    (home / "prompts").mkdir()
    (home / "prompts" / "shortform.txt").write_text(
        "My channel's voice. Topic: {title} ({type}), in {language}.", encoding="utf-8"
    )
    fake.replies = [answer(STORY)]
    ctx, _logs = context(workspace, conn, "Three tips", type="shortform")
    run_llm_stage(ctx)
    user = fake.requests[-1]["body"]["messages"][1]["content"]
    assert user == "My channel's voice. Topic: Three tips (shortform), in English."


def test_the_script_stage_runs_the_model_in_the_queue_and_the_key_stays_out_of_the_logs(
    home: Path, conn: Connection, fake: FakeOpenAI, key: str
) -> None:
    """Through a real tick: the attempt's supervisor reaches the fake server with the key from
    the environment; a 401 fails the item permanently and no log row holds the key."""
    from .helpers.homes import drain

    workspace = llm_home(home, fake)
    fake.replies = [failure(401, f"Incorrect API key provided: {KEY}.", "invalid_api_key")]
    task_id = add(workspace, conn, "A title")
    drain(workspace)
    item = queue_repo.for_task(conn, task_id)[-1]
    assert (item.queue_type.value, item.status.value) == ("script", "failed")
    assert "refused the key" in str(item.error_message)
    rows = [str(row[0]) for row in conn.execute("SELECT message FROM task_logs")]
    assert rows and not [row for row in rows if KEY in row]
    assert KEY not in str(item.error_message)
