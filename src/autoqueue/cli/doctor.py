"""``autoqueue doctor``: what an unattended install needs, checked one by one, each failure with
the fix. Nothing here changes anything but a YouTube token that Google refreshes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from autoqueue.config import CONFIG_NAME, load_config
from autoqueue.errors import (
    AutoqueueError,
    ParkStageError,
    PermanentStageError,
    ReadOnlyError,
    TransientStageError,
)
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.timeutil import utcnow

if TYPE_CHECKING:
    from autoqueue.workspace import Workspace

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 2 * 1024**3  # a few long renders and their archived runs
HANGUL_SAMPLE = "가나다라마바사 한글 영상"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def run_checks(home: Path, database: str | None) -> list[Check]:
    """Every check, in the order a new install meets them."""
    checks: list[Check] = []
    try:
        config = load_config(home / CONFIG_NAME)
        checks.append(Check("config", OK, _("{value} is valid").format(value=home / CONFIG_NAME)))
    except AutoqueueError as exc:
        checks.append(
            Check(
                "config",
                FAIL,
                str(exc),
                _("fix {CONFIG_NAME} (see README)").format(CONFIG_NAME=CONFIG_NAME),
            )
        )
        return checks
    from autoqueue.workspace import Workspace

    workspace = Workspace.load(home, database)
    checks.append(_database(workspace))
    checks += _stage_programs(workspace)
    checks.append(_font(config.stage(QueueType.IMAGE).font, home))
    video = config.stage(QueueType.VIDEO)
    checks.append(_ffmpeg(video.ffmpeg, home, captions=video.captions))
    checks.append(_music(video.music, home))
    checks.append(_disk(home))
    checks += _youtube(workspace)
    checks += _providers(workspace)
    if config.notify.enabled:
        checks.append(_notify(workspace))
    checks += caps_tomorrow(workspace, utcnow())
    checks.append(_scheduler(workspace))
    return checks


def _notify(workspace: Workspace) -> Check:
    """Whether Apprise can read every [notify] URL (nothing is sent: `notify test` sends)."""
    from autoqueue.notify.targets import targets

    found = targets(workspace.config.notify.urls)
    unreadable = [t.shown for t in found if not t.readable]
    if unreadable:
        return Check(
            "notify",
            FAIL,
            _("Apprise cannot read {urls}").format(urls=", ".join(unreadable)),
            _("check the URL against Apprise's list of services (docs/notifications.md)"),
        )
    return Check(
        "notify",
        OK,
        _("{count} URL(s): {urls}; `autoqueue notify test` sends a test message").format(
            count=len(found), urls=", ".join(t.shown for t in found)
        ),
    )


def caps_tomorrow(workspace: Workspace, now: datetime) -> list[Check]:
    """Will YouTube's daily quota or an AI provider's daily cap stop tomorrow's schedules?
    (autoqueue.tasks.forecast says how tomorrow's need is estimated.)"""
    from autoqueue.tasks.forecast import outlook

    try:
        with closing(workspace.connect(create=False)) as conn:
            found = outlook(conn, workspace, workspace.zone_name, now)
    except AutoqueueError:
        return []  # the database check says why
    if found.over:
        return [Check("caps", WARN, detail, fix) for detail, fix in found.over]
    text = _("no daily cap stops tomorrow's {runs} scheduled run(s) ({day})").format(
        runs=found.runs, day=found.day.isoformat()
    )
    return [Check("caps", OK, "; ".join([text, *found.summary]))]


def _database(workspace: object) -> Check:
    from autoqueue.worker.start import check_identity
    from autoqueue.workspace import Workspace

    assert isinstance(workspace, Workspace)
    try:
        conn = workspace.connect(create=False)
    except ReadOnlyError as exc:
        # `init` cannot help: the database is there, but nothing may be written beside it.
        return Check(
            "database", FAIL, str(exc), _("mount it read-write, or let this user write it")
        )
    except AutoqueueError as exc:
        return Check("database", FAIL, str(exc), _("run `autoqueue init` (with the same --db)"))
    try:
        check_identity(workspace, conn)
        tasks = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
    except AutoqueueError as exc:
        return Check("database", FAIL, str(exc), _("point --home at the database's own home"))
    finally:
        conn.close()
    return Check(
        "database",
        OK,
        _("{database}: readable, {tasks} task(s)").format(database=workspace.database, tasks=tasks),
    )


def _stage_programs(workspace: object) -> list[Check]:
    from autoqueue.workspace import Workspace

    assert isinstance(workspace, Workspace)
    return [
        _stage_program(queue_type, stage.command, workspace.home)
        for queue_type, stage in workspace.config.stages.items()
        if stage.command
    ]


def _stage_program(queue_type: QueueType, command: list[str], home: Path) -> Check:
    """The stage's program is found, and so is the script a Python program is given."""
    from autoqueue.stages.command import expand_argv

    name = f"stage {queue_type.value}"
    program = expand_argv(command, home)[0]
    found = shutil.which(program) or (Path(program).is_file() and program)
    if not found:
        return Check(
            name,
            FAIL,
            _("its program {program!r} is not found").format(program=program),
            _("install it, or give its absolute path in [stages.{value}]").format(
                value=queue_type.value
            ),
        )
    script = python_script(command)
    if script is None:
        return Check(name, OK, _("runs {found}").format(found=found))
    # As the stage resolves it (expand_argv): from the home, else the task folder it runs in,
    # where nothing but the stage's own files is.
    path = Path(script) if Path(script).is_absolute() else home / script
    if not path.is_file():
        return Check(
            name,
            FAIL,
            _("its script {script!r} is not there: looked for {path}").format(
                script=script, path=path
            ),
            _(
                "put it in the home (a relative path is taken from there), or give its absolute "
                "path in [stages.{value}]"
            ).format(value=queue_type.value),
        )
    return Check(name, OK, _("runs {found}").format(found=f"{found} {path}"))


_PYTHON = re.compile(r"(python|pypy)[0-9.]*(\.exe)?", re.IGNORECASE)


def python_script(command: list[str]) -> str | None:
    """The script a Python stage program runs (its first argument that is not an option), or
    None: another program, or Python given a module (-m) or code (-c) instead of a file."""
    if not command or not (command[0] == "{python}" or _PYTHON.fullmatch(Path(command[0]).name)):
        return None
    args = iter(command[1:])
    for arg in args:
        if arg == "-":  # the program on standard input
            return None
        if arg.startswith("--"):
            continue
        if not arg.startswith("-"):
            return arg
        if set(arg[1:]) & {"c", "m"}:
            return None
        if arg[-1] in "WX":  # -W and -X take the next argument as their value
            next(args, None)
    return None


def _font(setting: str | None, home: Path) -> Check:
    from autoqueue.stages import fonts

    if setting is not None:
        path: str | None = str(Path(setting) if Path(setting).is_absolute() else home / setting)
    else:
        path = fonts.find_cjk_font()
    if path is None:
        return Check(
            "font",
            FAIL,
            _("no font that draws Hangul was found: Korean titles would come out blank"),
            _(
                "install one (Debian/Ubuntu: apt-get install fonts-nanum) or set [stages.image] "
                "font"
            ),
        )
    try:
        missing = fonts.missing_glyphs(fonts.load(path, 48), HANGUL_SAMPLE.replace(" ", ""))
    except OSError as exc:
        return Check(
            "font",
            FAIL,
            _("{path} cannot be read: {exc}").format(path=path, exc=exc),
            _("set [stages.image] font"),
        )
    if missing:
        return Check(
            "font",
            FAIL,
            _("{path} cannot draw {value}").format(path=path, value="".join(sorted(missing))),
            _("choose a font with Hangul in [stages.image] font"),
        )
    return Check("font", OK, _("{path} draws Hangul").format(path=path))


def _ffmpeg(setting: str | None, home: Path, *, captions: bool) -> Check:
    from autoqueue.stages.ffmpeg import binary

    try:
        ffmpeg = binary(setting, home)
        result = subprocess.run(
            [ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30
        )
    except (PermanentStageError, OSError, subprocess.TimeoutExpired) as exc:
        return Check(
            "ffmpeg", FAIL, str(exc), _("see [stages.video] ffmpeg in docs/configuration.md")
        )
    if result.returncode != 0:
        return Check(
            "ffmpeg",
            FAIL,
            _("{ffmpeg} -version exited {returncode}").format(
                ffmpeg=ffmpeg, returncode=result.returncode
            ),
            "",
        )
    first = (result.stdout.splitlines() or ["ffmpeg"])[0]
    if captions:
        # The captions are drawn by libass on a transparent strip (its alpha option: FFmpeg 5.1).
        try:
            filters = subprocess.run(
                [ffmpeg, "-hide_banner", "-h", "filter=subtitles"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check("ffmpeg", FAIL, str(exc), "")
        if "alpha" not in filters.stdout:
            return Check(
                "ffmpeg",
                FAIL,
                _("{first}: it cannot draw captions (libass and FFmpeg 5.1 or later)").format(
                    first=first
                ),
                _(
                    "leave [stages.video] ffmpeg unset for the bundled one, install a newer "
                    "ffmpeg, or set captions = false"
                ),
            )
    return Check("ffmpeg", OK, first)


def _music(setting: str | None, home: Path) -> Check:
    """Background music: the configured file or folder, else the home's music/ folder. None is
    only a warning: the pauses between lines are then silent."""
    from autoqueue.stages.video import MUSIC_FOLDER, music_tracks

    if setting:
        path = Path(setting).expanduser()
        path = path if path.is_absolute() else home / path
        if path.is_file() or music_tracks(path):
            return Check("music", OK, str(path))
        return Check(
            "music", FAIL, _("{path}: no audio file there").format(path=path),
            _("fix [stages.video] music"),
        )  # fmt: skip
    tracks = music_tracks(home / MUSIC_FOLDER)
    if tracks:
        return Check(
            "music", OK, _("{folder}: {count} audio file(s)").format(
                count=len(tracks), folder=home / MUSIC_FOLDER
            ),
        )  # fmt: skip
    return Check(
        "music",
        WARN,
        _("no background music: {folder} is empty, so the pauses between lines are silent").format(
            folder=home / MUSIC_FOLDER
        ),
        _("put royalty-free tracks (mp3, wav, m4a, ...) there, or set [stages.video] music"),
    )


def _disk(home: Path) -> Check:
    usage = shutil.disk_usage(home)
    free = _("{gb:.1f} GB free on the home's disk").format(gb=usage.free / 1024**3)
    if usage.free < MIN_FREE_BYTES:
        return Check("disk", WARN, free, _("free some space, or run `autoqueue cleanup`"))
    return Check("disk", OK, free)


def _youtube(workspace: object) -> list[Check]:
    from autoqueue.workspace import Workspace
    from autoqueue.youtube import auth

    assert isinstance(workspace, Workspace)
    if workspace.config.handler(QueueType.YOUTUBE) != "youtube":
        return []
    names = auth.channels(workspace.home)
    if not names:
        return [
            Check(
                "youtube",
                FAIL,
                _("the youtube stage uploads, but no channel is authorised"),
                _("run `autoqueue youtube auth --channel NAME --client-secrets FILE`"),
            )
        ]
    token_uri = workspace.config.youtube.token_uri
    checks = []
    for name in names:
        status = auth.check_channel(workspace.home, name, token_uri)
        checks.append(
            Check(
                f"youtube {name}",
                OK if status.valid else FAIL,
                status.detail,
                "" if status.valid else f"run `autoqueue youtube auth --channel {name}` again",
            )
        )
    return checks


def _providers(workspace: Workspace) -> list[Check]:
    """Each AI provider a stage would use: its key is found and accepted, and its model is
    there (one free request each: the provider's model lookup). The script writer's provider
    must work; a generated mediaMode's provider without a key is left out (`add` refuses that
    mediaMode, naming the setting)."""
    from autoqueue.stages import providers

    config = workspace.config
    uses = ["llm"] if config.handler(QueueType.SCRIPT) == "llm" else []
    if config.handler(QueueType.VIDEO) == "ffmpeg" and not config.stage(QueueType.VIDEO).generator:
        uses += [
            mode
            for mode in ("dalle3", "imagen3", "sora2")
            if providers.generator_problem(workspace.home, config, mode) is None
        ]
    checks = []
    for use in uses:
        try:
            found, model, setting = providers.for_use(workspace, use)
            providers.probe(found, model, setting)
        except (PermanentStageError, TransientStageError, ParkStageError) as exc:
            checks.append(Check(use, FAIL, str(exc)))
            continue
        detail = _("{where} accepts the key and has {model}").format(where=found.where, model=model)
        checks.append(Check(use, OK, detail + _spent_today(workspace, found.provider)))
    from autoqueue.stages.stock import in_use

    if in_use(workspace.home, config):
        checks += _stock(workspace)
    return checks


def _spent_today(workspace: Workspace, provider: str) -> str:
    """ "; today (UTC): N requests, about $X" from the spend ledger, or "" without a database."""
    from autoqueue.repo import state as state_repo
    from autoqueue.stages.providers import ledger_names
    from autoqueue.timeutil import utcnow

    day = utcnow().date().isoformat()
    requests, dollars = ledger_names(provider)
    try:
        conn = workspace.connect(create=False)
    except AutoqueueError:
        return ""
    try:
        used = state_repo.quota_used(conn, requests, day)
        cost = state_repo.quota_used(conn, dollars, day) / 1_000_000
    finally:
        conn.close()
    return _("; today (UTC): {requests} requests, about ${cost:.2f}").format(
        requests=used, cost=cost
    )


def _stock(workspace: Workspace) -> list[Check]:
    """Each stock source with a key answers a search; none with a key fails."""
    from autoqueue.stages import stock
    from autoqueue.stages.providers import find_key

    config = workspace.config.stock
    checks = []
    for source in config.sources:
        try:
            key = find_key(workspace.home, source, stock.KEY_ENV[source])
            if key is None:
                continue
            stock.StockApi(source, key, config).search("sea", True, "en")
        except (PermanentStageError, TransientStageError, ParkStageError) as exc:
            checks.append(Check(source, FAIL, str(exc)))
            continue
        detail = _("{name} accepts the key and answers a search").format(name=stock.NAMES[source])
        checks.append(Check(source, OK, detail))
    if not checks:
        wanted, _files = stock.key_places(config)
        checks.append(
            Check(
                "stock",
                FAIL,
                _('[stages.image] handler = "stock" has no key: set {wanted}').format(
                    wanted=wanted
                ),
            )
        )
    return checks


def _scheduler(workspace: object) -> Check:
    """Something must run the queue: a crontab line for this home, or a live worker (one that
    holds the leader's lease, or owns an item, with its lease running)."""
    from autoqueue.workspace import Workspace

    assert isinstance(workspace, Workspace)
    home = str(workspace.home)
    if sys.platform != "win32" and shutil.which("crontab"):
        listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
        for line in listed.stdout.splitlines():
            if not line.lstrip().startswith("#") and "autoqueue" in line and home in line:
                return Check("scheduler", OK, _("a crontab line runs `tick` for this home"))
    try:
        conn = workspace.connect(create=False)
    except AutoqueueError:
        conn = None
    if conn is not None:
        try:
            from autoqueue.repo import lock as lock_repo
            from autoqueue.store.db import clock
            from autoqueue.timeutil import to_db
            from autoqueue.worker.lease import LOCK_NAME

            holder = lock_repo.holder(conn, LOCK_NAME)
            now = to_db(clock(conn)())
            if holder is not None and holder["expires_at"] and str(holder["expires_at"]) > now:
                return Check(
                    "scheduler",
                    OK,
                    _("a worker runs the queue ({locked_by})").format(
                        locked_by=holder["locked_by"]
                    ),
                )
        finally:
            conn.close()
    return Check(
        "scheduler",
        WARN,
        _("no crontab line for this home and no worker running: nothing will run the queue"),
        _(
            "run `autoqueue cron --install`, or a worker under systemd "
            '(README "Running unattended")'
        ),
    )
