"""Adding a task: ``autoqueue add``'s arguments validated completely, then the task, its schedule
and (when due) its first run written in one transaction."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from autoqueue.errors import FieldError, UsageError
from autoqueue.i18n import _
from autoqueue.kinds import (
    SOURCES_RECORD,
    LogLevel,
    MediaMode,
    Privacy,
    QueueType,
    RepeatType,
    Source,
    TaskSetting,
    TaskType,
)
from autoqueue.layout import IMAGE_SUFFIXES, scene_name
from autoqueue.media.images import image_problem
from autoqueue.models import Task
from autoqueue.queue.recurrence import Recurrence
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import schedules as schedules_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection, transaction
from autoqueue.tasks import channels
from autoqueue.tasks.choices import parse_choice
from autoqueue.timeutil import parse_local, to_db, zone
from autoqueue.workspace import Workspace

if TYPE_CHECKING:
    from autoqueue.queue.policy import Policy


@dataclass(frozen=True)
class AddRequest:
    """``autoqueue add``'s arguments as typed, before validation."""

    title: str
    type: str = "shortform"
    media_mode: str = "crawl"
    at: str | None = None
    repeat: str = "once"
    tz: str | None = None
    privacy: str | None = None
    publish_at: str | None = None
    channel: str | None = None
    product_info: str | None = None
    settings: list[str] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    user: str | None = None
    max_retry: int | None = None
    review: bool | None = None  # --review / --no-review: None follows [review] before


@dataclass(frozen=True)
class Added:
    task_id: str
    schedule_id: int
    next_run_at: str | None
    queued: bool
    warnings: list[str]


def _product_info(text: str | None) -> Any:
    if text is None:
        return None
    source = "--product-info"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                _("cannot read --product-info file {path}: {exc}").format(path=path, exc=exc)
            ) from exc
        source = str(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            _("{source} is not valid JSON: {msg} at line {lineno} column {colno}").format(
                source=source, msg=exc.msg, lineno=exc.lineno, colno=exc.colno
            )
        ) from exc
    if not isinstance(value, dict):  # the script writer and the cards read its fields by name
        raise UsageError(
            _(
                '{source} must be a JSON object such as {{"name": "...", "price": 39000}}; '
                "it is a JSON {kind}"
            ).format(source=source, kind=_json_kind(value))
        )
    return value


