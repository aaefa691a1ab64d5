"""OAuth tokens per channel: the installed-app flow on a loopback port, private token files,
refresh with google-auth. Tokens and client secrets are never printed or logged."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoqueue.errors import AutoqueueError, UsageError
from autoqueue.i18n import _
from autoqueue.layout import CHANNEL_NAME

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

# Upload, and read the channel's own uploads: when an upload session expires after its last part
# was sent, the uploader looks for the video there rather than upload a second copy.
SCOPES = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
]


def validate_channel(name: str) -> str:
    """A channel name is used as a file name: letters, digits, '_', '-', '.' only."""
    if not CHANNEL_NAME.match(name) or name in (".", ".."):
        raise UsageError(
            _(
                "{name!r} is not a channel name (letters, digits, '_', '-' and '.', up to 64)"
            ).format(name=name)
        )
    return name


def token_dir(home: Path) -> Path:
    return home / "credentials" / "youtube"


def token_path(home: Path, channel: str) -> Path:
    return token_dir(home) / f"{validate_channel(channel)}.json"


def channels(home: Path) -> list[str]:
    """The channels with a token file."""
    folder = token_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if CHANNEL_NAME.match(p.stem))


def write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # Windows has no mode bits to set
        path.parent.chmod(0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)  # also when the file existed with looser bits
    os.replace(temporary, path)


def load_credentials(home: Path, channel: str, token_uri: str | None = None) -> Credentials:
    """The stored credentials of ``channel`` (not refreshed). google-auth always refreshes at
    Google's token endpoint; ``token_uri`` replaces it (a test's fake server)."""
    from google.oauth2.credentials import Credentials

    path = token_path(home, channel)
    if not path.is_file():
        raise FileNotFoundError(path)
    credentials: Credentials = Credentials.from_authorized_user_file(str(path))  # type: ignore[no-untyped-call]
    if token_uri is not None:
        expiry = credentials.expiry
        credentials = credentials.with_token_uri(token_uri)
        credentials.expiry = expiry  # the copy with_token_uri makes drops the expiry
    return credentials


def save_credentials(home: Path, channel: str, credentials: Credentials) -> Path:
    path = token_path(home, channel)
    write_private(path, credentials.to_json())  # type: ignore[no-untyped-call]
    return path


def authorize(
    home: Path, channel: str, client_secrets: Path, *, port: int = 0, open_browser: bool = True
) -> Path:
    """Run Google's installed-app flow on a loopback port and store the channel's token.
    Every way it can fail (a busy port, a refused or denied code, no network) is one error."""
    import errno

    import requests
    from google_auth_oauthlib.flow import InstalledAppFlow
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    validate_channel(channel)
    if not client_secrets.is_file():
        raise UsageError(
            _("client secrets file not found: {client_secrets}").format(
                client_secrets=client_secrets
            )
        )
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=SCOPES)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise UsageError(
            _("{client_secrets} is not an OAuth client secrets file: {exc}").format(
                client_secrets=client_secrets, exc=exc
            )
        ) from exc
    # Google may grant fewer scopes than asked (the user unticks one): keep what was granted.
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    try:
        credentials = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=open_browser,
            authorization_prompt_message="Open this URL in a browser to let autoqueue upload to "
            "YouTube:\n{url}",
            success_message="autoqueue is authorised; you can close this window.",
        )
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(
                _(
                    "cannot listen on localhost port {port} ({strerror}): choose another with "
                    "--port, or --port 0 for any free one"
                ).format(port=port, strerror=exc.strerror)
            ) from exc
        raise AutoqueueError(_("the authorisation failed: {exc}").format(exc=exc)) from exc
    except OAuth2Error as exc:
        raise AutoqueueError(
            f"Google refused the authorisation ({exc.error}"
            + (f": {exc.description}" if exc.description else "")
            + "): run `autoqueue youtube auth` again and allow access"
        ) from exc
    except requests.RequestException as exc:
        raise AutoqueueError(
            _("cannot reach Google's token endpoint: {name__}; check the network").format(
                name__=type(exc).__name__
            )
        ) from exc
    return save_credentials(home, channel, credentials)


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    valid: bool
    detail: str
    scopes: list[str]
    expiry: str | None


def check_channel(home: Path, channel: str, token_uri: str | None = None) -> ChannelStatus:
    """Whether Google still accepts the channel's authorisation: the refresh token is sent to
    Google's token endpoint (a grant revoked from the Google account is refused there, however
    fresh the access token looks), and the new access token is saved."""
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError

    try:
        credentials = load_credentials(home, channel, token_uri)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        return ChannelStatus(channel, False, f"unreadable token file: {exc}", [], None)
    scopes = list(credentials.scopes or [])
    again = f"run `autoqueue youtube auth --channel {channel}` again"
    if not credentials.refresh_token:
        if credentials.valid:
            detail = f"no refresh token: it works until its access token expires; {again}"
            return ChannelStatus(channel, True, detail, scopes, _expiry(credentials))
        detail = f"expired, and no refresh token: {again}"
        return ChannelStatus(channel, False, detail, scopes, None)
    try:
        credentials.refresh(_http_request())  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        reason = _refresh_reason(exc)
        return ChannelStatus(channel, False, f"Google refused it ({reason}): {again}", scopes, None)
    except (TransportError, OSError, httplib2.HttpLib2Error) as exc:
        # google-auth-httplib2 lets a refused connection through as the socket's own error.
        detail = f"not checked: cannot reach Google's token endpoint ({type(exc).__name__})"
        return ChannelStatus(channel, False, detail, scopes, _expiry(credentials))
    save_credentials(home, channel, credentials)
    return ChannelStatus(
        channel, True, "accepted by Google (token refreshed)", scopes, _expiry(credentials)
    )


def _refresh_reason(exc: Exception) -> str:
    """The OAuth error code of a refused refresh (never the token itself)."""
    for arg in exc.args:
        if isinstance(arg, dict) and arg.get("error"):
            return str(arg["error"])
    text = str(exc.args[0]) if exc.args else ""
    return text.split(":")[0].strip() or "refused"


def _expiry(credentials: Credentials) -> str | None:
    return credentials.expiry.strftime("%Y-%m-%d %H:%M:%S") if credentials.expiry else None


def _http_request() -> Any:
    import google_auth_httplib2
    import httplib2

    return google_auth_httplib2.Request(httplib2.Http(timeout=60))
