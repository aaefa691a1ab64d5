"""The built-in ``youtube`` stage: upload through the YouTube Data API v3 with the official client
library, resumably, and never twice.

The upload session URI and the confirmed byte offset are saved (``ctx.store``) as the upload goes,
the session is opened by a request of its own so that its URI is saved before any byte is sent,
and the video id is saved the moment YouTube returns it. A retry after a crash asks the saved
session how far it got and sends only the rest; a retry after the upload finished only sets the
thumbnail. Transient errors (5xx, 429, rateLimitExceeded, dropped connections) are retried inside
the upload with backoff, then fail the stage transiently; quotaExceeded parks the item until the
Pacific midnight; uploadLimitExceeded parks it for a day; a refused token fails permanently and
says how to authorise again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from autoqueue.config import StageConfig, YouTubeConfig
from autoqueue.errors import PermanentStageError
from autoqueue.i18n import _
from autoqueue.kinds import LogLevel, Privacy
from autoqueue.layout import THUMBNAIL, VIDEO
from autoqueue.media.espeak import text_language
from autoqueue.stages.base import StageContext, StageResult
from autoqueue.stages.cards import read_story
from autoqueue.stages.outbox import with_credits
from autoqueue.stages.task_settings import publish_time, upload_text
from autoqueue.stages.thumbnail import THUMBNAIL_MAX_BYTES, save_thumbnail_jpeg
from autoqueue.stages.video import CAPTIONS_SRT
from autoqueue.timeutil import from_db, utcnow
from autoqueue.youtube import auth
from autoqueue.youtube.api import reauth_message, youtube_service
from autoqueue.youtube.session import UploadSession


def video_body(
    ctx: StageContext, config: YouTubeConfig, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """The videos.insert resource (snippet + status) and warnings about what was changed."""
    warnings: list[str] = []
    try:
        story = read_story(ctx.task_dir)
        title, description, tags = story.title, story.description, list(story.tags)
        description = with_credits(description, ctx.task_dir)
    except PermanentStageError:
        title, description, tags = ctx.task.title, "", []
    description, tags = upload_text(ctx.task, description, tags)  # its channel's footer, tags
    title = (title.replace("<", "").replace(">", "").strip() or ctx.task.title)[:100]
    description = description.replace("<", "").replace(">", "")
    description = description.encode("utf-8")[:5000].decode("utf-8", errors="ignore")
    kept: list[str] = []
    for tag in tags:
        tag = tag.replace("<", "").replace(">", "").strip()
        cost = len(tag) + (2 if " " in tag else 0) + (1 if kept else 0)
        if tag and sum(len(t) + (2 if " " in t else 0) + 1 for t in kept) + cost <= 500:
            kept.append(tag)
    schedule = ctx.schedule
    privacy = (schedule.youtube_privacy if schedule else None) or Privacy.PUBLIC.value
    status: dict[str, Any] = {
        "privacyStatus": privacy,
        "selfDeclaredMadeForKids": config.made_for_kids,
    }
    publish = schedule.youtube_publish_time if schedule else None
    daily = None if publish else publish_time(ctx.task, schedule, now)
    if daily is not None:  # the next of the task's times of day ([channels.*] publish_at)
        status["privacyStatus"] = Privacy.PRIVATE.value
        status["publishAt"] = daily.strftime("%Y-%m-%dT%H:%M:%SZ")
    if publish:
        status["privacyStatus"] = Privacy.PRIVATE.value  # YouTube only schedules private videos
        if from_db(publish) > now:
            status["publishAt"] = from_db(publish).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            warnings.append(
                f"the publish time {publish} UTC has passed: uploaded private; publish it in "
                "YouTube Studio"
            )
    body = {
        "snippet": {
            "title": title,
            "description": description,
            "tags": kept,
            "categoryId": config.category_id,
        },
        "status": status,
    }
    return body, warnings


class Uploader(UploadSession):
    """One attempt of the youtube stage for one queue item: the video, then its thumbnail and
    captions."""

    def run(self) -> StageResult:
        from google.auth.exceptions import RefreshError

        task_dir = self.ctx.task_dir
        video = task_dir / VIDEO
        if not video.is_file():
            raise PermanentStageError(
                _("{VIDEO} is missing in {task_dir}: no video was rendered").format(
                    VIDEO=VIDEO, task_dir=task_dir
                )
            )
        checksum = file_sha256(video)
        if not self.state.get("video_id"):  # an upload of this item's own is only finished
            self._refuse_published(checksum)
        now = utcnow()
        self._check_quota(now)
        body, warnings = video_body(self.ctx, self.config, now)
        for warning in warnings:
            self.log(warning, LogLevel.WARN)
        try:
            credentials = auth.load_credentials(
                self.ctx.workspace.home, self.channel, self.config.token_uri
            )
        except (FileNotFoundError, ValueError) as exc:
            raise PermanentStageError(reauth_message(self.channel)) from exc
        token_before = credentials.token
        try:
            http = self._http(credentials)
            youtube = youtube_service(http, self.config.api_root)
            video_id = self.state.get("video_id") or self._upload(youtube, http, video, body)
            if not self.state.get("thumbnail_done"):
                self._thumbnail(youtube, video_id, task_dir / THUMBNAIL)
            if self.config.captions and not self.state.get("captions_done"):
                self._captions(youtube, video_id, task_dir / CAPTIONS_SRT)
        except RefreshError as exc:
            raise PermanentStageError(reauth_message(self.channel)) from exc
        finally:
            if credentials.token != token_before and credentials.token:
                auth.save_credentials(self.ctx.workspace.home, self.channel, credentials)
        url = f"https://youtu.be/{video_id}"
        self.log(
            _("✅ uploaded to YouTube: {url}").format(url=url),
            videoId=video_id,
            channel=self.channel,
        )
        return StageResult(
            youtube_url=url,
            video_sha256=checksum,
            details={
                "videoId": video_id,
                "channel": self.channel,
                "privacy": body["status"]["privacyStatus"],
                "publishAt": body["status"].get("publishAt"),
            },
        )

    def _refuse_published(self, checksum: str) -> None:
        """The last line of defence: whatever made this item run (an old run's item, a render
        that came out the same), a file the task already published is not sent again unless
        `retry --reupload` asked for it."""
        if self.state.get("reupload"):
            return
        url = self.ctx.store.published_url(self.ctx.task.id, checksum)
        if url is None:
            return
        raise PermanentStageError(
            _(
                "{VIDEO} was already published by this task ({url}), so it is not uploaded "
                "again; to upload a second copy, run `autoqueue retry {id} --reupload`"
            ).format(VIDEO=VIDEO, url=url or "?", id=self.ctx.task.id)
        )

    def _captions(self, youtube: Any, video_id: str, srt: Path) -> None:
        """output.srt as the video's caption track, in the captions' own language. Like the
        thumbnail, a refusal is a warning: the video is up."""
        from googleapiclient.http import MediaFileUpload

        text = srt.read_text(encoding="utf-8") if srt.is_file() else ""
        if not text.strip():
            self.log(_("no output.srt: no caption track uploaded"), LogLevel.WARN)
            self.save(captions_done=True)
            return
        body = {
            "snippet": {
                "videoId": video_id,
                "language": text_language(text),
                "name": "",
                "isDraft": False,
            }
        }
        media = MediaFileUpload(str(srt), mimetype="application/octet-stream")
        try:
            self._retrying(
                "uploading the captions",
                lambda: self._charged(
                    youtube.captions().insert(part="snippet", body=body, media_body=media),
                    self.config.cost_captions,
                ),
            )
        except PermanentStageError as exc:
            self.log(_("caption track not uploaded: {exc}").format(exc=exc), LogLevel.WARN)
        self.save(captions_done=True)

    def _thumbnail(self, youtube: Any, video_id: str, thumbnail: Path) -> None:
        from googleapiclient.http import MediaFileUpload

        if not thumbnail.is_file():
            self.log(_("no thumbnail.jpg: YouTube picks a frame"), LogLevel.WARN)
            self.save(thumbnail_done=True)
            return
        source = _small_enough(thumbnail)
        media = MediaFileUpload(str(source), mimetype="image/jpeg")
        try:
            self._retrying(
                "setting the thumbnail",
                lambda: self._charged(
                    youtube.thumbnails().set(videoId=video_id, media_body=media),
                    self.config.cost_thumbnail,
                ),
            )
        except PermanentStageError as exc:
            # The video is up; a refused custom thumbnail (unverified account) must not undo it.
            self.log(_("thumbnail not set: {exc}").format(exc=exc), LogLevel.WARN)
        self.save(thumbnail_done=True)


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read a MiB at a time (a long video never sits in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _small_enough(thumbnail: Path) -> Path:
    """YouTube takes thumbnails up to 2 MB: re-encode a larger one."""
    if thumbnail.stat().st_size <= THUMBNAIL_MAX_BYTES:
        return thumbnail
    from PIL import Image

    smaller = thumbnail.with_name("thumbnail.upload.jpg")
    with Image.open(thumbnail) as image:
        save_thumbnail_jpeg(image, smaller)
    return smaller


def run_youtube_stage(ctx: StageContext, stage: StageConfig) -> StageResult:
    """Upload the run's video (resuming a saved session) and set its thumbnail."""
    return Uploader(ctx, stage).run()