def _json_kind(value: Any) -> str:
    """JSON's name for the type of a value that is not an object (untranslated: JSON's word)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("--set wants key=value, got {pair!r}").format(pair=pair))
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        settings[key.strip()] = value
    return channels.check_settings(settings)


def _images(paths: list[Path], media_mode: MediaMode) -> list[Path]:
    if paths and media_mode is not MediaMode.UPLOAD:
        raise UsageError(
            _("--image is for --media-mode upload (other modes make their own images)")
        )
    checked = []
    for path in paths:
        resolved = path.expanduser()
        if not resolved.is_file():
            raise UsageError(_("image file not found: {path}").format(path=path))
        if resolved.suffix.lower() not in IMAGE_SUFFIXES:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise UsageError(
                _("{path} is not an image this pipeline reads ({kinds})").format(
                    path=path, kinds=kinds
                )
            )
        problem = image_problem(resolved)
        if problem is not None:
            raise UsageError(f"{path}: {problem}")
        checked.append(resolved)
    return checked


@dataclass(frozen=True)
class PreparedTask:
    """A validated ``add``: everything checked, nothing written yet."""

    title: str
    task_type: TaskType
    media_mode: MediaMode
    recurrence: Recurrence
    scheduled_time: str | None
    next_run_at: str
    privacy: Privacy
    publish_time: str | None
    channel: str | None
    product_info: Any
    settings: dict[str, Any]
    images: list[Path]
    user: str | None
    max_retry: int | None
    warnings: list[str]
    profile: str | None = None  # the channel profile the task took

    @property
    def sources(self) -> dict[str, str]:
        """Where each value the task stores came from (autoqueue.kinds.Source)."""
        recorded = self.settings.get(SOURCES_RECORD)
        return dict(recorded) if isinstance(recorded, dict) else {}


@contextmanager
def _field(name: str) -> Iterator[None]:
    """A usage error in this block is about the request's field ``name`` (a batch file names
    its column); its words stay as they are."""
    try:
        yield
    except FieldError:
        raise
    except UsageError as exc:
        raise FieldError(str(exc), name) from exc


def _publish_time(text: str, tz: ZoneInfo, now: datetime, *, check: bool) -> str:
    """``--publish-at`` as a database time; with ``check``, refused unless it is to come
    (YouTube schedules a video only for a time in the future)."""
    instant = parse_local(text, tz)[1]
    if check and instant <= now:
        raise UsageError(
            _("--publish-at {value} is in the past: give a time to come").format(value=text)
        )
    return to_db(instant)


def _refuse_nul(request: AddRequest) -> None:
    """A NUL character (``\\0``) in any text of the request is refused: no text of a task holds
    one, and PostgreSQL cannot store it (SQLite would, and the two backends must agree)."""
    texts = [
        ("title", "title", request.title), ("type", "type", request.type),
        ("media_mode", "media mode", request.media_mode), ("at", "--at", request.at),
        ("repeat", "--repeat", request.repeat), ("tz", "--tz", request.tz),
        ("privacy", "--privacy", request.privacy),
        ("publish_at", "--publish-at", request.publish_at),
        ("channel", "--channel", request.channel),
        ("product_info", "--product-info", request.product_info),
        ("user", "--user", request.user), ("settings", "--set", "".join(request.settings)),
    ]  # fmt: skip
    for key, name, text in texts:
        # JSON's escape of it, too: --product-info's strings are stored as parsed
        if text is not None and ("\0" in text or (key == "product_info" and "\\u0000" in text)):
            raise FieldError(_("{name} must not contain a NUL character").format(name=name), key)


def prepare_add(
    workspace: Workspace,
    request: AddRequest,
    now: datetime,
    *,
    check_publish: bool = True,
    use_profiles: bool = True,
) -> PreparedTask:
    """Validate an ``add`` completely before anything touches the disk or the database: its
    options laid over its channel profile (autoqueue.tasks.channels). ``check_publish`` False
    keeps a publish time that was accepted before, ``use_profiles`` False reads ``--channel`` as
    a YouTube channel only (``edit``). A refusal names the request's field (FieldError)."""
    _refuse_nul(request)
    with _field("title"):
        title = request.title.strip()
        if not title:
            raise UsageError(_("the title must not be empty"))
    with _field("type"):
        task_type = parse_choice(TaskType, request.type, "type")
    with _field("media_mode"):
        media_mode = parse_choice(MediaMode, request.media_mode, "media mode")
    with _field("repeat"):
        repeat = parse_choice(RepeatType, request.repeat, "repeat")
    with _field("settings"):
        settings = _settings(request.settings)
        if request.publish_at is not None and settings.get(TaskSetting.PUBLISH_AT) is not None:
            raise UsageError(_("give --publish-at or --set publish_at, not both"))
    taken = channels.take(
        workspace.config,
        channel=request.channel,
        tz=request.tz,
        privacy=request.privacy,
        publish_given=request.publish_at is not None,
        explicit=settings,
        use_profiles=use_profiles,
    )
    sources = dict(taken.sources)
    with _field("tz"):  # a profile's zone was checked with the configuration
        tz = zone(taken.tz_name)
    warnings: list[str] = []
    with _field("privacy"):
        privacy = parse_choice(Privacy, request.privacy, "privacy") if request.privacy else None
    if privacy is not None:
        sources["privacy"] = Source.OPTION.value
    else:
        privacy = taken.privacy
    publish_time = None
    if request.publish_at is not None:
        with _field("publish_at"):
            publish_time = _publish_time(request.publish_at, tz, now, check=check_publish)
        sources["publish_at"] = Source.OPTION.value
    if publish_time is not None or settings.get(TaskSetting.PUBLISH_AT) is not None:
        if privacy is not Privacy.PRIVATE:
            warnings.append(
                _(
                    "--publish-at needs a private video (YouTube publishes it at that time): "
                    "privacy {privacy} changed to private"
                ).format(privacy=(privacy or Privacy.PUBLIC).value)
            )
            sources["privacy"] = Source.OPTION.value
        privacy = Privacy.PRIVATE
    sources.setdefault("privacy", Source.DEFAULT.value)
    with _field("max_retry"):
        if request.max_retry is not None and request.max_retry < 0:
            raise UsageError(_("--max-retry must be 0 or more"))
    with _field("product_info"):
        product_info = _product_info(request.product_info)
    settings = {**settings, **taken.settings}
    settings["mediaMode"] = media_mode.value
    if request.review is not None:  # --review / --no-review: an option, over the profile
        settings["review"] = request.review
        sources["review"] = Source.OPTION.value
    settings.setdefault("format", task_type.value)
    channels.record(settings, taken, sources)
    with _field("images"):
        images = _images(request.images, media_mode)
    with _field("media_mode"):
        _check_generator(workspace, media_mode)
    if taken.channel is not None:
        with _field("channel"):
            _check_channel(workspace, taken.channel)
    if media_mode is MediaMode.UPLOAD and not images:
        warnings.append(
            "upload mode without --image: put scene_01.png ... in the task folder "
            "before the video stage runs"
        )
    with _field("at"):
        if request.at is not None:
            wall, instant = parse_local(request.at, tz)
        else:
            wall, instant = now.astimezone(tz).replace(tzinfo=None), now
    recurrence = Recurrence(repeat, wall, taken.tz_name)
    next_run = recurrence.first_run(instant, now)
    if repeat is RepeatType.ONCE and request.at is not None and instant < now:
        warnings.append(f"{request.at} is in the past: the task runs at the next tick")
    return PreparedTask(
        title=title,
        task_type=task_type,
        media_mode=media_mode,
        recurrence=recurrence,
        scheduled_time=to_db(instant) if request.at is not None else None,
        next_run_at=to_db(next_run),
        privacy=privacy or Privacy.PUBLIC,
        publish_time=publish_time,
        channel=taken.channel,
        product_info=product_info,
        settings=settings,
        images=images,
        user=request.user,
        max_retry=request.max_retry,
        warnings=warnings,
        profile=taken.profile,
    )


