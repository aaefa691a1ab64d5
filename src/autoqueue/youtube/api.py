"""The YouTube Data API as an upload talks to it: the client built from the library's discovery
document, resumable chunks sent as bytes, and what each error means for the queue (transient,
permanent, or parked until the quota resets). Messages never carry URLs (an upload URL is a
credential)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from autoqueue.config import YouTubeConfig
from autoqueue.errors import (
    ParkStageError,
    PermanentStageError,
    StageError,
    TransientStageError,
)
from autoqueue.youtube.quota import next_reset

CHUNK_UNIT = 256 * 1024  # resumable chunks must be multiples of 256 KiB
RETRYABLE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}


class SessionGone(StageError):
    """YouTube forgot the upload session (404/410): it expired, or the upload was abandoned."""


def chunk_size(config: YouTubeConfig) -> int:
    return max(1, round(config.chunk_mb * 1024 * 1024 / CHUNK_UNIT)) * CHUNK_UNIT


def error_reason(content: bytes | str | None) -> tuple[str, str]:
    """YouTube's error reason and message from a JSON error body."""
    try:
        data = json.loads(content or b"{}")
        error = data.get("error", {})
        if isinstance(error, str):  # OAuth endpoints: {"error": "invalid_grant"}
            return error, str(data.get("error_description", ""))
        details = error.get("errors") or [{}]
        return str(details[0].get("reason", "")), str(error.get("message", ""))
    except (ValueError, AttributeError, TypeError):
        return "", ""


def reauth_message(channel: str) -> str:
    return (
        f"YouTube refused the saved authorisation of channel {channel!r}: run "
        f"`autoqueue youtube auth --channel {channel} --client-secrets client_secret.json` again"
    )


def classify(
    exc: BaseException, *, channel: str, config: YouTubeConfig, now: datetime
) -> StageError:
    """Map a client-library or network error to a transient, permanent or parked failure.
    Messages carry YouTube's status and reason, never URLs (an upload URL is a credential)."""
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError
    from googleapiclient.errors import HttpError, ResumableUploadError

    if isinstance(exc, RefreshError):
        return PermanentStageError(reauth_message(channel))
    if isinstance(exc, (HttpError, ResumableUploadError)):
        status = int(exc.resp.status)
        reason, message = error_reason(exc.content)
        what = f"YouTube answered {status} {reason}".rstrip() + (f": {message}" if message else "")
        if reason in QUOTA_REASONS:
            until = next_reset(now)
            return ParkStageError(
                f"{what} (the daily quota resets at midnight Pacific time)", until, budget=True
            )
        if reason == "uploadLimitExceeded":
            until = now + timedelta(hours=config.upload_limit_hours)
            return ParkStageError(what, until, budget=True)
        if status == 401:
            return PermanentStageError(reauth_message(channel))
        if status == 429 or status >= 500 or reason in RETRYABLE_REASONS:
            return TransientStageError(what)
        return PermanentStageError(what)
    if isinstance(exc, (httplib2.HttpLib2Error, OSError, TransportError)):
        return TransientStageError(f"network error talking to YouTube: {type(exc).__name__}: {exc}")
    return TransientStageError(f"unexpected error talking to YouTube: {type(exc).__name__}")


def retryable(error: StageError) -> bool:
    return isinstance(error, TransientStageError)


def youtube_service(http: Any, api_root: str | None) -> Any:
    """The real client, from the discovery document shipped in the library; ``api_root``
    replaces Google's root URL (tests point it at a fake YouTube on 127.0.0.1)."""
    import googleapiclient
    from googleapiclient.discovery import build, build_from_document

    if api_root is None:
        return build("youtube", "v3", http=http, static_discovery=True, cache_discovery=False)
    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents/youtube.v3.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["rootUrl"] = api_root.rstrip("/") + "/"
    return build_from_document(document, http=http)


def chunk_bytes_upload(path: str, chunksize: int) -> Any:
    """A resumable file upload whose chunks are sent as bytes, not as a slice of the open file.

    httplib2 resends a request once, by itself, when a kept-alive connection turns out to be
    closed; a file slice it already read would go out empty and the PUT would hang until the
    timeout. Bytes are resent whole. One chunk (8 MB by default) is held in memory at a time.
    """
    from googleapiclient.http import MediaFileUpload

    class ChunkBytesUpload(MediaFileUpload):  # type: ignore[misc]
        def has_stream(self) -> bool:
            return False

    return ChunkBytesUpload(path, mimetype="video/mp4", chunksize=chunksize, resumable=True)
