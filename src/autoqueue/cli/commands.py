"""The task commands: init, add, list, tasks, show, stop, pause, resume, edit, delete, retry;
and doctor and voices, about this machine."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from autoqueue.cli import display, reads
from autoqueue.cli.app import JsonOption, LimitOption, State, _state, app
from autoqueue.errors import UsageError
from autoqueue.i18n import _


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database, tasks/ and a commented autoqueue.toml (safe to run again)."""
    from autoqueue.tasks.home import init_home

    state = _state(ctx)
    made = init_home(state.workspace)
    for path in made:
        display.info(_("created {path}").format(path=path))
    display.info(_("autoqueue home ready: {home}").format(home=state.workspace.home))


@app.command()
def add(
    ctx: typer.Context,
    title: Annotated[str | None, typer.Argument(help="The video's title.")] = None,
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
        str | None,
        typer.Option(
            "--channel",
            help="A channel profile (channels.NAME in autoqueue.toml), or a YouTube channel.",
        ),
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
    review: Annotated[
        bool | None,
        typer.Option(
            "--review/--no-review",
            help="Wait for `approve` before publishing (default: review.before in autoqueue.toml).",
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Add every row of a CSV or JSON Lines file (all or none); the options given "
            "with it are every row's defaults.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would be added; add nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a task and print its id, or every task of a file (--from)."""
    from autoqueue.tasks.add import AddRequest, add_tasks, prepare_add
    from autoqueue.timeutil import utcnow

    state = _state(ctx)
    given = {
        "type": task_type, "media_mode": media_mode, "at": at, "repeat": repeat, "tz": tz,
        "privacy": privacy, "publish_at": publish_at, "channel": channel,
        "product_info": product_info, "settings": settings or [], "images": images or [],
        "user": user, "max_retry": max_retry, "review": review,
    }  # fmt: skip
    now = utcnow()
    if source is not None:
        if title is not None:
            raise UsageError(_("give a TITLE or --from FILE, not both"))
        from autoqueue.tasks import batch

        parameters = {"type": "task_type", "settings": "settings", "images": "images"}
        chosen = {
            name: value
            for name, value in given.items()
            if _given(ctx, parameters.get(name, name)) and value not in (None, [])
        }
        rows = batch.read_batch(source, chosen)
        prepared = batch.prepare_batch(state.workspace, rows, now)
        lines = [row.line for row in rows.rows]
        where = str(source)
    elif title is None:
        raise UsageError(_("give the video's TITLE, or --from FILE"))
    else:
        request = AddRequest(title=title, **given)  # type: ignore[arg-type]
        prepared = [prepare_add(state.workspace, request, now)]
        lines, where = [0], None
    for line, one in zip(lines, prepared, strict=True):
        for message in one.warnings:
            if line:
                message = _("line {line}: {warning}").format(line=line, warning=message)
            display.warning(message)
    if dry_run:
        _show_dry_run(state, lines, prepared, as_json)
        return
    with state.connect() as conn:
        added = add_tasks(state.workspace, conn, prepared, now, source=where)
    if as_json:
        if source is None:
            display.emit_json(asdict(added[0]))
        else:
            display.emit_json(
                [{"line": line, **asdict(one)} for line, one in zip(lines, added, strict=True)]
            )
    else:
        sys.stdout.write("".join(one.task_id + "\n" for one in added))


def _given(ctx: typer.Context, parameter: str) -> bool:
    """Whether an option was given on the command line (or in the environment), not left at
    its default: beside --from, only those are every row's defaults."""
    source = ctx.get_parameter_source(parameter)
    return getattr(source, "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")


def _show_dry_run(state: State, lines: list[int], prepared: list[Any], as_json: bool) -> None:
    """``add --dry-run``: what would be added, as a table or JSON; nothing is written."""
    from autoqueue.cli.tables import batch_rows
    from autoqueue.tasks.batch import preview

    shown = preview(lines, prepared)
    if as_json:
        display.emit_json([planned.as_json() for planned in shown])
    else:
        batch_rows(shown, state.tz)


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
    reads.list_tab(_state(ctx).reader, tab, limit, as_json)


@app.command()
def tasks(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every task: its kind, its schedules (next run in each schedule's own zone), its state
    (running, waiting, failed, paused, done), its last run and YouTube URL."""
    reads.tasks(_state(ctx).reader, as_json)


@app.command()
def doctor(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check what an unattended install needs (database, config, stage programs, a Hangul
    font, ffmpeg, free disk, YouTube tokens, something that runs the queue) and say what to fix.
    Exits 1 when a check fails."""
    from autoqueue.cli import doctor as doctor_checks

    state = _state(ctx)
    checks = doctor_checks.run_checks(state.home.expanduser().resolve(), state.db)
    if as_json:
        display.emit_json([asdict(check) for check in checks])
    else:
        from autoqueue.cli import machine_display

        machine_display.doctor_rows(checks)
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
        display.emit_json(found.as_json())
    else:
        from autoqueue.cli import machine_display

        machine_display.voice_rows(found)


@app.command()
def show(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id, or its first characters.")],
    as_json: JsonOption = False,
) -> None:
    """A task with its schedules, queue history, outputs and recent logs."""
    reads.show(_state(ctx).reader, task, as_json)


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
        display.emit_json(asdict(result))
        return
    for line in display.stop_lines(result):
        display.info(line)
    for note in result.not_killed:
        display.warning(note)


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
    display.info(_("paused {paused} schedule(s)").format(paused=paused))


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
        display.emit_json([schedule.as_json() for schedule in schedules])
        return
    for schedule in schedules:
        display.info(
            _("schedule {id}: {value}").format(
                id=schedule.id, value=display.schedule_text(schedule)
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
        display.warning(warning)
    if as_json:
        display.emit_json(schedule.as_json())
        return
    display.info(
        _("schedule {id}: {value}").format(id=schedule.id, value=display.schedule_text(schedule))
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
        display.emit_json(asdict(deleted))
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
    display.info(text)
    for killed in deleted.killed_processes:
        display.info(_("killed {name} (pid {pid})").format(name=killed["name"], pid=killed["pid"]))


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
        display.info(_("item {item} is waiting again (a new upload)").format(item=item_id))
    else:
        display.info(_("item {item} is waiting again").format(item=item_id))
