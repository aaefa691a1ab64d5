"""The task commands: init, add, list, show, stop, retry, logs, contents, cleanup, schema, watch;
and doctor and voices, about this machine."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import dataclasses
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from autoqueue.cli import JsonOption, LimitOption, _state, app, output
from autoqueue.errors import UsageError
from autoqueue.i18n import _


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database, tasks/ and a commented autoqueue.toml (safe to run again)."""
    from autoqueue.tasks.home import init_home

    state = _state(ctx)
    made = init_home(state.workspace)
    for path in made:
        output.info(_("created {path}").format(path=path))
    output.info(_("autoqueue home ready: {home}").format(home=state.workspace.home))


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
        int | None,
        typer.Option("--max-retry", min=0, max=1000, help="Retries for this task's stages."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a task; prints its id."""
    from autoqueue.tasks.add import AddRequest, add_task, prepare_add
    from autoqueue.timeutil import utcnow

    state = _state(ctx)
    request = AddRequest(
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
    prepared = prepare_add(state.workspace, request, now)
    with state.connect() as conn:
        added = add_task(state.workspace, conn, prepared, now)
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
    """Show one tab of the queue (schedule, script, image, video, youtube, failed, completed),
    or the count of every tab."""
    from autoqueue.repo import queue as queue_repo

    state = _state(ctx)
    chosen = None
    if tab is not None:
        # the tab's name is read only when a tab is named: the counts alone need none of it.
        from autoqueue.tasks.choices import parse_tab

        chosen = parse_tab(tab)
    with state.connect(read_only=True) as conn:
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
def tasks(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every task: its kind, its schedules (next run in each schedule's own zone), its state
    (running, waiting, failed, paused, done), its last run and YouTube URL."""
    from autoqueue.tasks.views import list_tasks

    state = _state(ctx)
    with state.connect(read_only=True) as conn:
        listed = list_tasks(conn)
    if as_json:
        output.emit_json(listed)
    else:
        output.task_rows(listed, state.tz)


@app.command()
def doctor(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check what an unattended install needs (database, config, stage programs, a Hangul
    font, ffmpeg, free disk, YouTube tokens, something that runs the queue) and say what to fix.
    Exits 1 when a check fails."""
    from autoqueue.cli import doctor as doctor_checks

    state = _state(ctx)
    checks = doctor_checks.run_checks(state.home.expanduser().resolve(), state.db)
    if as_json:
        output.emit_json([asdict(check) for check in checks])
    else:
        output.doctor_rows(checks)
    if any(check.status == doctor_checks.FAIL for check in checks):
        raise typer.Exit(1)


@app.command()
def voices(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The voices this machine can narrate with, by language: piper's neural voices (installed
    wheels and HOME/voices), eSpeak NG's built-in ones, and the online engines; and how to add
    a piper voice."""
    from autoqueue.voices.catalog import catalog

    found = catalog(_state(ctx).home.expanduser().resolve())
    if as_json:
        output.emit_json(found.as_json())
    else:
        output.voice_rows(found)


@app.command()
def show(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    as_json: JsonOption = False,
) -> None:
    """A task with its schedules, queue history, outputs and recent logs."""
    from autoqueue.tasks.views import show_task
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)  # a bad id is refused before the database is opened
    with state.connect(read_only=True) as conn:
        detail = show_task(state.workspace, conn, task)
    if as_json:
        output.emit_json(detail)
    else:
        output.task_detail(detail, state.tz)


@app.command()
def stop(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    as_json: JsonOption = False,
) -> None:
    """Stop a task: fail its running item, drop its waiting ones, deactivate its schedules, and
    kill the programs autoqueue started for it (never anything else)."""
    from autoqueue.tasks.control import stop_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)  # a bad id is refused before the database is opened
    with state.connect() as conn:
        result = stop_task(state.workspace, conn, task, utcnow())
    if as_json:
        output.emit_json(asdict(result))
        return
    for line in output.stop_lines(result):
        output.info(line)
    for note in result.not_killed:
        output.warning(note)


@app.command()
def pause(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
) -> None:
    """Turn a task's schedules off (a run in flight goes on; `stop` ends it)."""
    from autoqueue.tasks.control import pause_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)
    with state.connect() as conn:
        paused = pause_task(conn, task, utcnow())
    output.info(_("paused {paused} schedule(s)").format(paused=paused))


@app.command()
def resume(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    as_json: JsonOption = False,
) -> None:
    """Turn a paused or stopped task's schedules back on, from the next occurrence after now."""
    from autoqueue.tasks.control import resume_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)
    with state.connect() as conn:
        schedules = resume_task(conn, task, utcnow())
    if as_json:
        output.emit_json(schedules)
        return
    for schedule in schedules:
        output.info(
            _("schedule {id}: {value}").format(
                id=schedule["id"], value=output.schedule_text(schedule)
            )
        )


