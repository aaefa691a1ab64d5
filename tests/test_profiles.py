"""Channel profiles (`[channels.NAME]`): `add --channel NAME` takes the profile's defaults under
its own options and `--set`, over the configuration; the task keeps what it took, `show` (text
and --json, a fast read) says where each value came from and what a changed profile says now,
`edit --channel NAME` takes it again; the stages use what the task took (the script's language,
the captions' look, the upload's tags, footer and publish time); and a `--channel` that names no
profile is a YouTube channel, as before."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autoqueue.config import DEFAULT_CONFIG_TEXT, Config, StageConfig
from autoqueue.models import Task
from autoqueue.stages.task_settings import (
    engine_voice,
    next_time_of_day,
    publish_time,
    video_config,
)
from autoqueue.stages.template import run_template_stage
from autoqueue.store.db import Connection
from autoqueue.tasks.home import init_home
from autoqueue.tasks.provenance import VIDEO_DEFAULTS
from autoqueue.timeutil import utcnow
from autoqueue.workspace import Workspace

from .conftest import add, run_cli, stage_context, write_config
from .fake_youtube import FakeYouTube
from .helpers.database import db_value
from .helpers.homes import KOREAN_PRODUCT, drain, small_home
from .helpers.youtube import fake as fake  # the fixture, imported for this module's tests
from .helpers.youtube import ready_task, youtube_home

PROFILES = """\
timezone = "UTC"
[stages.video]
caption_style = "subtle"
narration = "espeak"
[youtube]
default_channel = "fallback"
[channels.cooking]
youtube_channel = "main"
caption_style = "karaoke"
music = "music/cooking"
privacy = "unlisted"
tz = "Asia/Seoul"
tags = "요리, 레시피"
description_footer = "구독과 좋아요 부탁드려요!"
voice = { edge = "ko-KR-InJoonNeural", espeak = "ko" }
[channels.main]
language = "en"
review = true
"""


def show_json(home: Path, task_id: str) -> dict[str, Any]:
    shown = run_cli(home, "show", task_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def sources(detail: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {key: (entry["value"], entry["source"]) for key, entry in detail["effective"].items()}


def added(home: Path, *args: str) -> str:
    result = run_cli(home, "add", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_options_win_over_the_profile_and_the_profile_over_the_config(home: Path) -> None:
    write_config(home, PROFILES)
    assert run_cli(home, "init").returncode == 0
    task_id = added(
        home, "김치찌개", "--channel", "cooking", "--privacy", "private", "--set", "music=mine/"
    )
    detail = show_json(home, task_id)
    assert sources(detail) == {
        "channel": ("main", "channel_profile"),  # the profile's YouTube channel
        "privacy": ("private", "option"),
        "publish_at": (None, "default"),
        "tz": ("Asia/Seoul", "channel_profile"),
        "language": (None, "default"),
        "narration": ("espeak", "config"),
        "voice": ({"edge": "ko-KR-InJoonNeural", "espeak": "ko"}, "channel_profile"),
        "caption_style": ("karaoke", "channel_profile"),
        "music": ("mine/", "option"),
        "tags": (["요리", "레시피"], "channel_profile"),
        "description_footer": ("구독과 좋아요 부탁드려요!", "channel_profile"),
        "review": (None, "default"),
    }
    assert detail["effective"]["caption_style"]["profile"] == "cooking"
    schedule = detail["schedules"][0]
    assert (schedule["channel_setting_id"], schedule["youtube_privacy"]) == ("main", "private")
    assert schedule["repeat_config"]["tz"] == "Asia/Seoul"
    assert detail["task"]["settings"]["channel_profile"] == "cooking"
    text = run_cli(home, "show", task_id[:8], env={"COLUMNS": "160"}).stdout
    assert "channel profile cooking" in text and "karaoke" in text
    assert "option" in text and "config" in text
    # A task without --channel: the upload channel is [youtube]'s, no profile is taken.
    plain = sources(show_json(home, added(home, "그냥")))
    assert plain["channel"] == ("fallback", "config")
    assert plain["caption_style"] == ("subtle", "config")
    assert plain["tz"] == ("UTC", "config") and plain["privacy"] == ("public", "default")


def test_a_changed_profile_shows_beside_what_the_task_keeps_until_edit_takes_it_again(
    home: Path,
) -> None:
    write_config(home, PROFILES)
    assert run_cli(home, "init").returncode == 0
    task_id = added(home, "김치찌개", "--channel", "cooking", "--set", "music=mine/")
    write_config(home, PROFILES.replace('"karaoke"', '"bold"').replace('"unlisted"', '"public"'))
    entry = show_json(home, task_id)["effective"]["caption_style"]
    assert (entry["value"], entry["profile_now"]) == ("karaoke", "bold")
    text = run_cli(home, "show", task_id, env={"COLUMNS": "200"}).stdout
    assert "it now says bold: the task keeps what it took" in text
    edited = run_cli(home, "edit", task_id, "--channel", "cooking")
    assert edited.returncode == 0, edited.stderr
    now = sources(show_json(home, task_id))
    assert now["caption_style"] == ("bold", "channel_profile")
    assert now["privacy"] == ("public", "channel_profile")
    assert now["music"] == ("mine/", "option")  # its own setting stays
    assert "profile_now" not in show_json(home, task_id)["effective"]["caption_style"]
    # Another profile: what the old one gave goes, the new one's comes.
    assert run_cli(home, "edit", task_id, "--channel", "main").returncode == 0
    moved = sources(show_json(home, task_id))
    assert moved["channel"] == ("main", "channel_profile")
    assert moved["language"] == ("en", "channel_profile")
    assert moved["review"] == (True, "channel_profile")  # held for approve before it goes out
    assert moved["caption_style"] == ("subtle", "config") and moved["tags"] == (None, "default")
    assert moved["music"] == ("mine/", "option")


def test_a_channel_that_names_no_profile_is_a_youtube_channel(home: Path) -> None:
    write_config(home, PROFILES)
    assert run_cli(home, "init").returncode == 0
    task_id = added(home, "t", "--channel", "other")
    detail = show_json(home, task_id)
    assert sources(detail)["channel"] == ("other", "option")
    assert "channel_profile" not in detail["task"]["settings"]
    assert sources(detail)["caption_style"] == ("subtle", "config")
    # A profile named as its YouTube channel uploads there.
    main = sources(show_json(home, added(home, "t", "--channel", "main")))
    assert main["channel"] == ("main", "channel_profile")
    assert main["review"] == (True, "channel_profile")
    mine = sources(show_json(home, added(home, "t", "--channel", "main", "--no-review")))
    assert mine["review"] == (False, "option")


def test_set_values_and_profiles_are_checked_by_one_model(home: Path) -> None:
    write_config(home, PROFILES)
    assert run_cli(home, "init").returncode == 0
    bad = run_cli(home, "add", "t", "--set", "caption_style=huge")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--set caption_style: Input should be 'bold', 'subtle' or 'karaoke'" in bad.stderr
    bad = run_cli(home, "add", "t", "--set", "publish_at=6pm")
    assert "'6pm' is not a time of day: write it as HH:MM" in bad.stderr
    bad = run_cli(home, "add", "t", "--set", "taken_from={}")
    assert bad.returncode == 2 and "autoqueue's own record" in bad.stderr
    both = run_cli(home, "add", "t", "--set", "publish_at=18:00", "--publish-at", "2099-01-01 09:00")
    assert both.returncode == 2 and "give --publish-at or --set publish_at, not both" in both.stderr
    for profile, words in [
        ('[channels.x]\nprivacy = "public"\npublish_at = "18:00"\n', "publish_at needs privacy private"),
        ('[channels."a b"]\n', "a profile's name is a channel name"),
        ("[channels.x]\nfont = 1\n", "channels.x.font"),
        ('[channels.x]\ntz = "Mars/Base"\n', "unknown time zone"),
    ]:
        write_config(home, 'timezone = "UTC"\n' + profile)
        refused = run_cli(home, "add", "t")
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
    write_config(home, PROFILES)
    assert db_value(home, "SELECT count(*) FROM tasks") == 0


@pytest.mark.no_db
def test_the_commented_example_in_init_is_a_valid_profile() -> None:
    example = DEFAULT_CONFIG_TEXT.split("# Channel profiles", 1)[1].splitlines()
    text = "\n".join(
        line[2:]
        for line in example
        if line.startswith("# ") and (line[2:].startswith("[") or " = " in line)
    )
    profile = Config.model_validate(tomllib.loads(text)).channels["cooking"]
    assert profile.youtube_channel == "main" and profile.publish_at == ["12:00", "18:00"]
    assert profile.voice == {"edge": "ko-KR-InJoonNeural"}


@pytest.mark.no_db
def test_shows_defaults_are_the_video_stages() -> None:
    """show reads no configuration model; its defaults must be StageConfig's own."""
    defaults = StageConfig()
    expected = {
        "narration": list(defaults.narration),
        "voice": defaults.voice,
        "caption_style": defaults.caption_style,
        "music": defaults.music,
    }
    assert expected == VIDEO_DEFAULTS


