"""The command line: each command parses, calls one function, renders. Nothing else."""

from __future__ import annotations

import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from autoqueue import output, service
from autoqueue.errors import AutoqueueError, DatabaseError, UsageError
from autoqueue.models import ActionType, LogLevel, QueueType
from autoqueue.repo import contents as contents_repo
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.timeutil import local_zone_name, utcnow
from autoqueue.workspace import Workspace, parse_task_id


class AutoqueueGroup(TyperGroup):
    """Turns every error we raise into one line on stderr and a non-zero exit, no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AutoqueueError as exc:
            output.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except sqlite3.DatabaseError as exc:
            output.error(f"database error: {exc}")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=AutoqueueGroup,
    help="Run a YouTube content pipeline (schedule → script → image → video → youtube) from cron.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (database column names).")]
LimitOption = Annotated[int, typer.Option("--limit", min=1, help="Show at most this many rows.")]


class State:
    """What the global options chose; the workspace is read only when a command needs it."""

    def __init__(self, home: Path, db: Path | None) -> None:
        self.home = home
        self.db = db
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.load(self.home, self.db)
        return self._workspace

    @property
    def tz(self) -> str:
        return self.workspace.config.timezone or local_zone_name()

    @contextmanager
    def connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        """Open the database; only commands that create things may create it."""
        workspace = self.workspace
        if not create and not workspace.db_path.exists():
            raise DatabaseError(
                f"no autoqueue database at {workspace.db_path} "
                "(run `autoqueue init` there, or pass --home / set AUTOQUEUE_HOME)"
            )
        conn = workspace.connect()
        try:
            yield conn
        finally:
            conn.close()


def _state(ctx: typer.Context) -> State:
    state = ctx.obj
    assert isinstance(state, State)
    return state


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[
        Path,
        typer.Option(
            "--home",
            envvar="AUTOQUEUE_HOME",
            help="Folder with autoqueue.db, tasks/ and autoqueue.toml.",
            show_default="current directory",
        ),
    ] = Path("."),
    db: Annotated[
        Path | None,
        typer.Option("--db", envvar="AUTOQUEUE_DB", help="Use this database file instead."),
    ] = None,
) -> None:
    """autoqueue: a queue that runs your content pipeline unattended."""
    ctx.obj = State(home, db)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database, tasks/ and a commented autoqueue.toml (safe to run again)."""
    state = _state(ctx)
    made = service.init_home(state.workspace)
    for path in made:
        output.info(f"created {path}")
    output.info(f"autoqueue home ready: {state.workspace.home}")


