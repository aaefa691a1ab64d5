"""The voice chain (``voices/chain.py``): engines tried in order, one voice per video, a failing
engine skipped with a warning and rested, Korean made speakable before any engine, the engine's
word times mapped back onto the written words, lines kept so nothing is paid for twice. The
``edge`` engine runs for real (the edge-tts client) against tests/fake_edge.py on 127.0.0.1."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from autoqueue.errors import TransientStageError
from autoqueue.kinds import LogLevel, QueueType
from autoqueue.media.espeak import Word
from autoqueue.repo import queue as queue_repo
from autoqueue.store.db import Connection
from autoqueue.voices import chain
from autoqueue.workspace import Workspace

from .conftest import add, stage_context
from .fake_edge import FakeEdge
from .helpers.homes import drain, small_home

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PROXIES = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEdge]:
    """A fake Edge service that speaks whatever it is asked (with eSpeak NG)."""
    for name in PROXIES:  # aiohttp reads them: the fake is reached directly
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    server = FakeEdge(b"", [], echo_with=FFMPEG)
    server.start()
    yield server
    server.stop()


def edge_home(home: Path, fake: FakeEdge, chain_setting: str, cooldown: int = 600) -> Workspace:
    return small_home(
        home,
        f"narration = {chain_setting}\n[voices]\ncooldown = {cooldown}\n"
        f'[voices.edge]\nendpoint = "{fake.url}"\ntimeout = 20\n',
    )


def lines_of(*texts: str) -> list[chain.Line]:
    return [chain.Line(text) for text in texts]


@pytest.mark.no_db
def test_the_engines_words_are_mapped_back_onto_the_written_ones() -> None:
    written = ["배터리는", "8시간,", "USB-C로", "충전합니다."]
    spoken = ["배터리는", "여덟 시간,", "유에스비 씨로", "충전합니다."]
    said = [
        Word("배터리는", 0.10, 0.60), Word("여덟", 0.70, 0.95), Word("시간", 0.95, 1.30),
        Word("유에스비", 1.50, 1.90), Word("씨로", 1.90, 2.10), Word("충전합니다", 2.30, 3.00),
    ]  # fmt: skip
    words = chain.align(written, spoken, said, 3.2)
    assert [w.text for w in words] == written  # the captions show what was written
    assert [w.start for w in words] == [0.10, 0.70, 1.50, 2.30]
    assert [w.end for w in words] == [0.70, 1.50, 2.30, 3.2]
    # A word the engine said nothing for (or that it spelled otherwise) falls between its
    # neighbours, never before the one it follows.
    gappy = chain.align(written, spoken, [said[0], said[-1]], 3.2)
    assert gappy[0].start == 0.10 and gappy[-1].start == 2.30
    assert 0.10 < gappy[1].start < gappy[2].start < 2.30


def test_edge_speaks_korean_made_speakable_and_the_captions_follow_its_words(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    workspace = edge_home(home, fake, '["edge", "espeak"]')
    task_id = add(workspace, conn, "가습기")
    ctx, logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    text = "한 번 충전으로 8시간, USB-C로 충전하고 가격은 39,000원입니다."
    (speech,) = chain.speak_lines(ctx, config, FFMPEG, lines_of(text))
    # The engine was asked for what a Korean voice should say, not for what is written...
    (asked,) = fake.received
    assert "여덟 시간" in asked.text and "유에스비 씨" in asked.text
    assert "삼만 구천 원" in asked.text and "8" not in asked.text
    assert asked.voice.endswith("(ko-KR, SunHiNeural)")
    # ...and the captions have the written words, at the times the engine said them.
    assert [w.text for w in speech.words] == text.split()
    assert speech.rate == chain.SAMPLE_RATE and speech.seconds > 2.0
    assert not [row for row in logs if row.level is not LogLevel.INFO]


def test_caption_times_follow_the_voice_within_120_ms(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    """Against the true word times (what the fake reported, moved as the line was trimmed):
    the engine's own times, mapped back; and the times estimated from the audio alone, for an
    engine that gives none."""
    from .fake_edge import spoken_mp3

    workspace = edge_home(home, fake, '["edge"]')
    task_id = add(workspace, conn, "Timing")
    ctx, _logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    text = "Our town has a small market, and every Sunday the farmers bring fresh bread."
    (speech,) = chain.speak_lines(ctx, config, FFMPEG, lines_of(text))
    _mp3, truth, _seconds = spoken_mp3(FFMPEG, text, "en-us")
    true_starts = [b.offset / 1e7 for b in truth]
    shift = true_starts[0] - speech.words[0].start  # what trimming the lead took off
    errors = [abs(w.start + shift - t) for w, t in zip(speech.words, true_starts, strict=True)]
    assert statistics.median(errors) <= 0.12, errors
    estimated = chain.estimate(chain.Speech(speech.pcm, speech.rate), text.split())
    errors = [abs(w.start + shift - t) for w, t in zip(estimated, true_starts, strict=True)]
    assert statistics.median(errors) <= 0.12, errors


def test_a_refused_engine_falls_to_the_next_with_a_warning_and_rests(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    fake.mode = "refuse"
    workspace = edge_home(home, fake, '["edge", "espeak"]')
    task_id = add(workspace, conn, "Refused")
    ctx, logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    lines = lines_of("The first line.", "The second line.")
    first = chain.speak_lines(ctx, config, FFMPEG, lines)
    assert len(first) == 2 and all(speech.seconds > 0.5 for speech in first)
    # One try for the whole video, not one per line (edge-tts itself tries a 403 twice: it
    # corrects its clock and asks again).
    assert fake.handshakes == 2
    (warning,) = [row for row in logs if row.level is LogLevel.WARN]
    assert "edge" in warning.message and "403" in warning.message
    assert "espeak" in warning.message  # who speaks instead
    # The next video (the next tick, a minute later) does not ask the refused service again.
    logs.clear()
    again = chain.speak_lines(ctx, config, FFMPEG, lines)
    assert fake.handshakes == 2 and len(again) == 2
    assert (workspace.home / chain.REST_FILE).is_file()
    (resting,) = logs  # said once, quietly: it was warned about when it failed
    assert resting.level is LogLevel.INFO and "resting until 10 min from now" in resting.message


def test_with_no_cooldown_a_failed_engine_is_asked_again(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    fake.mode = "refuse"
    workspace = edge_home(home, fake, '["edge", "espeak"]', cooldown=0)
    task_id = add(workspace, conn, "Again")
    ctx, _logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    chain.speak_lines(ctx, config, FFMPEG, lines_of("One line."))
    tried = fake.handshakes
    chain.speak_lines(ctx, config, FFMPEG, lines_of("One line."))
    assert fake.handshakes == 2 * tried > 0


def test_when_every_engine_fails_the_stage_fails_transiently_naming_each(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    fake.mode = "refuse"
    workspace = edge_home(home, fake, '["edge"]')
    task_id = add(workspace, conn, "Nobody")
    ctx, _logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    with pytest.raises(TransientStageError, match=r"no voice engine could speak: edge: .*403"):
        chain.speak_lines(ctx, config, FFMPEG, lines_of("One line."))


def test_a_line_said_once_is_never_asked_for_again(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    """A retry, or an attempt run again after a crash, takes the lines from voice.cache/."""
    workspace = edge_home(home, fake, '["edge"]')
    task_id = add(workspace, conn, "Cached")
    ctx, _logs = stage_context(workspace, conn, task_id)
    config = workspace.config.stage(QueueType.VIDEO)
    lines = lines_of("The first line.", "The second line.")
    first = chain.speak_lines(ctx, config, FFMPEG, lines)
    assert len(fake.received) == 2
    started = time.monotonic()
    second = chain.speak_lines(ctx, config, FFMPEG, lines)
    assert len(fake.received) == 2 and time.monotonic() - started < 5
    assert [s.pcm for s in second] == [s.pcm for s in first]
    assert [s.words for s in second] == [s.words for s in first]
    assert len(list((ctx.task_dir / chain.CACHE_FOLDER).glob("*.pcm"))) == 2


def test_a_tick_renders_with_the_next_voice_when_edge_is_refused(
    home: Path, conn: Connection, fake: FakeEdge
) -> None:
    fake.mode = "refuse"
    workspace = edge_home(home, fake, '["edge", "espeak"]')
    task_id = add(workspace, conn, "A voice that falls back", type="longform")
    drain(workspace)
    items = queue_repo.for_task(conn, task_id)
    assert [item.status.value for item in items] == ["completed"] * len(items)
    rows = conn.execute(
        "SELECT level, message FROM task_logs WHERE task_id = ? AND level = 'warn'", (task_id,)
    ).fetchall()
    assert any("voice edge could not speak" in row[1] and "403" in row[1] for row in rows), rows
    assert (workspace.task_dir(task_id) / "voice.wav").is_file()