def _check_generator(workspace: Workspace, media_mode: MediaMode) -> None:
    """A generated mediaMode must have something to make its pictures (docs/stages.md, "Generated
    pictures, clips and stock photos"), and no key the task's stages read may be in a file
    that the stage would refuse."""
    from autoqueue.stages.providers import generator_problem, open_key_problem

    home, config = workspace.home, workspace.config
    problem = generator_problem(home, config, media_mode.value) or open_key_problem(
        home, config, media_mode.value
    )
    if problem is not None:
        raise UsageError(problem)


def _check_channel(workspace: Workspace, channel: str) -> None:
    """With the YouTube uploader on, a task's channel must be one that has been authorised."""
    from autoqueue.youtube import auth

    auth.validate_channel(channel)
    if workspace.config.handler(QueueType.YOUTUBE) != "youtube":
        return
    known = auth.channels(workspace.home)
    if channel not in known:
        raise UsageError(
            _(
                "unknown channel {channel!r} (authorised: {value}; add it with `autoqueue "
                "youtube auth --channel {channel} --client-secrets FILE`)"
            ).format(channel=channel, value=", ".join(known) or "none")
        )


def add_task(
    workspace: Workspace, conn: Connection, prepared: PreparedTask, now: datetime
) -> Added:
    """Create the task, its schedule and (when due) its first run in one transaction. The user's
    images are copied in before the commit and removed if it fails: an error leaves nothing."""
    return add_tasks(workspace, conn, [prepared], now)[0]


