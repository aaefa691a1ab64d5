"""What the queue keeps: the log viewer (logs), the content library (contents), retention
(cleanup) and what each day spent (usage); and schema, what story.json must match."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import sys
import time
from typing import Annotated, Any

import typer

from autoqueue.cli import display, reads
from autoqueue.cli.app import JsonOption, LimitOption, _state, app
from autoqueue.errors import UsageError
from autoqueue.i18n import _


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
    state = _state(ctx)
    query = reads.LogQuery(task, level, queue_type, action, limit)
    if not follow:
        reads.logs(state.reader, query, as_json)
        return
    from autoqueue.repo import logs as logs_repo
    from autoqueue.workspace import parse_task_ref

    if task is not None:
        parse_task_ref(task)
    workspace = state.reader
    with reads.reading(workspace) as conn:
        filters = reads.log_filter(conn, query)
        entries = logs_repo.query(conn, filters)
        last = _print_follow(list(reversed(entries)), as_json, workspace.display_zone, 0)
        try:
            while True:
                time.sleep(0.5)
                tail = logs_repo.query(conn, filters._replace(limit=None, after_id=last))
                last = _print_follow(tail, as_json, workspace.display_zone, last)
        except KeyboardInterrupt:
            return


def _print_follow(entries: list[Any], as_json: bool, tz: str, last: int) -> int:
    for entry in entries:
        if as_json:
            display.emit_json(entry.as_json(), lines=True)
        else:
            display.log_rows([entry], tz)
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
    reads.contents(_state(ctx).reader, task, limit, as_json)


@app.command()
def cleanup(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age such as 30d, 12h, 2w.")
    ] = "30d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Retention: delete completed queue rows, routine log rows, notifications sent or given up,
    archived runs, outbox copies and attempt records older than --older-than (never warnings,
    errors or a run's start and end rows, nor the current run's files, nor anything of a
    running stage)."""
    from autoqueue.tasks import retention
    from autoqueue.timeutil import parse_duration, utcnow

    state = _state(ctx)
    parse_duration(older_than)
    now = utcnow()
    with state.connect() as conn:
        cleaned = retention.cleanup(conn, older_than, now, dry_run=dry_run)
        swept = retention.sweep_files(state.workspace, conn, older_than, now, dry_run=dry_run)
    if as_json:
        display.emit_json(
            {
                "deleted": 0 if dry_run else cleaned.queue_rows,
                "matched": cleaned.queue_rows,
                "log_rows_deleted": 0 if dry_run else cleaned.log_rows,
                "log_rows_matched": cleaned.log_rows,
                "notifications_deleted": 0 if dry_run else cleaned.notifications,
                "notifications_matched": cleaned.notifications,
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
    display.info(rows_text.format(count=cleaned.queue_rows, cutoff=cleaned.cutoff))
    logs_text = (
        _("would delete {count} routine log row(s) written before {cutoff} UTC")
        if dry_run
        else _("deleted {count} routine log row(s) written before {cutoff} UTC")
    )
    display.info(logs_text.format(count=cleaned.log_rows, cutoff=cleaned.cutoff))
    if cleaned.notifications:
        notes_text = (
            _("would delete {count} notification(s) recorded before {cutoff} UTC")
            if dry_run
            else _("deleted {count} notification(s) recorded before {cutoff} UTC")
        )
        display.info(notes_text.format(count=cleaned.notifications, cutoff=cleaned.cutoff))
    folders = ", ".join(f"{n} {kind}" for kind, n in sorted(swept.folders.items())) or "0"
    files_text = (
        _("would delete {folders} folder(s): {files} file(s), {mb:.1f} MB")
        if dry_run
        else _("deleted {folders} folder(s): {files} file(s), {mb:.1f} MB")
    )
    display.info(files_text.format(folders=folders, files=swept.files, mb=swept.bytes / 1e6))


@app.command()
def usage(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="How many days back, today included.")
    ] = 7,
    as_json: JsonOption = False,
) -> None:
    """Per day and per channel: YouTube uploads and quota units used and left, AI requests and
    spend against the daily caps (from the ledgers), with each day's start in the home's zone."""
    from autoqueue.tasks.usage import usage_report
    from autoqueue.timeutil import utcnow

    state = _state(ctx)
    with state.connect(read_only=True) as conn:
        report = usage_report(
            conn, state.workspace.config, state.workspace.zone_name, days, utcnow()
        )
    if as_json:
        display.emit_json(report)
    else:
        from autoqueue.cli.tables import usage_view

        usage_view(report)


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="Which schema: story")] = "story",
) -> None:
    """Print a JSON Schema: `story` is what story.json must match (for your own script writer)."""
    from autoqueue.media.story import Story

    if name != "story":
        raise UsageError(_("unknown schema {name!r} (choose from: story)").format(name=name))
    display.emit_json(Story.model_json_schema())
