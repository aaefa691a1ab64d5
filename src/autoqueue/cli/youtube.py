"""The youtube sub-commands: auth and channels."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from autoqueue.cli import display
from autoqueue.cli.app import JsonOption, _state, app
from autoqueue.i18n import _

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
    from autoqueue.kinds import QueueType
    from autoqueue.youtube import auth

    state = _state(ctx)
    path = auth.authorize(
        state.workspace.home,
        channel,
        client_secrets.expanduser(),
        port=port,
        open_browser=not no_browser,
    )
    display.info(
        _("channel {channel} authorised; token saved to {path} (readable by you only)").format(
            channel=channel, path=path
        )
    )
    if state.workspace.config.handler(QueueType.YOUTUBE) != "youtube":
        display.info(_('to upload, set [stages.youtube] handler = "youtube" in autoqueue.toml'))


@youtube_app.command("channels")
def youtube_channels(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The authorised channels and whether each token still works (refreshing it if needed)."""
    from autoqueue.youtube import auth

    workspace = _state(ctx).workspace
    home, token_uri = workspace.home, workspace.config.youtube.token_uri
    statuses = [auth.check_channel(home, name, token_uri) for name in auth.channels(home)]
    if as_json:
        display.emit_json([asdict(status) for status in statuses])
        return
    if not statuses:
        display.info(
            _("no channel yet: run `autoqueue youtube auth --channel NAME --client-secrets FILE`")
        )
    for status in statuses:
        mark = "✅" if status.valid else "❌"
        display.info(f"{mark} {status.channel}: {status.detail}")