def task_with(settings: dict[str, Any]) -> Task:
    return Task(id="t", title="t", type="shortform", settings=settings)  # type: ignore[arg-type]


@pytest.mark.no_db
def test_the_video_stage_takes_the_tasks_settings_over_its_configuration() -> None:
    stage = StageConfig(caption_style="subtle", voice="en-us", resolution=480)
    task = task_with({"caption_style": "karaoke", "narration": ["edge", "espeak"],
                      "voice": {"edge": "ko-KR-InJoonNeural"}, "music": "music/a.mp3"})  # fmt: skip
    config = video_config(stage, task)
    assert (config.caption_style, config.voice_chain, config.music) == (
        "karaoke",
        ["edge", "espeak"],
        "music/a.mp3",
    )
    assert config.voice == "en-us" and config.resolution == 480  # the rest stays
    assert "narration" in config.model_fields_set  # the task chose its engines: not quiet
    assert engine_voice(task, "edge") == "ko-KR-InJoonNeural" and engine_voice(task, "piper") is None
    assert video_config(stage, task_with({"voice": "ko"})).voice == "ko"
    assert video_config(stage, task_with({})) is stage


@pytest.mark.no_db
def test_publish_times_are_the_next_local_time_of_day() -> None:
    seoul = "Asia/Seoul"
    at = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 17:00 in Seoul
    assert next_time_of_day(["18:00"], seoul, at) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    later = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)  # 18:30: tomorrow's
    assert next_time_of_day(["18:00"], seoul, later) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert next_time_of_day(["12:00", "18:00"], seoul, later) == datetime(
        2026, 11, 27, 3, 0, tzinfo=UTC
    )
    # across a DST change, the wall clock stays: 18:00 in New York is 22:00 then 23:00 UTC
    new_york = "America/New_York"
    before = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert next_time_of_day(["18:00"], new_york, before) == datetime(
        2026, 11, 1, 23, 0, tzinfo=UTC
    )
    task = task_with({"publish_at": ["18:00"]})
    assert publish_time(task, None, at) == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # UTC zone