@app.command()
def add(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The video's title.")],
    task_type: Annotated[
        str, typer.Option("--type", help="shortform | longform | product")
    ] = "shortform",
    media_mode: Annotated[
        str, typer.Option("--media-mode", help="crawl | upload | dalle3 | imagen3 | sora2")
    ] = "crawl",
    at: Annotated[
        str | None,
        typer.Option("--at", help="First run, 'YYYY-MM-DD HH:MM' in --tz (default now)."),
    ] = None,
    repeat: Annotated[
        str, typer.Option("--repeat", help="once | daily | weekly | monthly")
    ] = "once",
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA zone for --at (default: config or this machine's)."),
    ] = None,
    privacy: Annotated[
        str | None, typer.Option("--privacy", help="public | unlisted | private")
    ] = None,
    publish_at: Annotated[
        str | None, typer.Option("--publish-at", help="YouTube publish time (forces private).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="YouTube channel setting.")
    ] = None,
    product_info: Annotated[
        str | None, typer.Option("--product-info", help="JSON, or @file with JSON.")
    ] = None,
    settings: Annotated[
        list[str] | None, typer.Option("--set", help="Extra setting key=value (repeatable).")
    ] = None,
    images: Annotated[
        list[Path] | None,
        typer.Option("--image", help="Image for upload mode (repeatable, in order)."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="user_id to record.")] = None,
    max_retry: Annotated[
        int | None, typer.Option("--max-retry", help="Retries for this task's stages.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a task; prints its id."""
    state = _state(ctx)
    request = service.AddRequest(
        title=title,
        type=task_type,
        media_mode=media_mode,
        at=at,
        repeat=repeat,
        tz=tz,
        privacy=privacy,
        publish_at=publish_at,
        channel=channel,
        product_info=product_info,
        settings=settings or [],
        images=images or [],
        user=user,
        max_retry=max_retry,
    )
    now = utcnow()
    prepared = service.prepare_add(state.workspace, request, now)
    with state.connect(create=True) as conn:
        added = service.add_task(state.workspace, conn, prepared, now)
    for message in added.warnings:
        output.warning(message)
    if as_json:
        output.emit_json(asdict(added))
    else:
        sys.stdout.write(added.task_id + "\n")


@app.command("list")
def list_tab(
    ctx: typer.Context,
    tab: Annotated[
        str | None,
        typer.Argument(
            help="schedule script image video youtube failed completed (or 예약큐, 대본큐, ...)"
        ),
    ] = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Show a tab of the seed's UI, or the count of every tab."""
    state = _state(ctx)
    chosen = service.parse_tab(tab) if tab is not None else None
    with state.connect() as conn:
        if chosen is None:
            counts = queue_repo.tab_counts(conn)
            if as_json:
                output.emit_json({tab.value: count for tab, count in counts.items()})
            else:
                output.tab_counts(counts)
            return
        rows = queue_repo.tab_rows(conn, chosen, limit)
    if as_json:
        output.emit_json(rows)
    else:
        output.queue_rows(chosen, rows, state.tz)


@app.command()
def show(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id.")],
    as_json: JsonOption = False,
) -> None:
    """A task with its schedules, queue history, outputs and recent logs."""
    state = _state(ctx)
    parse_task_id(task)
    with state.connect() as conn:
        detail = service.show_task(state.workspace, conn, task)
    if as_json:
        output.emit_json(detail)
    else:
        output.task_detail(detail, state.tz)


def _print_processed(done: Any) -> None:
    detail = f": {done.detail}" if done.detail else ""
    output.info(f"{done.queue_type.value:8} {done.task_id} {done.outcome}{detail}")


@contextmanager
def _stop_on_signals(scheduler: Any) -> Iterator[None]:
    """SIGTERM / Ctrl-C: stop claiming and let running stages finish within the grace period;
    a second signal kills them (their items go back to waiting)."""
    names = ["SIGINT", "SIGTERM", "SIGBREAK"]
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda *_: scheduler.request_stop())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_scheduler(
    state: State,
    *,
    drain: bool,
    max_seconds: float | None,
    forever: bool,
    grace: float,
    as_json: bool,
) -> None:
    from autoqueue.tick import Scheduler

    with state.connect():
        pass  # refuse a missing or foreign database before taking any lock
    scheduler = Scheduler(
        state.workspace, grace=grace, listener=None if as_json else _print_processed
    )
    with _stop_on_signals(scheduler):
        report = scheduler.run(
            drain=drain, max_seconds=max_seconds, forever=forever, wait_for_lock=forever
        )
    if as_json:
        output.emit_json(
            {
                "lock_holder": report.lock_holder,
                "enqueued": report.enqueued,
                "recovered": [
                    {"queue_id": r.item.id, "task_id": r.item.task_id, "reason": r.reason}
                    for r in report.recovered
                ],
                "processed": [asdict(p) for p in report.processed],
            }
        )
        return
    if report.lock_holder is not None:
        output.info(f"another tick holds the scheduler lock ({report.lock_holder}); nothing to do")
        return
    for recovered in report.recovered:
        output.info(
            f"recovered {recovered.item.queue_type.value} item {recovered.item.id} "
            f"of task {recovered.item.task_id}: {recovered.reason}"
        )
    if report.enqueued:
        output.info(f"enqueued {report.enqueued} scheduled run(s)")
    if not (report.processed or report.enqueued or report.recovered):
        output.info("nothing to do")


GraceOption = Annotated[
    float,
    typer.Option("--grace", min=0, help="On SIGTERM/Ctrl-C, seconds running stages get to finish."),
]


@app.command()
def tick(
    ctx: typer.Context,
    drain: Annotated[
        bool, typer.Option("--drain", help="Keep going until no work is ready.")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", min=0, help="Stop claiming after this long.")
    ] = None,
    grace: GraceOption = 30.0,
    as_json: JsonOption = False,
) -> None:
    """One scheduler round: recover, enqueue due schedules, run one item per queue."""
    _run_scheduler(
        _state(ctx),
        drain=drain,
        max_seconds=max_seconds,
        forever=False,
        grace=grace,
        as_json=as_json,
    )


@app.command()
def worker(ctx: typer.Context, grace: GraceOption = 30.0, as_json: JsonOption = False) -> None:
    """Run the queues until SIGTERM or Ctrl-C (for systemd or a terminal), instead of cron."""
    _run_scheduler(
        _state(ctx), drain=True, max_seconds=None, forever=True, grace=grace, as_json=as_json
    )


@app.command()
def stop(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id.")],
    as_json: JsonOption = False,
) -> None:
    """Stop a task: fail its running item, drop its waiting ones, deactivate its schedules, and
    kill the programs autoqueue started for it (never anything else)."""
    state = _state(ctx)
    parse_task_id(task)
    with state.connect() as conn:
        result = service.stop_task(state.workspace, conn, task, utcnow())
    if as_json:
        output.emit_json(asdict(result))
        return
    output.info(
        f"stopped {result.stopped_processing} processing item(s), deleted "
        f"{result.deleted_waiting} waiting item(s), deactivated "
        f"{result.deactivated_schedules} schedule(s)"
    )
    for killed in result.killed_processes:
        output.info(f"killed {killed['name']} (pid {killed['pid']})")
    if not result.killed_processes:
        output.info("no process of this task was running")
    for note in result.not_killed:
        output.warning(note)


@app.command()
def retry(ctx: typer.Context, task: Annotated[str, typer.Argument(help="Task id.")]) -> None:
    """The retry button: the task's failed item back to waiting with a fresh retry budget."""
    state = _state(ctx)
    parse_task_id(task)
    with state.connect() as conn:
        item_id = service.retry_task(conn, task, utcnow())
    output.info(f"item {item_id} is waiting again")


@app.command()
def logs(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Argument(help="Task id (default: every task).")] = None,
    level: Annotated[str | None, typer.Option("--level", help="info | warn | error")] = None,
    queue_type: Annotated[
        str | None, typer.Option("--queue-type", help="schedule | script | image | video | youtube")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="start | progress | complete | fail | retry | stop | skip"),
    ] = None,
    limit: LimitOption = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new rows.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Seed 14.4's log viewer, newest first. --follow: oldest first, then new rows as they come
    (with --json, one JSON object per line)."""
    state = _state(ctx)
    filters = logs_repo.LogFilter(
        task_id=parse_task_id(task) if task is not None else None,
        level=service.parse_choice(LogLevel, level, "level") if level else None,
        queue_type=service.parse_choice(QueueType, queue_type, "queue type")
        if queue_type
        else None,
        action=service.parse_choice(ActionType, action, "action") if action else None,
        limit=limit,
    )
    with state.connect() as conn:
        if filters.task_id is not None:
            service.get_task(conn, filters.task_id)
        entries = logs_repo.query(conn, filters)
        if not follow:
            if as_json:
                output.emit_json([entry.model_dump(mode="json") for entry in entries])
            else:
                output.log_rows(reversed(entries), state.tz)
            return
        last = _print_follow(list(reversed(entries)), as_json, state.tz, 0)
        try:
            while True:
                time.sleep(0.5)
                tail = logs_repo.query(
                    conn,
                    logs_repo.LogFilter(
                        task_id=filters.task_id,
                        level=filters.level,
                        queue_type=filters.queue_type,
                        action=filters.action,
                        after_id=last,
                    ),
                )
                last = _print_follow(tail, as_json, state.tz, last)
        except KeyboardInterrupt:
            return


def _print_follow(entries: list[Any], as_json: bool, tz: str, last: int) -> int:
    for entry in entries:
        if as_json:
            output.emit_json(entry.model_dump(mode="json"), lines=True)
        else:
            output.log_rows([entry], tz)
        last = max(last, entry.id)
    sys.stdout.flush()
    return last


@app.command()
def contents(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", help="Only this task's contents.")] = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """The contents rows ("My contents", seed section 13)."""
    state = _state(ctx)
    task_id = parse_task_id(task) if task is not None else None
    with state.connect() as conn:
        rows = contents_repo.list_contents(conn, task_id=task_id, limit=limit)
    if as_json:
        output.emit_json([row.model_dump(mode="json") for row in rows])
    else:
        output.content_rows(rows, state.tz)


@app.command()
def cleanup(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age such as 30d, 12h, 2w.")
    ] = "30d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Seed 7.2: delete completed queue rows older than --older-than (nothing else)."""
    state = _state(ctx)
    from autoqueue.timeutil import parse_duration

    parse_duration(older_than)
    with state.connect() as conn:
        count, cutoff = service.cleanup(conn, older_than, utcnow(), dry_run=dry_run)
    if as_json:
        output.emit_json(
            {
                "deleted": 0 if dry_run else count,
                "matched": count,
                "cutoff": cutoff,
                "dry_run": dry_run,
            }
        )
    else:
        verb = "would delete" if dry_run else "deleted"
        output.info(f"{verb} {count} completed queue row(s) completed before {cutoff} UTC")


def cron_lines(workspace: Workspace) -> dict[str, str]:
    """The crontab and schtasks lines for this home, with absolute paths (cron has no PATH)."""
    python = Path(sys.executable).resolve()
    home = workspace.home
    db_args = ["--db", str(workspace.db_path)] if workspace.db_path != home / "autoqueue.db" else []
    argv = [str(python), "-m", "autoqueue", "--home", str(home), *db_args, "tick"]
    log = home / "autoqueue-cron.log"
    crontab = (
        f"* * * * * cd {shlex.quote(str(home))} && {shlex.join(argv)} "
        f">> {shlex.quote(str(log))} 2>&1"
    )
    win_argv = subprocess.list2cmdline(argv)
    schtasks = subprocess.list2cmdline(
        [
            "schtasks",
            "/Create",
            "/F",
            "/SC",
            "MINUTE",
            "/MO",
            "1",
            "/TN",
            "autoqueue tick",
            "/TR",
            win_argv,
        ]
    )
    return {"crontab": crontab, "schtasks": schtasks}


@app.command()
def cron(
    ctx: typer.Context,
    install: Annotated[
        bool, typer.Option("--install", help="Add the line to this user's crontab (once).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the crontab line (and the Windows schtasks command) that runs `tick` every minute."""
    state = _state(ctx)
    lines = cron_lines(state.workspace)
    if install:
        _install_crontab(lines["crontab"])
    if as_json:
        output.emit_json(lines)
        return
    sys.stdout.write(f"# crontab (crontab -e):\n{lines['crontab']}\n")
    sys.stdout.write(f"# Windows Task Scheduler (cmd.exe):\n{lines['schtasks']}\n")


def _install_crontab(line: str) -> None:
    if sys.platform == "win32":
        raise UsageError("--install uses crontab; on Windows run the schtasks command printed")
    try:
        current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise UsageError("crontab is not installed on this machine") from exc
    existing = current.stdout if current.returncode == 0 else ""
    if line in existing.splitlines():
        output.info("the crontab already has this line")
        return
    new = existing + ("" if not existing or existing.endswith("\n") else "\n") + line + "\n"
    result = subprocess.run(
        ["crontab", "-"], input=new, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AutoqueueError(f"crontab refused the new table: {result.stderr.strip()}")
    output.info("installed in the crontab")


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Home to create (or reuse) for the demo.")
    ] = Path("autoqueue-demo"),
) -> None:
    """Add sample tasks in a fresh home and run the whole pipeline, offline, to real videos."""
    from autoqueue.demo import run_demo

    started = time.monotonic()
    results = run_demo(directory.expanduser().resolve(), output.stdout)
    output.info(f"\ndone in {time.monotonic() - started:.0f} s")
    failed = False
    for result in results:
        if result.video is not None:
            output.info(f"✅ {result.title}: {result.video}")
        else:
            failed = True
            output.error(f"{result.title}: {result.status}: {result.error or 'did not finish'}")
    home = directory.expanduser().resolve()
    output.info(f"local publishes (outbox): {home / 'outbox'}")
    output.info(f"look around: autoqueue --home {home} list completed | logs | contents")
    if failed:
        raise typer.Exit(1)


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="Which schema: story")] = "story",
) -> None:
    """Print a JSON Schema: `story` is what story.json must match (for your own script writer)."""
    from autoqueue.story import Story

    if name != "story":
        raise UsageError(f"unknown schema {name!r} (choose from: story)")
    output.emit_json(Story.model_json_schema())


youtube_app = typer.Typer(help="The YouTube uploader: authorise channels, check their tokens.")
app.add_typer(youtube_app, name="youtube")


@youtube_app.command("auth")
def youtube_auth(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help="A name for this channel.")],
    client_secrets: Annotated[
        Path,
        typer.Option("--client-secrets", help="The OAuth client file from Google Cloud Console."),
    ],
    port: Annotated[int, typer.Option("--port", min=0, help="Loopback port (0: any free).")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL instead of opening a browser.")
    ] = False,
) -> None:
    """Authorise autoqueue to upload to a channel (Google's installed-app flow on localhost)."""
    from autoqueue.youtube import auth

    state = _state(ctx)
    path = auth.authorize(
        state.workspace.home,
        channel,
        client_secrets.expanduser(),
        port=port,
        open_browser=not no_browser,
    )
    output.info(f"channel {channel} authorised; token saved to {path} (readable by you only)")
    if state.workspace.config.handler(QueueType.YOUTUBE) != "youtube":
        output.info('to upload, set [stages.youtube] handler = "youtube" in autoqueue.toml')


@youtube_app.command("channels")
def youtube_channels(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The authorised channels and whether each token still works (refreshing it if needed)."""
    from autoqueue.youtube import auth

    workspace = _state(ctx).workspace
    home, token_uri = workspace.home, workspace.config.youtube.token_uri
    statuses = [auth.check_channel(home, name, token_uri) for name in auth.channels(home)]
    if as_json:
        output.emit_json([asdict(status) for status in statuses])
        return
    if not statuses:
        output.info(
            "no channel yet: run `autoqueue youtube auth --channel NAME --client-secrets FILE`"
        )
    for status in statuses:
        mark = "✅" if status.valid else "❌"
        output.info(f"{mark} {status.channel}: {status.detail}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="autoqueue")