@app.command()
def edit(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help='First run, "YYYY-MM-DD HH:MM" in --tz.')
    ] = None,
    repeat: Annotated[
        str | None, typer.Option("--repeat", help="once | daily | weekly | monthly")
    ] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA zone, e.g. Asia/Seoul.")] = None,
    privacy: Annotated[
        str | None, typer.Option("--privacy", help="public | unlisted | private")
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="YouTube channel name.")] = None,
    publish_at: Annotated[
        str | None, typer.Option("--publish-at", help="YouTube publish time (makes it private).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a task's title or its schedule, checked as `add` checks them. The next run is
    computed again only when --at, --repeat or --tz changes."""
    from autoqueue.tasks.edit import EditRequest, edit_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)
    request = EditRequest(
        title=title,
        at=at,
        repeat=repeat,
        tz=tz,
        privacy=privacy,
        channel=channel,
        publish_at=publish_at,
    )
    if request == EditRequest():
        raise UsageError(
            _(
                "nothing to change: give --title, --at, --repeat, --tz, --privacy, --channel or "
                "--publish-at"
            )
        )
    with state.connect() as conn:
        schedule, warnings = edit_task(state.workspace, conn, task, request, utcnow())
    for warning in warnings:
        output.warning(warning)
    if as_json:
        output.emit_json(schedule)
        return
    output.info(
        _("schedule {id}: {value}").format(id=schedule["id"], value=output.schedule_text(schedule))
    )


@app.command()
def delete(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop a stage that runs (killing its programs) first.")
    ] = False,
    keep_files: Annotated[
        bool, typer.Option("--keep-files", help="Leave the task's folder (tasks/ID) on disk.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a task with its schedules, queue history and logs, and its folder unless
    --keep-files. Its contents stay in the library (without file paths when the files go)."""
    from autoqueue.tasks.control import delete_task
    from autoqueue.tasks.views import get_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)
    with state.connect() as conn:
        found = get_task(conn, task)
        question = (
            _("delete task {id} ({title})?")
            if keep_files
            else _("delete task {id} ({title}) and its folder?")
        )
        if not yes and not typer.confirm(question.format(id=found.id, title=found.title)):
            raise typer.Abort()
        deleted = delete_task(
            state.workspace, conn, found.id, utcnow(), stop_first=stop, keep_files=keep_files
        )
    if as_json:
        output.emit_json(asdict(deleted))
        return
    rows = deleted.rows
    text = _(
        "deleted task {id}: {schedules} schedule(s), {items} queue item(s), {logs} log row(s)"
    ).format(
        id=deleted.task_id,
        schedules=rows["schedules"],
        items=rows["queue_items"],
        logs=rows["logs"],
    )
    if deleted.files_removed:
        text += _(", and its folder")
    if rows["contents_kept"]:
        text += _("; {count} content row(s) kept").format(count=rows["contents_kept"])
    output.info(text)
    for killed in deleted.killed_processes:
        output.info(_("killed {name} (pid {pid})").format(name=killed["name"], pid=killed["pid"]))


@app.command()
def retry(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    reupload: Annotated[
        bool,
        typer.Option(
            "--reupload",
            help="YouTube: upload again even if an earlier upload may have reached YouTube.",
        ),
    ] = False,
) -> None:
    """The retry button: the task's failed item back to waiting with a fresh retry budget."""
    from autoqueue.tasks.control import retry_task
    from autoqueue.timeutil import utcnow
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    parse_task_ref(task)  # a bad id is refused before the database is opened
    with state.connect() as conn:
        item_id = retry_task(conn, task, utcnow(), reupload=reupload)
    if reupload:
        output.info(_("item {item} is waiting again (a new upload)").format(item=item_id))
    else:
        output.info(_("item {item} is waiting again").format(item=item_id))


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
        typer.Option(
            "--action",
            help="start | progress | complete | fail | retry | stop | skip | pause | resume",
        ),
    ] = None,
    limit: LimitOption = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new rows.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The log viewer, newest first (text and --json alike). --follow: the latest rows oldest
    first, then new rows as they come (with --json, one JSON object per line)."""
    from autoqueue.models import ActionType, LogLevel, QueueType
    from autoqueue.repo import logs as logs_repo
    from autoqueue.tasks.choices import parse_choice
    from autoqueue.tasks.views import get_task
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    if task is not None:
        parse_task_ref(task)
    filters = logs_repo.LogFilter(
        task_id=None,
        level=parse_choice(LogLevel, level, "level") if level else None,
        queue_type=parse_choice(QueueType, queue_type, "queue type") if queue_type else None,
        action=parse_choice(ActionType, action, "action") if action else None,
        limit=limit,
    )
    with state.connect(read_only=True) as conn:
        if task is not None:
            filters = dataclasses.replace(filters, task_id=get_task(conn, task).id)
        entries = logs_repo.query(conn, filters)
        if not follow:
            if as_json:
                output.emit_json([entry.model_dump(mode="json") for entry in entries])
            else:
                output.log_rows(entries, state.tz)  # newest first, as --json
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
    """The content library ("My contents"): one row per run, with its video and YouTube URL."""
    from autoqueue.repo import contents as contents_repo
    from autoqueue.workspace import parse_task_ref

    state = _state(ctx)
    if task is not None:
        parse_task_ref(task)
    with state.connect(read_only=True) as conn:
        task_id = None
        if task is not None:
            # only to find the task: the library needs none
            from autoqueue.tasks.views import get_task

            task_id = get_task(conn, task).id
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
    """Retention: delete completed queue rows, routine log rows, archived runs, outbox copies and
    attempt records older than --older-than (never warnings, errors or a run's start and end
    rows, nor the current run's files, nor anything of a running stage)."""
    from autoqueue.tasks import retention
    from autoqueue.timeutil import parse_duration, utcnow

    state = _state(ctx)
    parse_duration(older_than)
    now = utcnow()
    with state.connect() as conn:
        cleaned = retention.cleanup(conn, older_than, now, dry_run=dry_run)
        swept = retention.sweep_files(state.workspace, conn, older_than, now, dry_run=dry_run)
    if as_json:
        output.emit_json(
            {
                "deleted": 0 if dry_run else cleaned.queue_rows,
                "matched": cleaned.queue_rows,
                "log_rows_deleted": 0 if dry_run else cleaned.log_rows,
                "log_rows_matched": cleaned.log_rows,
                "cutoff": cleaned.cutoff,
                "dry_run": dry_run,
                "folders": swept.folders,
                "files": swept.files,
                "bytes": swept.bytes,
            }
        )
        return
    rows_text = (
        _("would delete {count} queue row(s) completed before {cutoff} UTC")
        if dry_run
        else _("deleted {count} queue row(s) completed before {cutoff} UTC")
    )
    output.info(rows_text.format(count=cleaned.queue_rows, cutoff=cleaned.cutoff))
    logs_text = (
        _("would delete {count} routine log row(s) written before {cutoff} UTC")
        if dry_run
        else _("deleted {count} routine log row(s) written before {cutoff} UTC")
    )
    output.info(logs_text.format(count=cleaned.log_rows, cutoff=cleaned.cutoff))
    folders = ", ".join(f"{n} {kind}" for kind, n in sorted(swept.folders.items())) or "0"
    files_text = (
        _("would delete {folders} folder(s): {files} file(s), {mb:.1f} MB")
        if dry_run
        else _("deleted {folders} folder(s): {files} file(s), {mb:.1f} MB")
    )
    output.info(files_text.format(folders=folders, files=swept.files, mb=swept.bytes / 1e6))


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="Which schema: story")] = "story",
) -> None:
    """Print a JSON Schema: `story` is what story.json must match (for your own script writer)."""
    from autoqueue.media.story import Story

    if name != "story":
        raise UsageError(_("unknown schema {name!r} (choose from: story)").format(name=name))
    output.emit_json(Story.model_json_schema())


