"""Will a daily cap stop tomorrow's schedules? (``autoqueue doctor``.) Tomorrow's need is estimated
from the active schedules due tomorrow (in the home's zone) times what one run costs, and set
against what each cap leaves on the day the run would spend it (docs/usage.md).

What one run costs:

- YouTube (``[stages.youtube] handler = "youtube"``): ``cost_insert`` + ``cost_thumbnail``
  (+ ``cost_captions`` with ``[youtube] captions``) units, on the Pacific quota day of the run's
  scheduled time (the upload comes minutes later; a run near midnight Pacific may spill over).
- AI, per provider, on the UTC day of the run's time: the ``llm`` script writer's request at
  ``[llm] price`` (none with an ``[llm] base_url`` of your own); for dalle3, imagen3 and sora2
  with the built-in models, one picture or clip per scene at its model's price; with openai or
  google as the first engine of the task's narration, one request per scene at the voice's
  price per character. A scene count comes from the task's current story.json, else 8 for a
  short or a product video and 20 for a longform (the most the built-in prompts ask for); the
  characters from its text, else 80 a scene.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from autoqueue.i18n import _
from autoqueue.kinds import QueueType, RepeatType, TaskSetting
from autoqueue.layout import STORY
from autoqueue.queue.recurrence import Recurrence, first_index, occurrence
from autoqueue.repo import state as state_repo
from autoqueue.repo import usage as usage_repo
from autoqueue.repo.views import stored_json
from autoqueue.timeutil import from_db, localize, zone
from autoqueue.youtube.quota import quota_day

if TYPE_CHECKING:
    from autoqueue.store.db import Connection, Row
    from autoqueue.workspace import Workspace

SCENES = {"longform": 20}  # a story's scenes when the task has none yet; others: DEFAULT_SCENES
DEFAULT_SCENES = 8
CHARACTERS_PER_SCENE = 80


@dataclass(frozen=True)
class Run:
    """One run due tomorrow: its task and when."""

    task_id: str
    task_type: str
    settings: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Outlook:
    """Tomorrow (its date in the home's zone), its runs, and each cap they would pass: one
    line saying so, and the fix."""

    day: date
    runs: int
    over: list[tuple[str, str]]
    summary: list[str]


def tomorrow_runs(conn: Connection, zone_name: str, now: datetime) -> tuple[date, list[Run]]:
    """The runs the active schedules have due tomorrow in ``zone_name``."""
    tz = zone(zone_name)
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    start = localize(datetime.combine(tomorrow, time(0, 0)), tz)
    end = localize(datetime.combine(tomorrow + timedelta(days=1), time(0, 0)), tz)
    runs = []
    for row in usage_repo.active_schedules(conn):
        settings = stored_json(row["task_settings"])
        settings = settings if isinstance(settings, dict) else {}
        for at in _due(row, start, end):
            runs.append(Run(str(row["task_id"]), str(row["task_type"]), settings, at))
    return tomorrow, runs


def _due(row: Row, start: datetime, end: datetime) -> list[datetime]:
    """A schedule's occurrences in [start, end), from its next run on."""
    next_run = from_db(str(row["next_run_at"]))
    config = stored_json(row["repeat_config"])
    first = row["scheduled_time"] or row["next_run_at"]
    recurrence = Recurrence.stored(
        row["repeat_type"], config if isinstance(config, dict) else {}, str(first)
    )
    if recurrence.repeat is RepeatType.ONCE:
        return [next_run] if start <= next_run < end else []
    bound = max(start, next_run)
    index = first_index(
        recurrence.anchor, recurrence.tz, recurrence.repeat, bound, strictly_after=False
    )
    found = []
    while (
        moment := localize(occurrence(recurrence.anchor, recurrence.repeat, index), recurrence.tz)
    ) < end:
        found.append(moment)
        index += 1
    return found


def _story(workspace: Workspace, run: Run) -> tuple[int, int]:
    """(scenes, characters) of a run: the task's current story, else the estimate."""
    try:
        story = json.loads((workspace.task_dir(run.task_id) / STORY).read_text(encoding="utf-8"))
        texts = [str(scene.get("text", "")) for scene in story["scenes"]]
        if texts:
            return len(texts), sum(len(text) for text in texts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    scenes = SCENES.get(run.task_type, DEFAULT_SCENES)
    return scenes, scenes * CHARACTERS_PER_SCENE


def ai_cost(workspace: Workspace, run: Run) -> dict[str, tuple[int, float]]:
    """What one run asks of each AI provider: (requests, dollars) (see the module's notes)."""
    config = workspace.config
    cost: dict[str, tuple[int, float]] = {}

    def add(provider: str, requests: int, dollars: float) -> None:
        before = cost.get(provider, (0, 0.0))
        cost[provider] = (before[0] + requests, before[1] + dollars)

    if config.handler(QueueType.SCRIPT) == "llm" and config.llm.base_url is None:
        add(config.llm.provider, 1, config.llm.price)
    scenes, characters = _story(workspace, run)
    video = config.stage(QueueType.VIDEO)
    built_in = config.handler(QueueType.VIDEO) == "ffmpeg"
    model = config.generator(str(run.settings.get("mediaMode") or ""))
    if model is not None and built_in and not video.generator:
        add(model.provider, scenes, scenes * model.price_each)
    narration = run.settings.get(TaskSetting.NARRATION) or video.narration
    first = narration if isinstance(narration, str) else (narration or [None])[0]
    if built_in and first in ("openai", "google"):
        from autoqueue.voices.paid import GOOGLE_PRICE, OPENAI_PRICE

        engine = config.voices.engine(str(first))
        if engine.endpoint is None:  # a server of your own is not counted
            default = OPENAI_PRICE if first == "openai" else GOOGLE_PRICE
            per_char = default if engine.price is None else engine.price / 1000
            add(str(first), scenes, characters * per_char)
    return cost


def outlook(conn: Connection, workspace: Workspace, zone_name: str, now: datetime) -> Outlook:
    """Tomorrow's runs against YouTube's daily quota and each AI provider's daily caps."""
    from autoqueue.stages.providers import MICRO, NAMES, ledger_names

    config = workspace.config
    tomorrow, runs = tomorrow_runs(conn, zone_name, now)
    over: list[tuple[str, str]] = []
    summary: list[str] = []
    youtube = config.youtube
    if config.handler(QueueType.YOUTUBE) == "youtube" and runs:
        per_upload = youtube.cost_insert + youtube.cost_thumbnail
        per_upload += youtube.cost_captions if youtube.captions else 0
        by_day: dict[str, int] = {}
        for run in runs:
            by_day[quota_day(run.at)] = by_day.get(quota_day(run.at), 0) + 1
        for day, uploads in sorted(by_day.items()):
            used = state_repo.quota_used(conn, youtube.project, day)
            left = max(youtube.daily_quota - used, 0)
            needed = uploads * per_upload
            summary.append(
                _("{uploads} upload(s): {needed:,} of {left:,} YouTube units left on {day}").format(
                    uploads=uploads, needed=needed, left=left, day=day
                )
            )
            if needed > left:
                fits = left // per_upload if per_upload else uploads
                over.append(
                    (
                        _(
                            "tomorrow's {uploads} upload(s) need about {needed:,} YouTube units "
                            "on quota day {day} (Pacific), and {left:,} of its {quota:,} are "
                            "left: {waiting} upload(s) would wait for the next quota day"
                        ).format(
                            uploads=uploads,
                            needed=needed,
                            day=day,
                            left=left,
                            quota=youtube.daily_quota,
                            waiting=uploads - fits,
                        ),
                        _(
                            "raise [youtube] daily_quota once Google grants more (the quota "
                            "extension form), or spread the schedules over more days"
                        ),
                    )
                )
    needs: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for provider, (requests, dollars) in ai_cost(workspace, run).items():
            key = (provider, run.at.astimezone(UTC).date().isoformat())
            total = needs.setdefault(key, [0, 0.0])
            total[0] += requests
            total[1] += dollars
    for (provider, day), (asked, dollars) in sorted(needs.items()):
        requests = round(asked)
        limits = config.providers.get(provider)
        request_row, dollar_row = ledger_names(provider)
        used = state_repo.quota_used(conn, request_row, day)
        spent = state_repo.quota_used(conn, dollar_row, day) / MICRO
        summary.append(
            _("{name}: about {requests} request(s) and ${dollars:.2f} on {day}").format(
                name=NAMES[provider], requests=requests, dollars=dollars, day=day
            )
        )
        caps = []
        if limits.daily_requests and used + requests > limits.daily_requests:
            caps.append(
                _("{used} of {cap} requests used").format(used=used, cap=limits.daily_requests)
            )
        if limits.daily_budget and spent + dollars > limits.daily_budget + 1e-9:
            caps.append(
                _("${spent:.2f} of ${cap:.2f} spent").format(spent=spent, cap=limits.daily_budget)
            )
        if caps:
            over.append(
                (
                    _(
                        "tomorrow's runs need about {requests} {name} request(s) and "
                        "${dollars:.2f} on {day} (UTC), past its daily cap ({caps}): the rest "
                        "would wait for midnight UTC"
                    ).format(
                        requests=requests,
                        name=NAMES[provider],
                        dollars=dollars,
                        day=day,
                        caps="; ".join(caps),
                    ),
                    _(
                        "raise [providers.{provider}] daily_budget / daily_requests, or move "
                        "some schedules to another day"
                    ).format(provider=provider),
                )
            )
    return Outlook(tomorrow, len(runs), over, summary)
