"""The paid voices (voices/paid.py, voices/elevenlabs.py) through their real SDKs (``openai``,
``google-genai``, ``elevenlabs``) against fakes on 127.0.0.1 (tests/fake_openai.py,
tests/fake_elevenlabs.py): what each one sends and what it hands back, each failure an
``EngineUnavailable`` with a one-line reason that names the fix and never holds the key, and the
daily spend ledger that OpenAI and Google share with the pictures (counted before each request;
past a cap, no request and the next voice speaks)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from autoqueue.media.espeak import Word
from autoqueue.stages.base import StageContext
from autoqueue.stages.providers import spent
from autoqueue.store.db import Connection
from autoqueue.store.stage_store import DatabaseStore
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.voices.elevenlabs import alignment_words, elevenlabs_engine
from autoqueue.voices.engine import EngineUnavailable, VoiceRequest
from autoqueue.voices.paid import OPENAI_PRICE, google_engine, openai_engine
from autoqueue.workspace import Workspace

from .conftest import add, stage_context, write_config
from .fake_elevenlabs import elevenlabs_failure, elevenlabs_speech
from .fake_openai import (
    FakeOpenAI,
    Reply,
    failure,
    gemini,
    gemini_failure,
    gemini_speech,
    speech,
    spoken,
)

OPENAI_KEY = "sk-test-voice-0123456789"
GOOGLE_KEY = "AIza-test-voice-0123456789"
ELEVENLABS_KEY = "el-test-voice-0123456789abcdef"
LINE = "Hello there, this is a narrated line."
KEYS = (OPENAI_KEY, GOOGLE_KEY, ELEVENLABS_KEY)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        yield server


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GOOGLE_KEY)
    monkeypatch.setenv("ELEVENLABS_API_KEY", ELEVENLABS_KEY)


def line(text: str = LINE, *, voice: str | None = None, pace: int = 175) -> VoiceRequest:
    import imageio_ffmpeg

    return VoiceRequest(text, "en", voice, pace, imageio_ffmpeg.get_ffmpeg_exe())


@contextmanager
def voice_context(home: Path, conn: Connection, config: str) -> Iterator[StageContext]:
    """A stage's context on a task of ``config``'s home, its ledger in the test's database."""
    write_config(home, 'timezone = "UTC"\n' + config)
    init_home(Workspace.load(home))
    workspace = Workspace.load(home)
    ctx, _logs = stage_context(workspace, conn, add(workspace, conn))
    store = DatabaseStore(workspace, ctx.item.id, patience=10)
    try:
        yield dataclasses.replace(ctx, store=store)
    finally:
        if store._conn is not None:  # the store has no close(): a stage's ends with its process
            store._conn.close()


@pytest.fixture
def ctx(home: Path, conn: Connection, fake: FakeOpenAI) -> Iterator[StageContext]:
    """Both providers at the fake."""
    config = (
        f'[providers.openai]\nbase_url = "{fake.base_url}"\n'
        f'[providers.google]\nbase_url = "{fake.root}"\n'
    )
    with voice_context(home, conn, config) as ctx:
        yield ctx


def ledger(conn: Connection, provider: str) -> tuple[int, int]:
    """Today's requests and dollars in millionths of ``provider``, as the database has them."""
    day = utcnow().date().isoformat()
    rows = dict(
        conn.execute(
            "SELECT project, units FROM youtube_quota WHERE day = ? AND project LIKE ?",
            (day, f"ai:{provider}%"),
        ).fetchall()
    )
    return rows.get(f"ai:{provider}", 0), rows.get(f"ai:{provider}:usd-micro", 0)


def unavailable(engine: Any, request: VoiceRequest | None = None) -> EngineUnavailable:
    """The EngineUnavailable the engine raises; its reason is one line without a key."""
    with pytest.raises(EngineUnavailable) as caught:
        engine(request or line())
    reason = caught.value.reason
    assert "\n" not in reason and not any(key in str(caught.value) for key in KEYS), reason
    return caught.value


# -- OpenAI --------------------------------------------------------------------------------------


