"""What the queue spent (``autoqueue usage``): per day and per channel, the YouTube uploads and the
quota units used and left, and each AI provider's requests and spend against its daily caps,
from the ledgers (docs/usage.md).

Each figure is counted on the day its limit resets: YouTube's units and uploads on the quota
day (midnight to midnight Pacific time), the AI requests and spend on the UTC day. The report
names each day by its date and says when it starts in the home's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from autoqueue.repo import usage as usage_repo
from autoqueue.repo.views import stored_json
from autoqueue.timeutil import from_db, to_db, zone
from autoqueue.youtube.quota import PACIFIC, quota_day

if TYPE_CHECKING:
    from autoqueue.config import Config
    from autoqueue.store.db import Connection

PROVIDERS = ("openai", "google")


def day_start(day: date, tz: Any, zone_name: str) -> str:
    """When the ledger day ``day`` (in ``tz``: Pacific or UTC) starts, in the home's zone."""
    start = datetime.combine(day, time(0, 0), tzinfo=tz)
    return start.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M")


def _channels(
    names: dict[str, int], base: str, uploads: dict[str | None, int], total: int, unit: str
) -> list[dict[str, Any]]:
    """Each channel's part of ``base``'s row (its ``base@channel`` row) and of the uploads, and
    what no channel's row holds (spending from before the per-channel rows, or a task without
    a channel) as channel None."""
    prefix = base + "@"
    own = {name[len(prefix) :]: units for name, units in names.items() if name.startswith(prefix)}
    listed = []
    for channel in sorted(set(own) | {c for c in uploads if c is not None}):
        listed.append(
            {"channel": channel, "uploads": uploads.get(channel, 0), unit: own.get(channel, 0)}
        )
    rest = total - sum(own.values())
    if rest > 0 or uploads.get(None):
        listed.append({"channel": None, "uploads": uploads.get(None, 0), unit: max(rest, 0)})
    return listed


def usage_report(
    conn: Connection, config: Config, zone_name: str, days: int, now: datetime
) -> dict[str, Any]:
    """The last ``days`` days of both ledgers, newest first (see the module's docstring)."""
    today_pacific = date.fromisoformat(quota_day(now))
    today_utc = now.astimezone(UTC).date()
    first = min(today_pacific, today_utc) - timedelta(days=days - 1)
    ledger: dict[str, dict[str, int]] = {}
    for day, name, units in usage_repo.ledger_rows(conn, first.isoformat()):
        ledger.setdefault(day, {})[name] = units
    since = datetime.combine(first - timedelta(days=1), time(0, 0), tzinfo=UTC)
    uploads: dict[str, dict[str | None, int]] = {}
    for created, metadata in usage_repo.upload_rows(conn, to_db(since)):
        details = stored_json(metadata)
        if not isinstance(details, dict) or not details.get("videoId"):
            continue  # an outbox copy, or a row another program wrote
        channel = details.get("channel")
        day = quota_day(from_db(created))
        per_day = uploads.setdefault(day, {})
        key = str(channel) if channel else None
        per_day[key] = per_day.get(key, 0) + 1
    youtube = config.youtube
    youtube_days = []
    for offset in range(days):
        day = (today_pacific - timedelta(days=offset)).isoformat()
        names = ledger.get(day, {})
        used = names.get(youtube.project, 0)
        counted = uploads.get(day, {})
        youtube_days.append(
            {
                "day": day,
                "starts": day_start(date.fromisoformat(day), PACIFIC, zone_name),
                "uploads": sum(counted.values()),
                "units_used": used,
                "units_left": max(youtube.daily_quota - used, 0),
                "channels": _channels(names, youtube.project, counted, used, "units"),
            }
        )
    ai_days = []
    for offset in range(days):
        day = (today_utc - timedelta(days=offset)).isoformat()
        names = ledger.get(day, {})
        providers = []
        for provider in PROVIDERS:
            providers.append(_provider_day(config, provider, names))
        ai_days.append(
            {
                "day": day,
                "starts": day_start(date.fromisoformat(day), UTC, zone_name),
                "providers": [p for p in providers if p["requests"] or p["capped"]],
            }
        )
    return {
        "zone": zone_name,
        "youtube": {
            "project": youtube.project,
            "daily_quota": youtube.daily_quota,
            "day_starts_local": day_start(today_pacific, PACIFIC, zone_name)[11:],
            "days": youtube_days,
        },
        "ai": {"day_starts_local": day_start(today_utc, UTC, zone_name)[11:], "days": ai_days},
    }


def _provider_day(config: Config, provider: str, names: dict[str, int]) -> dict[str, Any]:
    """One provider's requests and spend on one UTC day, each channel's part, and what its
    caps leave (None: no such cap)."""
    from autoqueue.stages.providers import MICRO, ledger_names

    requests_row, dollars_row = ledger_names(provider)
    requests, micro = names.get(requests_row, 0), names.get(dollars_row, 0)
    limits = config.providers.get(provider)
    channels = _channels(names, requests_row, {}, requests, "requests")
    spent = {c["channel"]: c for c in _channels(names, dollars_row, {}, micro, "micro")}
    for entry in channels:
        entry.pop("uploads")
        entry["spend"] = round(spent.get(entry["channel"], {}).get("micro", 0) / MICRO, 6)
    return {
        "provider": provider,
        "requests": requests,
        "spend": round(micro / MICRO, 6),
        "requests_left": (
            max(limits.daily_requests - requests, 0) if limits.daily_requests else None
        ),
        "budget_left": (
            round(max(limits.daily_budget - micro / MICRO, 0.0), 6) if limits.daily_budget else None
        ),
        "capped": bool(limits.daily_requests or limits.daily_budget),
        "channels": channels,
    }