def test_the_script_is_written_in_the_profiles_language(home: Path) -> None:
    write_config(home, PROFILES)
    init_home(Workspace.load(home))
    workspace = Workspace.load(home)
    conn = workspace.connect()
    try:
        task_id = add(workspace, conn, "김치찌개 끓이는 법", channel="main")
        ctx, _logs = stage_context(workspace, conn, task_id)
        run_template_stage(ctx)
    finally:
        conn.close()
    story = json.loads((workspace.task_dir(task_id) / "story.json").read_text(encoding="utf-8"))
    assert story["scenes"][0]["text"] == "김치찌개 끓이는 법"  # the title as written
    assert story["scenes"][-1]["text"] == "Thanks for watching! Like and subscribe for more."


def test_an_upload_carries_the_profiles_tags_footer_and_publish_time(
    home: Path, fake: FakeYouTube
) -> None:
    profile = (
        '[channels.cooking]\nyoutube_channel = "main"\ntags = ["요리"]\n'
        'description_footer = "구독 부탁드려요"\npublish_at = "18:00"\ntz = "Asia/Seoul"\n'
    )
    workspace = youtube_home(home, fake, extra=profile)
    conn = workspace.connect()
    ready_task(workspace, conn, channel="cooking")
    assert db_value(home, "SELECT youtube_privacy FROM task_schedules") == "private"
    started = utcnow()
    drain(workspace)
    metadata = fake.videos["vid1"].metadata
    assert metadata["snippet"]["tags"] == ["가습기", "리뷰", "요리"]
    assert metadata["snippet"]["description"].endswith("\n\n구독 부탁드려요")
    status = metadata["status"]
    publish = datetime.strptime(status["publishAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert status["privacyStatus"] == "private" and publish.strftime("%H:%M") == "09:00"
    assert 0 < (publish - started).total_seconds() <= 86400 + 60
    # the channel's part of the quota ledger
    assert db_value(home, "SELECT units FROM youtube_quota WHERE project = 'default@main'") == 1650
    conn.close()
    # An authorised channel is still required of a profile's YouTube channel.
    write_config(
        home,
        (home / "autoqueue.toml").read_text(encoding="utf-8").replace(
            'youtube_channel = "main"', 'youtube_channel = "other"'
        ),
    )
    refused = run_cli(home, "add", "t", "--channel", "cooking")
    assert refused.returncode == 2 and "unknown channel 'other'" in refused.stderr


@pytest.mark.slow
def test_a_real_render_takes_the_profiles_caption_style_and_the_outbox_its_text(
    home: Path, conn: Connection
) -> None:
    profile = (
        '[channels.cooking]\ncaption_style = "karaoke"\ntags = ["요리"]\n'
        'description_footer = "구독 부탁드려요"\n'
    )
    workspace = small_home(home, 'narration = "espeak"\n' + profile)
    task_id = add(
        workspace, conn, "초간편 무선 가습기 리뷰", type="product", channel="cooking",
        product_info=KOREAN_PRODUCT,
    )  # fmt: skip
    plain = add(workspace, conn, "초간편 무선 가습기 리뷰", type="product", product_info=KOREAN_PRODUCT)
    drain(workspace)

    def caption_size(task: str) -> int:
        text = (workspace.task_dir(task) / "captions.ass").read_text(encoding="utf-8")
        return int(re.search(r"^Style: Caption,[^,]*,(\d+),", text, re.M).group(1))  # type: ignore[union-attr]

    # karaoke's letters are the plain size; bold's, the default's, 1.43 times as tall
    assert caption_size(plain) > caption_size(task_id) * 1.3
    metadata = json.loads((home / "outbox" / task_id / "metadata.json").read_text("utf-8"))
    assert "요리" in metadata["tags"] and metadata["description"].endswith("구독 부탁드려요")


def test_a_profiles_publish_times_yield_to_a_task_that_says_when_or_how_it_is_published(
    home: Path,
) -> None:
    write_config(home, 'timezone = "UTC"\n[channels.evening]\npublish_at = "18:00"\n')
    init_home(Workspace.load(home))
    workspace = Workspace.load(home)
    conn = workspace.connect()

    def taken(**fields: Any) -> tuple[Any, Any, Any]:
        task_id = add(workspace, conn, "t", channel="evening", **fields)
        settings = json.loads(str(db_value(home, "SELECT settings FROM tasks WHERE id = ?", task_id)))
        privacy = db_value(home, "SELECT youtube_privacy FROM task_schedules WHERE task_id = ?", task_id)
        return settings.get("publish_at"), privacy, settings["taken_from"]["privacy"]

    try:
        assert taken() == (["18:00"], "private", "channel_profile")
        assert taken(privacy="private") == (["18:00"], "private", "option")
        assert taken(privacy="public") == (None, "public", "option")  # published at once
        assert taken(publish_at="2099-01-01 09:00") == (None, "private", "option")
    finally:
        conn.close()
