"""Watching the queue: watch's live dashboard, and ui's full-screen app (in the terminal, or in a
browser with --web)."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import time
from typing import Annotated, Any

import typer

from autoqueue.cli import display
from autoqueue.cli.app import _state, app
from autoqueue.i18n import _


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
    from autoqueue.repo import reads

    state = _state(ctx)
    with state.connect(read_only=True) as conn:

        def screen() -> Any:
            recent = logs_repo.query(conn, logs_repo.LogFilter(limit=8))
            return display.dashboard(
                reads.tab_counts(conn),
                reads.processing_rows(conn),
                list(reversed(recent)),
                state.tz,
            )

        if once:
            display.console().print(screen())
            return
        with Live(screen(), console=display.console(), refresh_per_second=4) as live:
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
        display.info(
            _("serving autoqueue ui on http://{host}:{port} (Ctrl-C stops)").format(
                host=host, port=port
            )
        )
        if token is not None:
            display.info(
                _("open it with its token: {url}").format(url=ui_web.address(host, port, token))
            )
            display.warning(
                _(
                    "{host} is not a loopback address: anyone with this address can act on the "
                    "queue, and plain HTTP does not hide it; an SSH tunnel to 127.0.0.1 is safer"
                ).format(host=host)
            )
        ui_web.serve(host, port, environ, token)
        return
    from autoqueue.cli.terminal import AutoqueueApp

    AutoqueueApp(state.workspace, state.tz, utcnow).run()
