"""Channel profiles taken by a task: which of its values come from its own options (``--set``
included), its channel profile (``[channels.NAME]``), the configuration or the default, decided
once, when the task is added (or when ``edit --channel`` takes a profile again), and stored in
the task (docs/configuration.md "Channel profiles")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoqueue.errors import UsageError
from autoqueue.i18n import _
from autoqueue.kinds import PROFILE_RECORD, SOURCES_RECORD, Privacy, Source, TaskSetting
from autoqueue.timeutil import local_zone_name

if TYPE_CHECKING:
    from autoqueue.config import ChannelProfile, Config

SETTING_KEYS = tuple(key.value for key in TaskSetting)
RECORDS = (PROFILE_RECORD, SOURCES_RECORD)


@dataclass(frozen=True)
class Taken:
    """What a task takes from its options, its profile and the configuration (before ``add``'s
    own checks of each value)."""

    profile: str | None  # the channel profile's name
    channel: str | None  # the YouTube channel the schedule stores (None: [youtube]'s default)
    tz_name: str
    privacy: Privacy | None  # from the profile (None: the option, else public)
    settings: dict[str, Any]  # the task settings taken from the profile
    sources: dict[str, str] = field(default_factory=dict)  # key -> Source


def profile_for(config: Config, channel: str | None) -> tuple[str, ChannelProfile] | None:
    """The channel profile ``--channel`` names, or None: a YouTube channel's name, as before
    there were profiles."""
    if channel is None:
        return None
    found = config.channels.get(channel)
    return None if found is None else (channel, found)


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``--set``'s values of the keys the built-in stages read (autoqueue.kinds.TaskSetting),
    checked by the model that checks a channel profile, as that model reads them (``tags =
    "a, b"`` is two tags); autoqueue's own records may not be set."""
    from pydantic import ValidationError

    from autoqueue.config import TaskSettings

    for record in RECORDS:
        if record in settings:
            raise UsageError(
                _("--set {key}=... is autoqueue's own record of the task: use another key").format(
                    key=record
                )
            )
    known = {key: settings[key] for key in SETTING_KEYS if settings.get(key) is not None}
    if not known:
        return settings
    try:
        checked = TaskSettings.model_validate(known).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else next(iter(known))
        message = str(error["msg"]).removeprefix("Value error, ")
        raise UsageError(_("--set {key}: {message}").format(key=where, message=message)) from None
    return {**settings, **checked}


def take(
    config: Config,
    *,
    channel: str | None,
    tz: str | None,
    privacy: str | None,
    publish_given: bool,
    explicit: dict[str, Any],
    use_profiles: bool = True,
) -> Taken:
    """The profile ``channel`` names (when ``use_profiles``) laid under the task's own options:
    ``explicit`` is ``--set``'s settings, ``tz`` ``--tz``, ``privacy`` ``--privacy`` as typed;
    ``publish_given`` says whether ``--publish-at`` was given. A profile's ``publish_at`` is not
    taken by a task that says when (``--publish-at``) or how (``--privacy`` other than private)
    it is published."""
    found = profile_for(config, channel) if use_profiles else None
    sources: dict[str, str] = {}
    name, profile = found if found is not None else (None, None)
    stored_channel = channel
    if profile is not None:
        stored_channel = profile.youtube_channel or name
        sources["channel"] = Source.PROFILE.value
    elif channel is not None:
        sources["channel"] = Source.OPTION.value
    if tz is not None:
        tz_name, sources["tz"] = tz, Source.OPTION.value
    elif profile is not None and profile.tz:
        tz_name, sources["tz"] = profile.tz, Source.PROFILE.value
    elif config.timezone:
        tz_name, sources["tz"] = config.timezone, Source.CONFIG.value
    else:
        tz_name, sources["tz"] = local_zone_name(), Source.DEFAULT.value
    published_now = privacy is not None and privacy.strip().lower() != Privacy.PRIVATE
    taken: dict[str, Any] = {}
    for key in SETTING_KEYS:
        if key in explicit:
            sources[key] = Source.OPTION.value
            continue
        value = None if profile is None else getattr(profile, key)
        if value is None or (key == TaskSetting.PUBLISH_AT and (publish_given or published_now)):
            continue
        taken[key] = value
        sources[key] = Source.PROFILE.value
    chosen = None  # with --privacy: the option's, which add checks and records
    if privacy is None and TaskSetting.PUBLISH_AT in taken:
        chosen, sources["privacy"] = Privacy.PRIVATE, Source.PROFILE.value
    elif privacy is None and profile is not None and profile.privacy:
        chosen, sources["privacy"] = Privacy(profile.privacy), Source.PROFILE.value
    taken_json = {
        key: value.copy() if isinstance(value, list | dict) else value
        for key, value in taken.items()
    }
    return Taken(name, stored_channel, tz_name, chosen, taken_json, sources)


def record(settings: dict[str, Any], taken: Taken, sources: dict[str, str]) -> None:
    """Write what the task took, and from where, into its settings (autoqueue's own keys)."""
    settings.pop(PROFILE_RECORD, None)
    if taken.profile is not None:
        settings[PROFILE_RECORD] = taken.profile
    settings[SOURCES_RECORD] = dict(sorted(sources.items()))


def own_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A task's settings without what it took from its profile and without autoqueue's records:
    what ``edit --channel`` keeps when the task takes a profile again."""
    sources = settings.get(SOURCES_RECORD)
    sources = sources if isinstance(sources, dict) else {}
    return {
        key: value
        for key, value in settings.items()
        if key not in RECORDS
        and key not in ("mediaMode",)
        and not (key in SETTING_KEYS and sources.get(key) == Source.PROFILE.value)
    }
