"""The ``llm`` script stage: a chat model writes ``story.json`` from the task's title, type and
product info, in the task's language, answering against the story's JSON Schema.

It speaks through the official ``openai`` SDK, whose ``base_url`` also reaches Ollama and other
OpenAI-compatible servers. What the provider says decides what happens next:

- an answer that is not a valid story is sent back with what is wrong, up to
  ``[llm] attempts`` times, then the stage fails transiently (a retry starts afresh);
- a refused key (401/403) or an unknown model (404) fails permanently, naming the setting;
- a refusal on content policy fails permanently with the provider's reason;
- 429 (and 503 with ``Retry-After``) parks the item until the provider's ``Retry-After``,
  without spending a retry; other 5xx and network errors are transient.

The key is read from the environment or ``credentials/openai.key``, and is cut out of any
message the provider sends back before it reaches a log row or an error.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoqueue.config import LlmConfig
from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.models import ActionType, LogLevel, TaskType
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.story import Story
from autoqueue.timeutil import utcnow

KEY_FILE = Path("credentials") / "openai.key"
DEFAULT_WAIT = 60.0  # seconds parked after a 429 that says nothing of when to come back
LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}

PROMPTS = {
    TaskType.SHORTFORM: (
        "Write a YouTube Shorts script of about 30 seconds on: {title}\n"
        "Six to eight short scenes; the first one hooks the viewer in a few words, the last one "
        "invites them to follow. Each scene's text is what the narrator says (one or two short "
        "sentences) and its image_prompt describes a vertical picture for it.{product_info}"
    ),
    TaskType.LONGFORM: (
        "Write a YouTube video script of two to three minutes on: {title}\n"
        "Twelve to twenty scenes with a clear beginning, middle and end. Each scene's text is "
        "what the narrator says (two or three sentences) and its image_prompt describes a "
        "horizontal picture for it.{product_info}"
    ),
    TaskType.PRODUCT: (
        "Write a YouTube Shorts product video of about 30 seconds for: {title}\n"
        "Open with the product's name, give its price and its most useful features in plain "
        "words, and close with a call to action. Use only the facts below; invent no numbers."
        "{product_info}"
    ),
}
SYSTEM = (
    "You write scripts for short videos. Answer with one JSON object that follows the given "
    "JSON Schema: title, description (two or three sentences), tags (up to ten), and scenes. "
    "Write every text field in {language}."
)


def api_key(ctx: StageContext, config: LlmConfig) -> str | None:
    """The key: the environment variable named by ``api_key_env``, else the home's
    ``credentials/openai.key`` (which must not be readable by others)."""
    value = os.environ.get(config.api_key_env, "").strip()
    if value:
        return value
    path = ctx.workspace.home / KEY_FILE
    if not path.is_file():
        return None
    if sys.platform != "win32" and path.stat().st_mode & 0o077:
        raise PermanentStageError(
            _("{path} is readable by other users: chmod 600 {path}").format(path=path)
        )
    return path.read_text(encoding="utf-8").strip() or None


def prompt(ctx: StageContext, config: LlmConfig, language: str) -> str:
    """The user prompt for the task: the home's ``prompts/{type}.txt`` when there is one, else
    the built-in one. Placeholders: {title}, {type}, {language}, {product_info}."""
    info = ctx.task.product_info
    details = ""
    if info not in (None, "", [], {}):
        details = "\n\nProduct info:\n" + json.dumps(info, ensure_ascii=False, indent=2)
    own = ctx.workspace.home / config.prompts / f"{ctx.task.type.value}.txt"
    template = own.read_text(encoding="utf-8") if own.is_file() else PROMPTS[ctx.task.type]
    values = {
        "title": ctx.task.title,
        "type": ctx.task.type.value,
        "language": LANGUAGE_NAMES.get(language, language),
        "product_info": details,
    }
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as exc:
        raise PermanentStageError(
            _("{path}: {error} (placeholders: {names})").format(
                path=own, error=exc, names=", ".join("{" + name + "}" for name in values)
            )
        ) from exc


def _redact(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key else text


def _error_field(exc: Any, name: str) -> str:
    """A field of the provider's error body (``{"error": {"message": ..., "code": ...}}``, or
    the same fields at the top), or ""."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner.get(name) or "") if isinstance(inner, dict) else ""


