"""AI clips for the ``sora2`` mediaMode: one per scene, from the scene's ``image_prompt`` (its
text when it has none), at the video's aspect, by the model ``[media.sora2]`` names: Google's
Veo on Vertex AI through ``google-genai``, or an OpenAI-compatible ``/videos`` endpoint through
``openai``. The clips then go through the same render as pictures (narration, captions,
crossfades), each trimmed, or looped, to its scene's length.

Generation is asynchronous and slow (minutes per clip), and paid per clip:

- every missing clip's job is started first, and its id saved in the item's stage state (the
  database) the moment the provider returns it, before anything else happens; an attempt
  that dies, a retry or a later tick looks at the saved job instead of starting another;
- then each job is looked at once: a finished clip is downloaded, decoded in full and renamed
  into place (``scene_NN.mp4``); while any is still running, the item parks for
  ``poll_seconds`` and frees its slot, without spending a retry;
- a job the provider failed is forgotten (a retry starts a new one), or fails permanently
  when the provider refused its content.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from autoqueue.config import VideoModelConfig
from autoqueue.errors import ParkStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel
from autoqueue.layout import scene_name
from autoqueue.stages import ffmpeg, providers
from autoqueue.stages.base import StageContext, StageLog
from autoqueue.stages.cards import read_story
from autoqueue.stages.imagegen import google_aspect, scene_prompt
from autoqueue.timeutil import utcnow

CLIP_SUFFIX = ".mp4"


def openai_size(size: tuple[int, int]) -> str:
    return "720x1280" if size[0] < size[1] else "1280x720"


def _start(
    account: providers.Account, config: VideoModelConfig, prompt: str, size: tuple[int, int]
) -> str:
    """Start one clip's job; its id."""
    if account.provider == "google":
        from google.genai import types

        client = account.google()
        operation = client.models.generate_videos(
            model=config.model_name,
            source=types.GenerateVideosSource(prompt=prompt),
            config=types.GenerateVideosConfig(
                number_of_videos=1,
                duration_seconds=config.seconds,
                aspect_ratio=google_aspect(size),
            ),
        )
        return str(operation.name)
    with _compatible():
        job = account.openai().videos.create(
            model=config.model_name,
            prompt=prompt,
            seconds=str(config.seconds),
            size=openai_size(size),
        )
    return str(job.id)


@contextlib.contextmanager
def _compatible() -> Iterator[None]:
    """The openai SDK warns that OpenAI's own Sora API is gone; "openai" here is an
    OpenAI-compatible endpoint (docs/stages.md, "Generated pictures, clips and stock photos"), so
    the warning says nothing to the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sora API", category=DeprecationWarning)
        yield


def _look(account: providers.Account, job: str) -> bytes | None:
    """The finished clip's bytes, or None while the job runs. A failed job raises: a refusal
    permanently, anything else transiently."""
    if account.provider == "google":
        from google.genai import types

        client = account.google()
        operation = client.operations.get(
            types.GenerateVideosOperation.model_validate({"name": job})
        )
        if not operation.done:
            return None
        if operation.error:
            said = str(operation.error.get("message") or operation.error)
            raise _failed(account, job, said, str(operation.error.get("code") or ""))
        result = operation.response or operation.result
        if result is not None and result.rai_media_filtered_reasons:
            raise providers.refused(account, "; ".join(result.rai_media_filtered_reasons))
        for generated in (result.generated_videos if result else None) or []:
            if generated.video is not None and generated.video.video_bytes:
                return bytes(generated.video.video_bytes)
        raise TransientStageError(
            _("{where}: job {job} finished without a clip").format(where=account.where, job=job)
        )
    client = account.openai()
    with _compatible():
        video = client.videos.retrieve(job)
        if video.status in ("queued", "in_progress"):
            return None
        if video.status == "failed":
            error = video.error
            said, code = (error.message, error.code) if error else ("", "")
            raise _failed(account, job, said, code)
        return bytes(client.videos.download_content(job).content)


def _failed(account: providers.Account, job: str, said: str, code: str) -> Exception:
    if any(word in f"{code} {said}".lower() for word in providers.POLICY_WORDS):
        return providers.refused(account, said)
    return TransientStageError(
        _("{where}: job {job} failed: {said}").format(
            where=account.where, job=job, said=account.redact(said)[:300]
        )
    )


def _save_clip(exe: str, data: bytes, target: Path, where: str) -> None:
    """Write the clip under a temporary name, decode every frame, then rename it into place."""
    temporary = target.with_name(target.name + ".part")  # not a scene_* clip until checked
    temporary.write_bytes(data)
    problem = ffmpeg.decode_problem(exe, temporary)
    if problem is not None:
        temporary.unlink(missing_ok=True)
        raise TransientStageError(
            _("{where} sent a clip that does not decode: {value}").format(
                where=where, value=problem[-300:]
            )
        )
    temporary.replace(target)


def generate_clips(
    ctx: StageContext, config: VideoModelConfig, size: tuple[int, int], exe: str
) -> list[Path]:
    """Make the scene clips that are not there yet (see the module's docstring); all of them,
    in scene order, once every one is there."""
    story = read_story(ctx.task_dir)
    account, model, setting = providers.for_use(ctx.workspace, "sora2")
    targets = [ctx.task_dir / scene_name(n, CLIP_SUFFIX) for n in range(1, len(story.scenes) + 1)]
    jobs: dict[str, str] = dict((ctx.store.load() or {}).get("jobs", {}))

    def remember() -> None:
        ctx.store.save({"jobs": jobs})

    def log(message: str, number: int) -> None:
        progress = {"current": number, "total": len(targets)}
        ctx.log(StageLog(LogLevel.INFO, message, ActionType.PROGRESS, progress))

    try:
        for number, (scene, target) in enumerate(zip(story.scenes, targets, strict=True), 1):
            if target.is_file() or str(number) in jobs:
                continue  # made, or being made: paid for once
            prompt = scene_prompt(scene.text, scene.image_prompt, config.style, size)
            providers.charge(ctx, account, config.price_each, utcnow())
            jobs[str(number)] = _start(account, config, prompt, size)
            remember()  # before anything else can happen to this attempt
            log(
                _("🎞️ scene {number}/{total}: {model} is making its clip (job {job})").format(
                    number=number, total=len(targets), model=model, job=jobs[str(number)]
                ),
                number,
            )
        waiting = 0
        for number, target in enumerate(targets, 1):
            if target.is_file():
                continue
            job = jobs[str(number)]
            try:
                data = _look(account, job)
            except TransientStageError:
                del jobs[str(number)]  # the provider failed it: a retry starts a new one
                remember()
                raise
            if data is None:
                waiting += 1
                continue
            _save_clip(exe, data, target, account.where)
            del jobs[str(number)]
            remember()
            log(
                _("🎞️ scene {number}/{total}: clip ready").format(number=number, total=len(targets)),
                number,
            )
    except providers.sdk_errors() as exc:
        raise providers.stage_error(exc, account, model, setting) from None
    if waiting:
        raise ParkStageError(
            _(
                "{count} of {total} clips are still being made by {where}: looking again in "
                "{seconds:.0f} s"
            ).format(
                count=waiting, total=len(targets), where=account.where, seconds=config.poll_seconds
            ),
            utcnow() + timedelta(seconds=config.poll_seconds),
        )
    return targets
