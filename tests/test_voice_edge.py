"""The edge voice engine, the real edge-tts client against a fake of its service (fake_edge.py)
on 127.0.0.1, and the real ffmpeg decoding what it sends."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import imageio_ffmpeg
import pytest

from autoqueue.voices import edge
from autoqueue.voices.engine import EngineUnavailable, VoiceRequest, decode_audio

from .fake_edge import Boundary, FakeEdge, spoken_mp3

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
KOREAN = "안녕하세요, 오늘은 날씨가 좋습니다."
PROXIES = ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy")

pytestmark = pytest.mark.no_db


@pytest.fixture(scope="module")
def spoken() -> tuple[bytes, list[Boundary], float]:
    """The fake's MP3 (eSpeak NG saying KOREAN), its words, its length; made once."""
    return spoken_mp3(FFMPEG, KOREAN)


@pytest.fixture
def fake(
    spoken: tuple[bytes, list[Boundary], float], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeEdge]:
    for name in PROXIES:  # aiohttp reads them (trust_env): the fake is reached directly
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    server = FakeEdge(spoken[0], spoken[1])
    server.start()
    yield server
    server.stop()


def request(
    text: str = KOREAN, language: str = "ko", voice: str | None = None, words_per_minute: int = 175
) -> VoiceRequest:
    return VoiceRequest(text, language, voice, words_per_minute, FFMPEG)


def test_korean_with_the_default_voice(
    fake: FakeEdge, spoken: tuple[bytes, list[Boundary], float]
) -> None:
    mp3, boundaries, seconds = spoken
    speech = edge.speak(request(), endpoint=fake.url, rate=48000)

    assert speech.rate == 48000
    assert speech.pcm == decode_audio(FFMPEG, mp3, 48000)  # every chunk, in order
    assert speech.seconds == pytest.approx(seconds, abs=0.1)
    assert [w.text for w in speech.words] == [b.text for b in boundaries]
    assert [w.start for w in speech.words] == [b.offset / 1e7 for b in boundaries]
    assert [w.end for w in speech.words] == [(b.offset + b.duration) / 1e7 for b in boundaries]
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts) > 3

    (received,) = fake.received
    assert received.voice == "Microsoft Server Speech Text to Speech Voice (ko-KR, SunHiNeural)"
    assert received.rate == "+0%"
    assert received.text == KOREAN
    assert received.query["TrustedClientToken"] == "fake"  # the endpoint's own query is kept
    assert {"ConnectionId", "Sec-MS-GEC", "Sec-MS-GEC-Version"} <= received.query.keys()
    options = received.config["context"]["synthesis"]["audio"]["metadataoptions"]  # type: ignore[index]
    assert options["wordBoundaryEnabled"] == "true"


def test_pace_reaches_the_ssml(fake: FakeEdge) -> None:
    edge.speak(request(words_per_minute=210), endpoint=fake.url)
    edge.speak(request(words_per_minute=140), endpoint=fake.url)
    edge.speak(request(words_per_minute=1000), endpoint=fake.url)
    assert [r.rate for r in fake.received] == ["+20%", "-20%", "+100%"]


def test_a_configured_voice_is_used(fake: FakeEdge) -> None:
    edge.speak(request("Hello there.", "en", voice="en-GB-SoniaNeural"), endpoint=fake.url)
    (received,) = fake.received
    assert received.voice == "Microsoft Server Speech Text to Speech Voice (en-GB, SoniaNeural)"
    assert received.text == "Hello there."


def test_a_language_without_a_default_voice() -> None:
    with pytest.raises(EngineUnavailable, match="no default voice for language 'xx'"):
        edge.speak(request(language="xx"), endpoint="ws://127.0.0.1:9/")


def test_a_voice_edge_tts_does_not_take() -> None:
    with pytest.raises(EngineUnavailable, match="does not take voice 'Sunhi'"):
        edge.speak(request(voice="Sunhi"), endpoint="ws://127.0.0.1:9/")


def test_refused_with_403(fake: FakeEdge) -> None:
    fake.mode = "refuse"
    with pytest.raises(EngineUnavailable) as caught:
        edge.speak(request(), endpoint=fake.url)
    assert caught.value.engine == "edge"
    assert "HTTP 403" in caught.value.reason and "unofficial client" in caught.value.reason
    assert fake.handshakes == 2  # edge-tts corrects its clock from the Date and tries once more


def test_nothing_listening_fails_at_once() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    with pytest.raises(EngineUnavailable, match="cannot connect to the service"):
        edge.speak(request(), endpoint=f"ws://127.0.0.1:{port}/edge/v1", timeout=30)
    assert time.monotonic() - began < 5


def test_closed_without_audio(fake: FakeEdge) -> None:
    fake.mode = "close"
    with pytest.raises(EngineUnavailable, match="sent no audio"):
        edge.speak(request(), endpoint=fake.url)
    assert len(fake.received) == 1


def test_a_silent_service_is_given_up_after_the_timeout(fake: FakeEdge) -> None:
    fake.mode = "stall"
    began = time.monotonic()
    with pytest.raises(EngineUnavailable, match="in time"):
        edge.speak(request(), endpoint=fake.url, timeout=1)
    assert time.monotonic() - began < 3


def test_audio_ffmpeg_cannot_decode(fake: FakeEdge) -> None:
    fake.mode = "garbage"
    with pytest.raises(EngineUnavailable, match="ffmpeg could not decode"):
        edge.speak(request(), endpoint=fake.url)


def test_the_address_is_put_back(fake: FakeEdge) -> None:
    from edge_tts import communicate, constants

    edge.speak(request(), endpoint=fake.url)
    fake.mode = "refuse"
    with pytest.raises(EngineUnavailable):
        edge.speak(request(), endpoint=fake.url)
    assert communicate.WSS_URL == constants.WSS_URL


def test_without_an_endpoint_microsofts_service_is_asked() -> None:
    # conftest stops the host name lookup, so nothing leaves this machine.
    with pytest.raises(EngineUnavailable, match=r"speech\.platform\.bing\.com"):
        edge.speak(request(), timeout=10)


def test_a_line_waiting_on_another_keeps_its_timeout() -> None:
    began = time.monotonic()
    with edge._ADDRESS_LOCK, pytest.raises(EngineUnavailable, match="busy"):
        edge.speak(request(), endpoint="ws://127.0.0.1:9/", timeout=0.5)
    assert time.monotonic() - began < 2
