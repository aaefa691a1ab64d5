"""What the queue keeps: the log viewer (logs), the content library (contents) and retention
(cleanup); and schema, what story.json must match."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import dataclasses
import sys
import time
from typing import Annotated, Any

import typer

from autoqueue.cli import JsonOption, LimitOption, _state, app, output
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
