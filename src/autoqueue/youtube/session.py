"""One resumable upload to YouTube, never twice: the session is opened by a request of its own
and saved (``ctx.store``) before any byte is sent, the confirmed offset is saved as chunks go, a
saved session is asked how far it got, and a session YouTube forgot after its last part is looked
for on the channel rather than uploaded again. Transient errors are retried here with backoff; the
quota ledger is charged for every request YouTube answered."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from autoqueue.config import StageConfig
from autoqueue.errors import (
    ParkStageError,
    PermanentStageError,
    StageError,
    TransientStageError,
)
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel
from autoqueue.stages.base import StageContext, StageLog
from autoqueue.stages.external import StageCancelled
from autoqueue.timeutil import from_db, parse_stored, to_db, utcnow
from autoqueue.youtube import auth
from autoqueue.youtube.api import (
    QUOTA_REASONS,
    SessionGone,
    chunk_bytes_upload,
    chunk_size,
    classify,
    error_reason,
    retryable,
)
from autoqueue.youtube.quota import next_reset, quota_day

SESSION_RESTARTS = 3  # new upload sessions one attempt may open after YouTube dropped one
LOOKUP_COST = 1  # channels.list, playlistItems.list and videos.list cost a unit each
LOOKUP_SLACK = timedelta(minutes=10)  # a match may be listed this much before the session opened


class UploadSession:
    """The upload of one attempt of the youtube stage for one queue item."""

    def __init__(self, ctx: StageContext, stage: StageConfig) -> None:
        self.ctx = ctx
        self.config = ctx.workspace.config.youtube
        self.stage = stage
        self.channel = self._channel()
        self.state: dict[str, Any] = ctx.store.load() or {}

    def _channel(self) -> str:
        schedule = self.ctx.schedule
        chosen = (schedule.channel_setting_id if schedule else None) or self.config.default_channel
        known = auth.channels(self.ctx.workspace.home)
        if chosen is None:
            if len(known) == 1:
                return known[0]
            raise PermanentStageError(
                "no YouTube channel for this task: add it with --channel NAME, or set "
                "[youtube] default_channel (channels: " + (", ".join(known) or "none yet") + ")"
            )
        auth.validate_channel(chosen)
        if chosen not in known:
            raise PermanentStageError(
                _(
                    "YouTube channel {chosen!r} is not authorised: run `autoqueue youtube auth "
                    "--channel {chosen} --client-secrets client_secret.json`"
                ).format(chosen=chosen)
            )
        return chosen

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        self.ctx.store.save(self.state)

    def log(self, message: str, level: LogLevel = LogLevel.INFO, **metadata: Any) -> None:
        action = ActionType.PROGRESS if "current" in metadata else None
        self.ctx.log(StageLog(level, message, action, metadata or None))

    # -- quota ------------------------------------------------------------------------------

    def _check_quota(self, now: datetime) -> None:
        needed = (
            0
            if self.state.get("video_id") or self.state.get("session_uri")
            else (self.config.cost_insert)
        )
        if not self.state.get("thumbnail_done"):
            needed += self.config.cost_thumbnail
        if self.config.captions and not self.state.get("captions_done"):
            needed += self.config.cost_captions
        used = self.ctx.store.quota_used(self.config.project, quota_day(now))
        if needed and used + needed > self.config.daily_quota:
            until = next_reset(now)
            raise ParkStageError(
                _(
                    "the YouTube quota budget of {value} (Pacific) is spent: "
                    "{used}/{daily_quota} units used, this upload needs {needed}"
                ).format(
                    value=quota_day(now),
                    used=used,
                    daily_quota=self.config.daily_quota,
                    needed=needed,
                ),
                until,
                budget=True,
            )

    def _spend(self, units: int) -> None:
        # the channel's own part too, for `autoqueue usage`
        self.ctx.store.quota_spend(self.config.project, quota_day(utcnow()), units, self.channel)

    # -- the upload -------------------------------------------------------------------------

    def _http(self, credentials: Any) -> Any:
        import google_auth_httplib2
        import httplib2

        http = httplib2.Http(timeout=120)
        http.redirect_codes = http.redirect_codes - {308}  # 308 is "resume incomplete" here
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def _retrying(self, what: str, call: Any) -> Any:
        """Run ``call`` with in-upload retries for transient errors (exponential backoff)."""
        attempt = 0
        while True:
            if self.ctx.cancelled():
                raise StageCancelled(_("the item was stopped during the upload"))
            try:
                return call()
            except (StageCancelled, StageError):
                raise
            except Exception as exc:  # mapped below: network, HTTP and auth errors
                error = classify(exc, channel=self.channel, config=self.config, now=utcnow())
                if isinstance(error, ParkStageError) and "quota" in str(error).lower():
                    self.ctx.store.quota_exhausted(
                        self.config.project, quota_day(utcnow()), self.config.daily_quota
                    )
                attempt += 1
                if not retryable(error) or attempt > self.config.retries:
                    raise error from exc
                delay = min(self.config.retry_seconds * 2 ** (attempt - 1), 60.0)
                delay *= random.uniform(0.8, 1.2)
                self.log(
                    _("{what}: {error}; retry {attempt}/{retries} in {delay:.1f} s").format(
                        what=what,
                        error=error,
                        attempt=attempt,
                        retries=self.config.retries,
                        delay=delay,
                    ),
                    LogLevel.WARN,
                )
                time.sleep(delay)

    def _status(self, http: Any, uri: str, size: int) -> tuple[str, Any]:
        """Ask an upload session how far it got.

        Returns ("done", the video resource), ("at", the next byte to send) or ("gone", None).
        """
        from googleapiclient.errors import HttpError

        response, content = http.request(
            uri, "PUT", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        )
        if response.status in (200, 201):
            return "done", json.loads(content)
        if response.status == 308:
            received = response.get("range")
            return "at", int(received.split("-")[1]) + 1 if received else 0
        if response.status in (404, 410):
            return "gone", None
        raise HttpError(response, content, uri="(upload session)")

    def _open_session(self, http: Any, request: Any, size: int) -> str:
        """The initiating request alone, so the session URI is saved before any byte is sent."""
        from googleapiclient.errors import HttpError

        headers = dict(request.headers)
        headers["X-Upload-Content-Type"] = "video/mp4"
        headers["X-Upload-Content-Length"] = str(size)
        headers["content-length"] = str(len(request.body or ""))
        response, content = http.request(
            request.uri, method=request.method, body=request.body, headers=headers
        )
        # Charged once YouTube has answered: a request that never reached it costs nothing.
        if error_reason(content)[0] not in QUOTA_REASONS:
            self._spend(self.config.cost_insert)
        if response.status == 200 and "location" in response:
            return str(response["location"])
        raise HttpError(response, content, uri="(videos.insert)")

    def _upload(self, youtube: Any, http: Any, video: Path, body: dict[str, Any]) -> str:
        """Upload ``video`` once: resume the saved session, or open one; when YouTube has
        forgotten a session, start another only if the upload cannot have completed (else look
        for the video on the channel first, and fail rather than upload twice when unsure)."""
        size = video.stat().st_size
        if self.state.get("unsure"):
            # An earlier attempt could not tell whether its upload completed: look again (the
            # video may be listed by now), and never upload again unless told to (--reupload).
            return self._look_for_upload(youtube, body, size)
        request = self._request(youtube, video, body)
        uri = self.state.get("session_uri")
        if uri and self.state.get("size") == size:
            outcome, value = self._retrying("upload status", lambda: self._status(http, uri, size))
            if outcome == "done":
                return self._finished(value)
            if outcome == "at":
                request.resumable_uri = uri
                request.resumable_progress = value
                self.save(offset=value)
                self.log(
                    _("⏯ resuming the upload at byte {value} of {size}").format(
                        value=value, size=size
                    ),
                    offset=value,
                    size=size,
                )
            else:
                found = self._session_lost(youtube, body, size, self.state.get("offset"))
                if found is not None:
                    return found
        for _attempt in range(SESSION_RESTARTS + 1):
            if request.resumable_uri is None:
                self._open(http, request, size)
            try:
                return self._send(request, size)
            except SessionGone:
                found = self._session_lost(youtube, body, size, request.resumable_progress)
                if found is not None:
                    return found
                request = self._request(youtube, video, body)
        raise TransientStageError(
            _("YouTube dropped the upload session {value} times in one attempt").format(
                value=SESSION_RESTARTS + 1
            )
        )

    def _request(self, youtube: Any, video: Path, body: dict[str, Any]) -> Any:
        media = chunk_bytes_upload(str(video), chunk_size(self.config))
        return youtube.videos().insert(part="snippet,status", body=body, media_body=media)

    def _open(self, http: Any, request: Any, size: int) -> None:
        """Open an upload session (videos.insert) and save it before any byte is sent."""
        uri = self._retrying("opening the upload", lambda: self._open_session(http, request, size))
        request.resumable_uri = uri
        self.save(
            session_uri=uri,
            offset=0,
            size=size,
            video_id=None,
            thumbnail_done=False,
            captions_done=False,
            opened_at=to_db(utcnow()),
        )
        self.log(
            _("⬆ upload started ({size} bytes) to channel {channel}").format(
                size=size, channel=self.channel
            ),
            size=size,
        )

    def _send(self, request: Any, size: int) -> str:
        """Send the remaining chunks; SessionGone when YouTube forgets the session meanwhile."""
        from googleapiclient.errors import HttpError

        def next_chunk() -> Any:
            try:
                return request.next_chunk()
            except HttpError as exc:
                if int(exc.resp.status) in (404, 410):
                    raise SessionGone(
                        _("YouTube answered {status}").format(status=exc.resp.status)
                    ) from exc
                raise

        response = None
        reported = 0
        while response is None:
            _status, response = self._retrying("uploading", next_chunk)
            self.save(offset=request.resumable_progress)
            percent = request.resumable_progress * 100 // size if size else 100
            if response is None and percent // 10 > reported // 10:
                reported = percent
                self.log(
                    _("⬆ uploaded {percent}%").format(percent=percent),
                    current=request.resumable_progress,
                    total=size,
                )
        return self._finished(response)

    def _session_lost(
        self, youtube: Any, body: dict[str, Any], size: int, offset: object
    ) -> str | None:
        """YouTube has forgotten the saved upload session. If the chunk in flight cannot have
        been the last one, returns None: a new session starts from the first byte. Otherwise
        the upload may have completed: the video is looked for on the channel (its id is
        returned), and when it cannot be found the stage fails permanently rather than
        uploading a second copy."""
        confirmed = offset if isinstance(offset, int) else None
        chunk = chunk_size(self.config)
        self.save(session_uri=None, offset=0)
        if confirmed is not None and confirmed + chunk < size:
            self.log(
                _(
                    "the upload session expired at byte {confirmed} of {size}: the upload could "
                    "not have finished, so it starts again in a new session"
                ).format(confirmed=confirmed, size=size),
                LogLevel.WARN,
            )
            return None
        self.log(
            _(
                "the upload session expired after its last part was sent: looking for the video "
                "on channel {channel} before uploading again"
            ).format(channel=self.channel),
            LogLevel.WARN,
        )
        self.save(unsure=True)
        return self._look_for_upload(youtube, body, size)

    def _look_for_upload(self, youtube: Any, body: dict[str, Any], size: int) -> str:
        """The id of an upload that may have completed, found on the channel; when it cannot be
        found, a permanent failure that says how to check and how to upload again."""
        try:
            video_id = self._find_uploaded(youtube, body, size)
            why = "no video with this title, size and upload time is listed there"
        except StageError as exc:
            video_id, why = None, f"the channel could not be searched ({exc})"
        if video_id is not None:
            self.log(
                _("found the upload on the channel: {video_id}").format(video_id=video_id),
                videoId=video_id,
            )
            self.save(unsure=False)
            return self._finished({"id": video_id})
        raise PermanentStageError(
            _(
                "the upload may already be on YouTube channel {channel!r} (its session expired "
                "after the last part was sent), but {why}; check YouTube Studio, and if the "
                "video is not there, run `autoqueue retry {id} --reupload` to upload it again"
            ).format(channel=self.channel, why=why, id=self.ctx.task.id)
        )

    def _find_uploaded(self, youtube: Any, body: dict[str, Any], size: int) -> str | None:
        """The id of the video this upload made, from the channel's uploads playlist: same
        title, listed since the session opened, and (where YouTube says) the same file size."""
        channels = self._retrying(
            "looking up the channel",
            lambda: self._charged(youtube.channels().list(part="contentDetails", mine=True)),
        )
        items = channels.get("items") or []
        if not items:
            return None
        uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        listed = self._retrying(
            "listing the channel's uploads",
            lambda: self._charged(
                youtube.playlistItems().list(part="snippet", playlistId=uploads, maxResults=50)
            ),
        )
        opened = self.state.get("opened_at")
        since = from_db(opened) - LOOKUP_SLACK if isinstance(opened, str) else None
        title = body["snippet"]["title"]
        candidates = []
        for entry in listed.get("items") or []:
            snippet = entry.get("snippet") or {}
            video_id = (snippet.get("resourceId") or {}).get("videoId")
            published = snippet.get("publishedAt")
            if not video_id or snippet.get("title") != title:
                continue
            if since is not None and published and parse_stored(published) < since:
                continue
            candidates.append(str(video_id))
        if not candidates:
            return None
        details = self._retrying(
            "checking the candidates' sizes",
            lambda: self._charged(
                youtube.videos().list(part="fileDetails", id=",".join(candidates))
            ),
        )
        sizes = {
            str(entry.get("id")): (entry.get("fileDetails") or {}).get("fileSize")
            for entry in details.get("items") or []
        }
        matching = [
            video_id
            for video_id in candidates
            if sizes.get(video_id) is None or str(sizes[video_id]) == str(size)
        ]
        return matching[0] if len(matching) == 1 else None

    def _charged(self, request: Any, cost: int = LOOKUP_COST) -> Any:
        """Execute a read request, charging the ledger only once YouTube has answered."""
        from googleapiclient.errors import HttpError

        try:
            response = request.execute()
        except HttpError as exc:
            if error_reason(exc.content)[0] not in QUOTA_REASONS:
                self._spend(cost)
            raise
        self._spend(cost)
        return response

    def _finished(self, resource: dict[str, Any]) -> str:
        video_id = str(resource["id"])
        self.save(video_id=video_id, offset=self.state.get("size"))  # before anything else
        return video_id
