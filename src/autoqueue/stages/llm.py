"""The ``llm`` script stage: a chat model writes ``story.json`` from the task's title, type and
product info, in the task's language, answering against the story's JSON Schema.

It speaks through the provider's official SDK: ``openai`` (whose ``base_url`` also reaches Ollama
and other OpenAI-compatible servers) or ``google-genai`` (Gemini). What the provider says
decides what happens next (stages/providers.py):

- an answer that is not a valid story is sent back with what is wrong, up to
  ``[llm] attempts`` times, then the stage fails transiently (a retry starts afresh);
- a refused key (401/403) or an unknown model (404) fails permanently, naming the setting;
- a refusal on content policy fails permanently with the provider's reason;
- 429 (and 503 with ``Retry-After``) parks the item until the provider's ``Retry-After``,
  without spending a retry; other 5xx and network errors are transient.

The key is read from the environment or ``credentials/{provider}.key``, and is cut out of any
message the provider sends back before it reaches a log row or an error. Each request is
counted in the provider's daily spend ledger before it is sent.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from autoqueue.config import LlmConfig
from autoqueue.errors import PermanentStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, TaskType
from autoqueue.media.story import Story
from autoqueue.stages import providers
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.timeutil import utcnow

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


def _story_schema() -> dict[str, Any]:
    return Story.model_json_schema()


def _account(ctx: StageContext, config: LlmConfig) -> providers.Account:
    try:
        return providers.for_use(ctx.workspace, "llm")[0]
    except PermanentStageError as exc:
        if config.provider != "openai" or "chmod" in str(exc):
            raise
        raise PermanentStageError(
            _(
                "{error}, or set [llm] base_url to a local server (Ollama: "
                "http://127.0.0.1:11434/v1)"
            ).format(error=exc)
        ) from None


class _Conversation:
    """One provider's side of the exchange: ask with everything said so far, and hear back."""

    def __init__(self, ctx: StageContext, config: LlmConfig, account: providers.Account) -> None:
        from autoqueue.stages.task_settings import task_language

        self.config = config
        self.account = account
        self.language = task_language(ctx.task)
        self.system = SYSTEM.format(language=LANGUAGE_NAMES[self.language])
        self.turns: list[tuple[str, str]] = [("user", prompt(ctx, config, self.language))]

    def ask(self) -> str:
        """The model's next answer (a refusal raises PermanentStageError)."""
        try:
            if self.account.provider == "google":
                return self._ask_google()
            return self._ask_openai()
        except providers.sdk_errors() as exc:
            raise providers.stage_error(
                exc, self.account, self.config.model_name, "[llm] model"
            ) from None

    def _ask_openai(self) -> str:
        client = self.account.openai()
        messages = [{"role": "system", "content": self.system}] + [
            {"role": role, "content": text} for role, text in self.turns
        ]
        response = client.chat.completions.create(
            model=self.config.model_name,
            messages=messages,
            temperature=self.config.temperature,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "story", "schema": _story_schema()},
            },
        )
        choice = response.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise providers.refused(self.account, str(refusal))
        return str(choice.message.content or "")

    def _ask_google(self) -> str:
        from google.genai import types

        client = self.account.google()
        response = client.models.generate_content(
            model=self.config.model_name,
            contents=[
                types.Content(
                    role="model" if role == "assistant" else "user",
                    parts=[types.Part(text=text)],
                )
                for role, text in self.turns
            ],
            config=types.GenerateContentConfig(
                system_instruction=self.system,
                temperature=self.config.temperature,
                response_mime_type="application/json",
                response_json_schema=_story_schema(),
            ),
        )
        blocked = google_refusal(response)
        if blocked:
            raise providers.refused(self.account, blocked)
        return str(response.text or "")

    def tell(self, answer: str, problem: str) -> None:
        self.turns += [
            ("assistant", answer[:4000]),
            (
                "user",
                "That does not follow the schema: "
                + problem
                + ". Answer again with the whole JSON object only.",
            ),
        ]


def google_refusal(response: Any) -> str:
    """Why Gemini refused (a blocked prompt, or an answer stopped on safety), or ""."""
    feedback = getattr(response, "prompt_feedback", None)
    reason = getattr(feedback, "block_reason", None)
    if reason:
        message = getattr(feedback, "block_reason_message", None) or ""
        return f"{getattr(reason, 'value', reason)} {message}".strip()
    for candidate in getattr(response, "candidates", None) or []:
        finish = getattr(candidate, "finish_reason", None)
        name = str(getattr(finish, "value", finish) or "")
        if any(word in name.lower() for word in providers.POLICY_WORDS):
            message = getattr(candidate, "finish_message", None) or ""
            return f"{name} {message}".strip()
    return ""


def write_story(ctx: StageContext, config: LlmConfig) -> Story:
    """Ask the model for the story until it is a valid one (``config.attempts`` answers)."""
    account = _account(ctx, config)
    conversation = _Conversation(ctx, config, account)
    problem = ""
    for attempt in range(1, config.attempts + 1):
        if config.base_url is None:  # a server of the user's own (Ollama) is not counted
            providers.charge(ctx, account, config.price, utcnow())
        answer = conversation.ask()
        try:
            return Story.model_validate_json(answer)
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
            conversation.tell(answer, problem)
    raise TransientStageError(
        _("{where} gave no valid story in {attempts} answers: {problem}").format(
            where=account.where, attempts=config.attempts, problem=problem
        )
    )


def run_llm_stage(ctx: StageContext) -> StageResult:
    """Write ``tasks/{id}/story.json`` with the configured model."""
    from autoqueue.stages.template import save_story

    config = ctx.workspace.config.llm
    story = write_story(ctx, config)
    save_story(ctx, story)
    return StageResult(
        details={"scenes": len(story.scenes), "handler": "llm", "model": config.model_name}
    )