@app.command()
def watch(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between refreshes.")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Draw one screen and exit.")] = False,
) -> None:
    """A live dashboard: tab counts, the items being processed, the latest logs (Ctrl-C quits)."""
    from rich.live import Live

    from autoqueue.repo import logs as logs_repo
    from autoqueue.repo import queue as queue_repo

    state = _state(ctx)
    with state.connect(read_only=True) as conn:

        def screen() -> Any:
            recent = logs_repo.query(conn, logs_repo.LogFilter(limit=8))
            return output.dashboard(
                queue_repo.tab_counts(conn),
                queue_repo.processing_rows(conn),
                list(reversed(recent)),
                state.tz,
            )

        if once:
            output.console().print(screen())
            return
        with Live(screen(), console=output.console(), refresh_per_second=4) as live:
            try:
                while True:
                    time.sleep(interval)
                    live.update(screen())
            except KeyboardInterrupt:
                return


@app.command()
def ui(
    ctx: typer.Context,
    web: Annotated[
        bool, typer.Option("--web", help="Serve the app to a browser instead (textual-serve).")
    ] = False,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to serve on with --web; off loopback, the page asks for a token.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to serve on with --web.")
    ] = 8000,
) -> None:
    """The queue's screen, full-screen: the seven tabs with live counts, every task, the log
    viewer; retry, stop, pause/resume, add and delete from the keyboard or the mouse."""
    from autoqueue.timeutil import utcnow

    state = _state(ctx)
    with state.connect():
        pass  # a home without a database is refused here, in one line
    if web:
        from autoqueue.cli import web as ui_web

        environ = {"AUTOQUEUE_HOME": str(state.workspace.home)}
        if state.db is not None:
            environ["AUTOQUEUE_DB"] = state.db
        token = ui_web.new_token(host)
        output.info(
            _("serving autoqueue ui on http://{host}:{port} (Ctrl-C stops)").format(
                host=host, port=port
            )
        )
        if token is not None:
            output.info(
                _("open it with its token: {url}").format(url=ui_web.address(host, port, token))
            )
            output.warning(
                _(
                    "{host} is not a loopback address: anyone with this address can act on the "
                    "queue, and plain HTTP does not hide it; an SSH tunnel to 127.0.0.1 is safer"
                ).format(host=host)
            )
        ui_web.serve(host, port, environ, token)
        return
    from autoqueue.cli.terminal import AutoqueueApp

    AutoqueueApp(state.workspace, state.tz, utcnow).run()