def test_openai_speaks_a_line_through_the_speech_endpoint_and_counts_it_first(
    ctx: StageContext, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    pcm, _words = spoken(LINE)
    fake.replies = [speech(pcm), speech(pcm)]
    said = openai_engine(ctx)(line())
    assert (said.rate, said.pcm, said.words) == (24_000, pcm, [])
    assert 1.0 < said.seconds < 5.0
    request = fake.requests[0]
    assert request["path"] == "/v1/audio/speech"
    assert request["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request["body"] == {
        "model": "gpt-4o-mini-tts",
        "voice": "alloy",  # English's voice
        "input": LINE,
        "response_format": "pcm",
    }
    assert ledger(conn, "openai") == (1, round(len(LINE) * OPENAI_PRICE * 1_000_000))

    engine = openai_engine(ctx, model="tts-1", voice="nova", price_per_char=0.001)
    engine(line(pace=210))
    body = fake.requests[1]["body"]
    assert (body["model"], body["voice"], body["speed"]) == ("tts-1", "nova", 1.2)
    assert spent(ctx, "openai", utcnow()) == (2, pytest.approx(len(LINE) * (0.001 + OPENAI_PRICE)))


def test_openai_on_a_server_of_the_users_own_needs_no_key_and_counts_nothing(
    ctx: StageContext, conn: Connection, fake: FakeOpenAI
) -> None:
    fake.replies = [speech(spoken(LINE)[0])]
    said = openai_engine(ctx, base_url=fake.base_url, model="kokoro")(line(voice="af_sky"))
    assert said.seconds > 1.0
    assert "authorization" not in fake.requests[0]["headers"]  # no made-up key either
    assert ledger(conn, "openai") == (0, 0)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            failure(401, f"Incorrect API key provided: {OPENAI_KEY}", "invalid_api_key"),
            r"refused the key \(Incorrect API key provided: \*\*\*\): set \$OPENAI_API_KEY or "
            r"write the key to credentials/openai.key",
        ),
        (
            failure(404, "The model 'old-tts' does not exist", "model_not_found"),
            r"has no model 'old-tts' or voice 'alloy' .*set \[voices.openai\] model / voice",
        ),
        (failure(500, "The server had an error"), r"failed \(500\): The server had an error"),
        (failure(429, "Rate limit reached", retry_after="20"), r"slow down \(429\)"),
        (
            failure(400, "Invalid voice 'x'\nat line 1"),
            r"refused the request: Invalid voice 'x' at",
        ),
        (speech(b""), "answered without audio"),
    ],
)
def test_what_each_openai_failure_says(
    ctx: StageContext, fake: FakeOpenAI, keys: None, reply: Reply, reason: str
) -> None:
    fake.replies = [reply]
    refused = unavailable(openai_engine(ctx, model="old-tts"))
    assert refused.engine == "openai"
    assert refused.reason.startswith(fake.base_url)  # where: the configured endpoint
    assert re.search(reason, refused.reason), refused.reason
    assert len(fake.requests) == 1  # the SDK's own retries are off