def add_tasks(
    workspace: Workspace,
    conn: Connection,
    prepared: list[PreparedTask],
    now: datetime,
    *,
    source: str | None = None,
) -> list[Added]:
    """Create every task of ``prepared`` as :func:`add_task` does, all in ONE transaction: all
    of them, or (on any error) none, and no folder left behind. ``source`` (a batch file's
    name) goes into each task's first log row."""
    from autoqueue.queue.policy import Policy

    task_ids = [str(uuid.uuid4()) for _task in prepared]
    staged: list[Path] = []  # folders of ours to remove until the commit succeeds
    try:
        for task_id, one in zip(task_ids, prepared, strict=True):
            if one.images:
                staging = workspace.tasks_dir / f".adding-{task_id}"
                staging.mkdir(parents=True)
                staged.append(staging)
                for index, image in enumerate(one.images, start=1):
                    shutil.copyfile(image, staging / scene_name(index, image.suffix))
        policy = Policy.from_config(workspace.config)
        with transaction(conn):
            added = [
                _insert(conn, task_id, one, policy, now, source)
                for task_id, one in zip(task_ids, prepared, strict=True)
            ]
            for index, staging in enumerate(staged):
                task_dir = workspace.task_dir(staging.name.removeprefix(".adding-"))
                staging.rename(task_dir)
                staged[index] = task_dir
        staged = []
    finally:
        for folder in staged:
            shutil.rmtree(folder, ignore_errors=True)
    return added


def _insert(
    conn: Connection,
    task_id: str,
    prepared: PreparedTask,
    policy: Policy,
    now: datetime,
    source: str | None,
) -> Added:
    """One task's rows, inside the caller's transaction."""
    from autoqueue.queue.occurrences import enqueue_occurrence

    stamp = to_db(now)
    tasks_repo.insert(
        conn,
        Task.model_construct(  # validated already: values go in as they are
            id=task_id,
            title=prepared.title,
            type=prepared.task_type,
            user_id=prepared.user,
            product_info=prepared.product_info,
            settings=prepared.settings,
            max_retry=prepared.max_retry,
            created_at=stamp,
            updated_at=stamp,
        ),
    )
    schedule = schedules_repo.insert(
        conn,
        task_id=task_id,
        scheduled_time=prepared.scheduled_time,
        repeat_type=prepared.recurrence.repeat.value,
        repeat_config=prepared.recurrence.config(),
        next_run_at=prepared.next_run_at,
        channel=prepared.channel,
        privacy=prepared.privacy.value,
        publish_time=prepared.publish_time,
        now=stamp,
    )
    metadata = {
        "type": prepared.task_type.value,
        "mediaMode": prepared.media_mode.value,
        "repeat": prepared.recurrence.repeat.value,
    }
    if prepared.profile is not None:
        metadata["channelProfile"] = prepared.profile
    if source is not None:
        metadata["from"] = source
    logs_repo.add(
        conn,
        task_id,
        LogLevel.INFO,
        _("task added: {title}").format(title=prepared.title),
        now=stamp,
        metadata=metadata,
    )
    queued = False
    next_run_at = schedule.next_run_at
    if prepared.next_run_at <= stamp:
        queued = enqueue_occurrence(conn, schedule, policy, now) is not None
        if queued:  # the occurrence moved the schedule on
            moved = schedules_repo.get(conn, schedule.id)
            next_run_at = moved.next_run_at if moved else None
    return Added(
        task_id=task_id,
        schedule_id=schedule.id,
        next_run_at=next_run_at,
        queued=queued,
        warnings=prepared.warnings,
    )
