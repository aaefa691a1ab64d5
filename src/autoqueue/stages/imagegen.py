"""AI pictures for the ``dalle3`` and ``imagen3`` mediaModes: one per scene, from the scene's
``image_prompt`` (its text when it has none), at the video's aspect, made by the model that
``[media.dalle3]`` / ``[media.imagen3]`` names, in the video stage before the render.

Each picture is written as ``scene_NN.png`` the moment it arrives (to a temporary name, then
renamed), and a retry or a later attempt keeps the ones already there: a picture is paid for
once. Every request is counted in the provider's spend ledger before it is sent.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from autoqueue.config import ImageModelConfig
from autoqueue.errors import TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel
from autoqueue.layout import scene_name
from autoqueue.stages import providers
from autoqueue.stages.base import StageContext, StageLog
from autoqueue.stages.cards import read_story
from autoqueue.timeutil import utcnow


def openai_size(size: tuple[int, int]) -> str:
    """The video's aspect in a size the GPT image models take (both sides multiples of 16)."""
    return "864x1536" if size[0] < size[1] else "1536x864"


def google_aspect(size: tuple[int, int]) -> str:
    return "9:16" if size[0] < size[1] else "16:9"


def scene_prompt(text: str, image_prompt: str | None, style: str, size: tuple[int, int]) -> str:
    shape = "vertical 9:16" if size[0] < size[1] else "horizontal 16:9"
    return f"{(image_prompt or text).strip()}\n\nA {shape} picture. {style}".strip()


def _decoded(data: bytes, where: str) -> bytes:
    """The picture as PNG bytes; a provider's answer that is no picture is a transient error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "PNG":
                return data
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise TransientStageError(
            _("{where} sent a picture that does not decode: {exc}").format(where=where, exc=exc)
        ) from exc


def _ask_openai(
    account: providers.Account, config: ImageModelConfig, prompt: str, size: str
) -> bytes:
    import base64

    options: dict[str, Any] = {}
    if config.quality:
        options["quality"] = config.quality
    response = account.openai().images.generate(
        model=config.model_name, prompt=prompt, size=size, n=1, **options
    )
    data = response.data[0].b64_json if response.data else None
    if not data:
        raise TransientStageError(
            _("{where} answered without a picture").format(where=account.where)
        )
    return base64.b64decode(data)


def _ask_google(
    account: providers.Account, config: ImageModelConfig, prompt: str, aspect: str
) -> bytes:
    from google.genai import types

    from autoqueue.stages.llm import google_refusal

    client = account.google()
    if config.model_name.startswith("imagen-"):  # the Imagen models' own endpoint (on Vertex AI)
        result = client.models.generate_images(
            model=config.model_name,
            prompt=prompt,
            config=types.GenerateImagesConfig(number_of_images=1, aspect_ratio=aspect),
        )
        for generated in result.generated_images or []:
            if generated.image and generated.image.image_bytes:
                return bytes(generated.image.image_bytes)
            if generated.rai_filtered_reason:
                raise providers.refused(account, generated.rai_filtered_reason)
        raise TransientStageError(
            _("{where} answered without a picture").format(where=account.where)
        )
    response = client.models.generate_content(
        model=config.model_name,
        contents=prompt,
        config=types.GenerateContentConfig(
            response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio=aspect)
        ),
    )
    blocked = google_refusal(response)
    if blocked:
        raise providers.refused(account, blocked)
    for candidate in response.candidates or []:
        for part in (candidate.content.parts if candidate.content else None) or []:
            if part.inline_data and part.inline_data.data:
                return bytes(part.inline_data.data)
    raise TransientStageError(_("{where} answered without a picture").format(where=account.where))


def generate_pictures(
    ctx: StageContext, mode: str, config: ImageModelConfig, size: tuple[int, int]
) -> list[Path]:
    """Make the scene pictures that are not there yet; return them all, in scene order."""
    story = read_story(ctx.task_dir)
    account, _model, setting = providers.for_use(ctx.workspace, mode)
    targets = [ctx.task_dir / scene_name(n, ".png") for n in range(1, len(story.scenes) + 1)]
    for number, (scene, target) in enumerate(zip(story.scenes, targets, strict=True), 1):
        if target.is_file():
            continue  # made by an earlier attempt: paid for once
        prompt = scene_prompt(scene.text, scene.image_prompt, config.style, size)
        providers.charge(ctx, account, config.price_each, utcnow())
        try:
            if config.provider == "google":
                data = _ask_google(account, config, prompt, google_aspect(size))
            else:
                data = _ask_openai(account, config, prompt, config.size or openai_size(size))
        except providers.sdk_errors() as exc:
            raise providers.stage_error(
                exc, account, config.model_name, f"{setting} model"
            ) from None
        temporary = target.with_name(target.name + ".part")
        temporary.write_bytes(_decoded(data, account.where))
        temporary.replace(target)
        ctx.log(
            StageLog(
                LogLevel.INFO,
                _("🎨 scene {number}/{total}: picture made by {model}").format(
                    number=number, total=len(targets), model=config.model_name
                ),
                ActionType.PROGRESS,
                {"current": number, "total": len(targets)},
            )
        )
    return targets