def test_openai_gives_up_on_a_server_that_does_not_answer_in_time(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    def slow(method: str, path: str, body: dict[str, Any]) -> Reply:
        time.sleep(2)
        return speech(b"\0\0")

    fake.respond = slow
    with voice_context(
        home, conn, f'[providers.openai]\nbase_url = "{fake.base_url}"\ntimeout = 0.5\n'
    ) as ctx:
        refused = unavailable(openai_engine(ctx))
        assert refused.reason == f"{fake.base_url} did not answer in 0.5 s"


def test_without_a_key_openai_and_google_send_nothing_and_say_where_the_key_goes(
    home: Path, conn: Connection, fake: FakeOpenAI
) -> None:
    with voice_context(home, conn, "") as ctx:  # the real services: no request may leave
        refused = unavailable(openai_engine(ctx))
        assert refused.reason == (
            "no key: set $OPENAI_API_KEY or write the key to credentials/openai.key in the home"
        )
        refused = unavailable(google_engine(ctx))
        assert "no key: set $GEMINI_API_KEY" in refused.reason
        assert "credentials/google.key" in refused.reason
        assert ledger(conn, "openai") == (0, 0)
    assert fake.requests == []


def test_the_openai_daily_cap_lets_the_next_voice_speak_without_a_request(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    fake.replies = [speech(spoken(LINE)[0])] * 2
    with voice_context(
        home, conn, f'[providers.openai]\nbase_url = "{fake.base_url}"\ndaily_requests = 1\n'
    ) as ctx:
        engine = openai_engine(ctx)
        engine(line())
        refused = unavailable(engine)
        assert refused.reason == (
            "the daily OpenAI cap is reached (1 of 1 requests): [providers.openai] "
            "daily_requests / daily_budget"
        )
    assert len(fake.requests) == 1
    assert ledger(conn, "openai")[0] == 1


def test_the_openai_budget_is_counted_per_character_before_the_request(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    fake.replies = [failure(500, "The server had an error")]
    with voice_context(
        home, conn, f'[providers.openai]\nbase_url = "{fake.base_url}"\ndaily_budget = 0.005\n'
    ) as ctx:
        engine = openai_engine(ctx, price_per_char=0.0001)  # LINE: 37 characters, $0.0037
        assert "failed (500)" in unavailable(engine).reason
        assert ledger(conn, "openai") == (1, 3700)  # counted although the request failed
        refused = unavailable(engine)  # a second line would pass the budget
        assert refused.reason.startswith("the daily OpenAI cap is reached ($0.00 of $0.01, ")
    assert len(fake.requests) == 1


# -- Google --------------------------------------------------------------------------------------


def prebuilt_voice(body: dict[str, Any]) -> str:
    """The prebuilt voice a Gemini request asks for (google-genai sends the speech config's
    fields as Python spells them, which the API takes as well as camelCase)."""

    def field(found: dict[str, Any], camel: str, snake: str) -> Any:
        return found[camel] if camel in found else found[snake]

    speech = body["generationConfig"]["speechConfig"]
    voice = field(field(speech, "voiceConfig", "voice_config"), "prebuiltVoiceConfig",
                  "prebuilt_voice_config")  # fmt: skip
    return str(field(voice, "voiceName", "voice_name"))


def test_gemini_speaks_a_line_with_a_prebuilt_voice(
    ctx: StageContext, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    pcm, _words = spoken(LINE)
    fake.replies = [gemini_speech(pcm)]
    said = google_engine(ctx)(line())
    assert (said.rate, said.pcm, said.words) == (24_000, pcm, [])
    request = fake.requests[0]
    assert request["path"].endswith("/models/gemini-3.8-flash-tts:generateContent")
    assert request["headers"]["x-goog-api-key"] == GOOGLE_KEY
    assert request["body"]["contents"][0]["parts"][0]["text"] == LINE
    generation = request["body"]["generationConfig"]
    assert generation["responseModalities"] == ["AUDIO"]
    assert prebuilt_voice(request["body"]) == "Kore"
    assert ledger(conn, "google") == (1, round(len(LINE) * 20e-6 * 1_000_000))


def test_gemini_audio_at_another_rate_keeps_its_rate(
    ctx: StageContext, fake: FakeOpenAI, keys: None
) -> None:
    pcm, _words = spoken(LINE, rate=16_000)
    fake.replies = [gemini_speech(pcm, rate=16_000)]
    said = google_engine(ctx, model="m", voice="Puck")(line())
    assert (said.rate, said.pcm) == (16_000, pcm)
    assert prebuilt_voice(fake.requests[0]["body"]) == "Puck"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            gemini_failure(403, f"API key not valid: {GOOGLE_KEY}", "PERMISSION_DENIED"),
            r"refused the key \(API key not valid: \*\*\*\): set \$GEMINI_API_KEY or write the "
            r"key to credentials/google.key",
        ),
        (
            gemini_failure(
                400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"
            ),
            r"refused the key .*\$GEMINI_API_KEY",
        ),
        (
            gemini_failure(404, "models/old-tts is not found", "NOT_FOUND"),
            r"has no model 'old-tts' or voice 'Kore' .*set \[voices.google\] model / voice",
        ),
        (gemini_failure(500, "Internal error", "INTERNAL"), r"failed \(500\): Internal error"),
        (gemini_failure(429, "Resource exhausted", "RESOURCE_EXHAUSTED"), r"slow down \(429\)"),
        (gemini(block="PROHIBITED_CONTENT"), "content policy: PROHIBITED_CONTENT"),
        (gemini({"text": "I will not read that."}), "answered without audio"),
        (Reply(raw=b"<html>a proxy's page</html>", content_type="text/html"), "cannot be read"),
    ],
)
def test_what_each_gemini_failure_says(
    ctx: StageContext, fake: FakeOpenAI, keys: None, reply: Reply, reason: str
) -> None:
    fake.replies = [reply]
    refused = unavailable(google_engine(ctx, model="old-tts"))
    assert refused.engine == "google"
    assert re.search(reason, refused.reason), refused.reason
    assert len(fake.requests) == 1


# -- ElevenLabs ----------------------------------------------------------------------------------


def eleven(fake: FakeOpenAI, home: Path, **settings: Any) -> Any:
    return elevenlabs_engine(home, base_url=fake.root, **settings)


@pytest.mark.no_db
def test_elevenlabs_speaks_a_line_with_each_words_time(
    home: Path, fake: FakeOpenAI, keys: None
) -> None:
    reply, pcm, aligned = elevenlabs_speech(LINE)
    fake.replies = [reply]
    said = eleven(fake, home)(line())
    assert (said.rate, said.pcm) == (24_000, pcm)
    request = fake.requests[0]
    assert request["path"] == (
        "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/with-timestamps?output_format=pcm_24000"
    )
    assert request["headers"]["xi-api-key"] == ELEVENLABS_KEY
    assert request["body"] == {"text": LINE, "model_id": "eleven_multilingual_v2"}
    assert [word.text for word in said.words] == LINE.split()
    starts, ends = aligned["character_start_times_seconds"], aligned["character_end_times_seconds"]
    assert said.words[0] == Word("Hello", starts[0], ends[4])
    assert said.words[1] == Word("there,", starts[6], ends[11])
    assert said.words[-1].end == ends[-1] and said.words[-1].end <= said.seconds
    assert all(a.end <= b.start for a, b in zip(said.words, said.words[1:], strict=False))


@pytest.mark.no_db
def test_elevenlabs_reads_a_private_key_file_and_takes_the_voice_asked_for(
    home: Path, fake: FakeOpenAI
) -> None:
    key = home / "credentials" / "elevenlabs.key"
    key.parent.mkdir()
    key.write_text(ELEVENLABS_KEY + "\n", encoding="utf-8")
    key.chmod(0o600)
    fake.replies = [elevenlabs_speech(LINE)[0]]
    eleven(fake, home, model="eleven_v3")(line(voice="my-voice"))
    request = fake.requests[0]
    assert request["path"].startswith("/v1/text-to-speech/my-voice/with-timestamps")
    assert request["headers"]["xi-api-key"] == ELEVENLABS_KEY
    assert request["body"]["model_id"] == "eleven_v3"


@pytest.mark.no_db
def test_without_a_key_elevenlabs_sends_nothing_and_refuses_a_key_file_others_can_read(
    home: Path, fake: FakeOpenAI
) -> None:
    refused = unavailable(elevenlabs_engine(home))  # the real service: no request may leave
    assert refused.reason == (
        "no key: set $ELEVENLABS_API_KEY or write the key to credentials/elevenlabs.key in the home"
    )
    key = home / "credentials" / "elevenlabs.key"
    key.parent.mkdir()
    key.write_text(ELEVENLABS_KEY, encoding="utf-8")
    key.chmod(0o644)
    refused = unavailable(eleven(fake, home))
    assert "readable by other users: chmod 600" in refused.reason
    assert fake.requests == []


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            elevenlabs_failure(401, "invalid_api_key", f"Invalid API key: {ELEVENLABS_KEY}"),
            r"refused the key \(Invalid API key: \*\*\*\): set \$ELEVENLABS_API_KEY or write "
            r"the key to credentials/elevenlabs.key",
        ),
        (
            elevenlabs_failure(404, "voice_not_found", "A voice with the voice_id x was not found"),
            r"has no voice 'JBFqnCBsd6RMkjVDRZzb' or model 'eleven_multilingual_v2' .*set "
            r"\[voices.elevenlabs\] voice / model",
        ),
        (elevenlabs_failure(500, "internal", "Something broke"), r"failed \(500\): Something"),
        (elevenlabs_failure(429, "too_many_concurrent_requests", "Busy"), r"slow down \(429\)"),
        (
            elevenlabs_failure(401, "quota_exceeded", "This request exceeds your quota"),
            "has no credits left for this line",
        ),
        (Reply(data={"audio_base64": "", "alignment": None}), "answered without audio"),
        (Reply(data={"alignment": None}), "answered without audio"),
        (Reply(raw=b"<html>a proxy's page</html>", content_type="text/html"), "cannot be read"),
    ],
)
def test_what_each_elevenlabs_failure_says(
    home: Path, fake: FakeOpenAI, keys: None, reply: Reply, reason: str
) -> None:
    fake.replies = [reply]
    refused = unavailable(eleven(fake, home))
    assert refused.engine == "elevenlabs"
    assert re.search(reason, refused.reason), refused.reason
    assert len(fake.requests) == 1  # the SDK would retry a 429 or a 500 twice by itself