def _message(exc: Any, key: str | None) -> str:
    """What the provider said, from its error body when there is one, without the key."""
    return _redact(_error_field(exc, "message") or str(exc), key)[:500]


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _stage_error(exc: Exception, config: LlmConfig, key: str | None, where: str) -> Exception:
    """The stage error for what the SDK raised."""
    import openai

    said = _message(exc, key)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return PermanentStageError(
            _(
                "{where} refused the key ({said}): set ${env} or write the key to "
                "credentials/openai.key in the home"
            ).format(where=where, said=said, env=config.api_key_env)
        )
    if isinstance(exc, openai.NotFoundError):
        return PermanentStageError(
            _("{where} has no model {model!r} ({said}): set [llm] model").format(
                where=where, model=config.model, said=said
            )
        )
    if isinstance(exc, openai.RateLimitError) or (
        isinstance(exc, openai.InternalServerError) and _retry_after(exc) is not None
    ):
        wait = _retry_after(exc)
        seconds = DEFAULT_WAIT if wait is None else wait
        return ParkStageError(
            _("{where} asks to wait {seconds:.0f} s: {said}").format(
                where=where, seconds=seconds, said=said
            ),
            utcnow() + timedelta(seconds=seconds),
        )
    if isinstance(exc, openai.BadRequestError):
        code = _error_field(exc, "code")
        if "policy" in code or "safety" in code or "content_filter" in code:
            return PermanentStageError(
                _("{where} refused the request on content policy: {said}").format(
                    where=where, said=said
                )
            )
        return PermanentStageError(
            _("{where} refused the request: {said}").format(where=where, said=said)
        )
    return TransientStageError(_("{where}: {said}").format(where=where, said=said))


def _story_schema() -> dict[str, Any]:
    return Story.model_json_schema()


def write_story(ctx: StageContext, config: LlmConfig) -> Story:
    """Ask the model for the story until it is a valid one (``config.attempts`` answers)."""
    import openai

    from autoqueue.stages.template import story_language

    key = api_key(ctx, config)
    if key is None and config.base_url is None:
        raise PermanentStageError(
            _(
                '[stages.script] handler = "llm" needs a key: set ${env} or write it to '
                "credentials/openai.key in the home, or set [llm] base_url to a local server "
                "(Ollama: http://127.0.0.1:11434/v1)"
            ).format(env=config.api_key_env)
        )
    where = config.base_url or "OpenAI"
    client = openai.OpenAI(
        api_key=key or "none",  # a local server needs none; the SDK wants a string
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=0,  # the queue retries, and parks on 429: no hidden waits in here
    )
    language = story_language(ctx.task.title, ctx.task.product_info)
    messages: list[dict[str, str]] = [
        {"role": "system", "content": SYSTEM.format(language=LANGUAGE_NAMES[language])},
        {"role": "user", "content": prompt(ctx, config, language)},
    ]
    problem = ""
    for attempt in range(1, config.attempts + 1):
        try:
            response = client.chat.completions.create(  # type: ignore[call-overload]
                model=config.model,
                messages=messages,
                temperature=config.temperature,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "story", "schema": _story_schema()},
                },
            )
        except openai.APIError as exc:
            raise _stage_error(exc, config, key, where) from None
        choice = response.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise PermanentStageError(
                _("{where} refused the request on content policy: {said}").format(
                    where=where, said=_redact(str(refusal), key)[:500]
                )
            )
        answer = choice.message.content or ""
        try:
            story = Story.model_validate_json(answer)
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}"
                for error in exc.errors()[:5]
            )
            ctx.log(
                StageLog(
                    LogLevel.WARN,
                    _("✍️ answer {attempt}/{attempts} is not a valid story: {problem}").format(
                        attempt=attempt, attempts=config.attempts, problem=problem
                    ),
                    ActionType.PROGRESS,
                )
            )
            messages += [
                {"role": "assistant", "content": answer[:4000]},
                {
                    "role": "user",
                    "content": "That does not follow the schema: "
                    + problem
                    + ". Answer again with the whole JSON object only.",
                },
            ]
            continue
        return story
    raise TransientStageError(
        _("{where} gave no valid story in {attempts} answers: {problem}").format(
            where=where, attempts=config.attempts, problem=problem
        )
    )


def run_llm_stage(ctx: StageContext) -> StageResult:
    """Write ``tasks/{id}/story.json`` with the configured model."""
    from autoqueue.stages.template import save_story

    config = ctx.workspace.config.llm
    story = write_story(ctx, config)
    save_story(ctx, story)
    return StageResult(
        details={"scenes": len(story.scenes), "handler": "llm", "model": config.model}
    )
