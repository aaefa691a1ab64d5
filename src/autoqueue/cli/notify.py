"""The notify sub-commands: test (a test message to every URL, and whether each one took it)."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

from typing import Annotated

import typer

from autoqueue.cli import display
from autoqueue.cli.app import JsonOption, _state, app
from autoqueue.i18n import _

notify_app = typer.Typer(help="Notifications through Apprise: send a test message.")
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    urls: Annotated[
        list[str] | None,
        typer.Argument(help="Apprise URLs to try instead of [notify] urls.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Send a test message to every [notify] URL (or to the URLs given) and say, URL by URL,
    whether it went; exits 1 when any did not. Tokens and passwords are never shown."""
    from autoqueue.errors import NotifyError, UsageError
    from autoqueue.notify.messages import test_message
    from autoqueue.notify.send import deliver
    from autoqueue.notify.targets import targets

    workspace = _state(ctx).workspace
    config = workspace.config.notify
    chosen = list(urls or config.urls)
    if not chosen:
        raise UsageError(
            _(
                "no notification URL: set [notify] urls in autoqueue.toml (docs/notifications.md) "
                "or give one, e.g. `autoqueue notify test json://127.0.0.1:8000/hook`"
            )
        )
    message = test_message(str(workspace.home))
    results = deliver(targets(chosen), message.title, message.body, timeout=config.timeout)
    failed = [r for r in results if not r.ok]
    if as_json:
        display.emit_json(
            {
                "results": [
                    {"url": r.target.shown, "sent": r.ok, "error": r.error} for r in results
                ],
                "sent": len(results) - len(failed),
                "failed": len(failed),
            }
        )
    else:
        for result in results:
            if result.ok:
                display.info(_("✅ sent: {url}").format(url=result.target.shown))
            else:
                display.info(
                    _("❌ not sent: {url}: {error}").format(
                        url=result.target.shown, error=result.error
                    )
                )
    if failed:
        raise NotifyError(
            _("{failed} of {total} notification URL(s) did not take the test message").format(
                failed=len(failed), total=len(results)
            )
        )