@pytest.mark.no_db
def test_elevenlabs_unreachable_or_too_slow_is_unavailable(
    home: Path, fake: FakeOpenAI, keys: None
) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = unavailable(elevenlabs_engine(home, base_url=f"http://127.0.0.1:{port}"))
    assert refused.reason.startswith(f"http://127.0.0.1:{port} cannot be reached: ")

    def slow(method: str, path: str, body: dict[str, Any]) -> Reply:
        time.sleep(2)
        return elevenlabs_failure(500, "late", "late")

    fake.respond = slow
    refused = unavailable(eleven(fake, home, timeout=0.5))
    assert refused.reason == f"{fake.root} did not answer in 0.5 s"
    assert len(fake.requests) == 1


@pytest.mark.no_db
def test_alignment_words_are_the_characters_between_spaces() -> None:
    characters = list(" Hi,  you!")
    starts = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    ends = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert alignment_words(characters, starts, ends) == [
        Word("Hi,", 0.1, 0.4),
        Word("you!", 0.6, 1.0),
    ]
    assert alignment_words([], [], []) == []


# -- through the chain -----------------------------------------------------------------------------


def test_the_chain_reaches_openai_with_its_voices_settings_and_falls_to_espeak_past_the_cap(
    home: Path, conn: Connection, fake: FakeOpenAI, keys: None
) -> None:
    """[voices.openai] reaches the request (model, the voice for the line's language, the
    price per 1,000 characters counted in the ledger); past the cap eSpeak speaks instead."""
    import imageio_ffmpeg

    from autoqueue.config import StageConfig
    from autoqueue.voices import chain

    config = (
        f'[providers.openai]\nbase_url = "{fake.base_url}"\ndaily_budget = 0.005\n'
        '[voices.openai]\nmodel = "tts-next"\nvoice = { en = "ash", ko = "nova" }\n'
        "price = 0.1\n"
    )
    pcm, _words = spoken(LINE)
    fake.replies = [speech(pcm)]
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    with voice_context(home, conn, config) as ctx:
        settings = StageConfig(narration=["openai", "espeak"])
        (said,) = chain.speak_lines(ctx, settings, exe, [chain.Line(LINE)])
        assert [w.text for w in said.words] == LINE.split()  # estimated from the audio
        body = fake.requests[0]["body"]
        assert (body["model"], body["voice"], body["input"]) == ("tts-next", "ash", LINE)
        assert ledger(conn, "openai") == (1, round(len(LINE) * 0.1 / 1000 * 1_000_000))
        # The budget cannot pay for another line: eSpeak says it, and OpenAI is not asked.
        (again,) = chain.speak_lines(ctx, settings, exe, [chain.Line(LINE + " Again.")])
        assert len(fake.requests) == 1 and again.seconds > 1.0
