"""`autoqueue usage` and doctor's look at tomorrow: the ledgers seeded through the code that writes
them (the spend ledger's charge, the stage store's quota spend, the youtube stage's completion
row), read back per day and per channel, in the home's zone; and a warning when tomorrow's
schedules would pass YouTube's daily quota or an AI provider's daily cap, with a controlled
clock."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

from autoqueue.cli.doctor import OK, WARN, caps_tomorrow
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.stages import providers
from autoqueue.store.db import Connection, transaction
from autoqueue.store.stage_store import DatabaseStore
from autoqueue.tasks.control import pause_task
from autoqueue.tasks.home import init_home
from autoqueue.tasks.usage import usage_report
from autoqueue.timeutil import to_db, utcnow
from autoqueue.workspace import Workspace
from autoqueue.youtube import auth
from autoqueue.youtube.quota import quota_day

from .conftest import NOW, add, run_cli, stage_context, write_config

CONFIG = """\
timezone = "Asia/Seoul"
[youtube]
daily_quota = 5000
[providers.openai]
daily_budget = 1.0
daily_requests = 10
"""


def home_with(home: Path, config: str) -> Workspace:
    write_config(home, config)
    init_home(Workspace.load(home))
    return Workspace.load(home)


def spend(workspace: Workspace, conn: Connection, task_id: str, price: float, at: datetime) -> None:
    """One AI request of ``price`` dollars for the task, counted by the spend ledger's charge as
    a stage counts it (the task's channel: its schedule's, else [youtube]'s default)."""
    ctx, _logs = stage_context(workspace, conn, task_id)
    item = ctx.item
    ctx = dataclasses.replace(
        ctx,
        schedule=schedules_repo.for_task(conn, task_id)[0],
        store=DatabaseStore(workspace, item.id, patience=5),
    )
    limits = workspace.config.providers.openai
    account = providers.Account("openai", "key", "OPENAI_API_KEY", None, 10, limits)
    providers.charge(ctx, account, price, at)


def uploaded(conn: Connection, task_id: str, channel: str, at: datetime) -> None:
    """The youtube stage's completion row, as an upload leaves it."""
    with transaction(conn):
        logs_repo.add(
            conn, task_id, LogLevel.INFO, "uploading done", now=to_db(at),
            queue_type=QueueType.YOUTUBE, action=ActionType.COMPLETE,
            metadata={"videoId": f"v-{at.timestamp()}", "channel": channel, "privacy": "public"},
        )  # fmt: skip


def test_usage_counts_each_day_and_channel(home: Path) -> None:
    workspace = home_with(home, CONFIG)
    conn = workspace.connect()
    main = add(workspace, conn, "주간 요리", channel="main")
    other = add(workspace, conn, "여행", channel="travel")
    lonely = add(workspace, conn, "채널 없음")
    yesterday = NOW - timedelta(days=1)
    for task_id, price, at in [
        (main, 0.25, NOW), (main, 0.25, NOW), (other, 0.10, NOW), (lonely, 0.05, NOW),
        (main, 0.5, yesterday),
    ]:  # fmt: skip
        spend(workspace, conn, task_id, price, at)
    store = DatabaseStore(workspace, 1, patience=5)
    store.quota_spend("default", quota_day(NOW), 1650, "main")  # as the uploader charges
    store.quota_spend("default", quota_day(NOW), 1650, "travel")
    store.quota_spend("default", quota_day(NOW), 3)  # a lookup before channels were counted
    uploaded(conn, main, "main", NOW)
    uploaded(conn, other, "travel", NOW)
    uploaded(conn, main, "main", yesterday)
    uploaded(conn, main, "main", yesterday - timedelta(hours=12))  # 16:00 on the 24th, Pacific
    report = usage_report(conn, workspace.config, "Asia/Seoul", 2, NOW)
    conn.close()
    youtube = report["youtube"]
    today, before = youtube["days"]
    assert today["day"] == "2026-11-26" and before["day"] == "2026-11-25"  # Pacific days
    assert today["starts"] == "2026-11-26 17:00"  # midnight Pacific, in Seoul
    assert (today["uploads"], today["units_used"], today["units_left"]) == (2, 3303, 1697)
    assert today["channels"] == [
        {"channel": "main", "uploads": 1, "units": 1650},
        {"channel": "travel", "uploads": 1, "units": 1650},
        {"channel": None, "uploads": 0, "units": 3},
    ]
    assert before["uploads"] == 1 and before["channels"] == [
        {"channel": "main", "uploads": 1, "units": 0}
    ]
    ai_today, ai_before = report["ai"]["days"]
    assert ai_today["starts"] == "2026-11-26 09:00"  # midnight UTC, in Seoul
    [openai] = ai_today["providers"]
    assert (openai["requests"], openai["spend"]) == (4, 0.65)
    assert (openai["requests_left"], openai["budget_left"]) == (6, 0.35)
    assert openai["channels"] == [
        {"channel": "main", "requests": 2, "spend": 0.5},
        {"channel": "travel", "requests": 1, "spend": 0.1},
        {"channel": None, "requests": 1, "spend": 0.05},
    ]
    assert ai_before["providers"][0]["spend"] == 0.5


def test_the_usage_command_prints_todays_figures(home: Path) -> None:
    workspace = home_with(home, CONFIG)
    conn = workspace.connect()
    task_id = add(workspace, conn, "주간 요리", channel="main", now=utcnow())
    spend(workspace, conn, task_id, 0.25, utcnow())
    DatabaseStore(workspace, 1, patience=5).quota_spend("default", quota_day(utcnow()), 1650, "main")
    uploaded(conn, task_id, "main", utcnow())
    conn.close()
    shown = run_cli(home, "usage", "--json", "--days", "3")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["zone"] == "Asia/Seoul" and len(report["youtube"]["days"]) == 3
    today = report["youtube"]["days"][0]
    assert today["channels"][0] == {"channel": "main", "uploads": 1, "units": 1650}
    assert report["ai"]["days"][0]["providers"][0]["channels"][0]["spend"] == 0.25
    text = run_cli(home, "usage", env={"COLUMNS": "160"})
    assert text.returncode == 0, text.stderr
    assert "main" in text.stdout and "1,650" in text.stdout and "3,350" in text.stdout
    assert "$0.25" in text.stdout and "$0.75" in text.stdout  # spent, and left of the $1 cap
    bad = run_cli(home, "usage", "--days", "0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


CAPS = """\
timezone = "Asia/Seoul"
[stages.script]
handler = "llm"
[llm]
price = 1.0
[providers.openai]
daily_budget = 2.5
[stages.youtube]
handler = "youtube"
[youtube]
daily_quota = 3300
token_uri = "http://127.0.0.1:9/token"
"""


def test_doctor_warns_when_tomorrows_schedules_would_pass_a_cap(home: Path) -> None:
    workspace = home_with(home, CAPS)
    auth.write_private(auth.token_path(home, "main"), "{}")
    conn = workspace.connect()
    # NOW is 21:00 in Seoul: tomorrow is 2026-11-27. Three daily runs at 09:00 Seoul (00:00
    # UTC) and a once-run at 15:00 (06:00 UTC), all still 2026-11-26 in the Pacific; one run the
    # day after, and a paused daily task, do not count.
    for title in ("하나", "둘", "셋"):
        add(workspace, conn, title, at="2026-11-20 09:00", repeat="daily")
    add(workspace, conn, "내일 한 번", at="2026-11-27 15:00")
    add(workspace, conn, "모레", at="2026-11-28 15:00")
    paused = add(workspace, conn, "멈춤", at="2026-11-20 10:00", repeat="daily")
    pause_task(conn, paused, NOW)
    DatabaseStore(workspace, 1, patience=5).quota_spend("default", "2026-11-26", 1650)
    conn.close()
    checks = caps_tomorrow(Workspace.load(home), NOW)
    assert [check.status for check in checks] == [WARN, WARN], checks
    youtube, ai = checks
    # quota day 2026-11-26 (Pacific): four runs, 6,600 units, and 1,650 are left
    assert "tomorrow's 4 upload(s) need about 6,600 YouTube units on quota day 2026-11-26" in (
        youtube.detail
    )
    assert "1,650 of its 3,300 are left: 3 upload(s) would wait" in youtube.detail
    assert "daily_quota" in youtube.fix
    # UTC day 2026-11-27: four runs, a $1 script each, past the $2.50 cap
    assert "about 4 OpenAI request(s) and $4.00 on 2026-11-27 (UTC)" in ai.detail, ai.detail
    assert "[providers.openai] daily_budget" in ai.fix
    write_config(home, CAPS.replace("3300", "10000").replace("2.5", "10"))
    [fine] = caps_tomorrow(Workspace.load(home), NOW)
    assert fine.status == OK
    assert "no daily cap stops tomorrow's 4 scheduled run(s) (2026-11-27)" in fine.detail
    assert "4 upload(s): 6,600 of 8,350 YouTube units left on 2026-11-26" in fine.detail


def test_doctor_shows_the_caps_check(home: Path) -> None:
    """The real command: a daily upload tomorrow needs more than a 1,000-unit quota."""
    home_with(home, 'timezone = "UTC"\n[stages.youtube]\nhandler = "youtube"\n'
              '[youtube]\ndaily_quota = 1000\ntoken_uri = "http://127.0.0.1:9/token"\n')  # fmt: skip
    auth.write_private(auth.token_path(home, "main"), "{}")
    assert run_cli(home, "add", "매일", "--at", "2026-01-01 09:00", "--repeat", "daily").returncode == 0
    shown = run_cli(home, "doctor", "--json")
    caps = [check for check in json.loads(shown.stdout) if check["name"] == "caps"]
    assert [check["status"] for check in caps] == ["warn"], caps
    assert "1 upload(s) need about 1,650 YouTube units" in caps[0]["detail"]
