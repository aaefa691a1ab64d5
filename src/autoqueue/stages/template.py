"""The built-in ``template`` script stage: ``story.json`` from the task's title, type and
product info, with no network and no model. Korean input gets Korean lines."""

from __future__ import annotations

import json
import re
from typing import Any

from autoqueue.layout import STORY
from autoqueue.models import TaskType
from autoqueue.stages.base import StageContext, StageResult
from autoqueue.story import Scene, Story

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
MAX_DETAIL_SCENES = 6

LINES = {
    "ko": {
        "name": "{name}",
        "price": "가격: {price}",
        "intro": "오늘의 주제: {title}",
        "outro": "끝까지 봐 주셔서 감사합니다! 구독과 좋아요 부탁드려요.",
        "product_outro": "지금 바로 확인해 보세요!",
        "description": "{title}\n\n{details}",
    },
    "en": {
        "name": "{name}",
        "price": "Price: {price}",
        "intro": "Today: {title}",
        "outro": "Thanks for watching! Like and subscribe for more.",
        "product_outro": "Check it out today!",
        "description": "{title}\n\n{details}",
    },
}
NAME_KEYS = ("name", "product", "title", "이름", "상품명", "제품명")
PRICE_KEYS = ("price", "가격")
FEATURE_KEYS = ("features", "feature", "highlights", "특징", "장점")


def _language(*texts: str) -> str:
    return "ko" if any(HANGUL.search(text) for text in texts) else "en"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value).strip()


def _pick(info: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        for actual, value in info.items():
            if actual.lower() == key and value not in (None, "", []):
                return value
    return None


def _details(info: Any, lang: str) -> list[str]:
    """The product info as scene lines: name, price, each feature, then any other fields."""
    if info is None:
        return []
    if isinstance(info, list):
        return [_text(item) for item in info if _text(item)]
    if not isinstance(info, dict):
        return [_text(info)] if _text(info) else []
    lines = []
    name, price, features = (
        _pick(info, NAME_KEYS),
        _pick(info, PRICE_KEYS),
        _pick(info, FEATURE_KEYS),
    )
    if name is not None:
        lines.append(LINES[lang]["name"].format(name=_text(name)))
    if price is not None:
        lines.append(LINES[lang]["price"].format(price=_text(price)))
    if isinstance(features, list):
        lines += [_text(feature) for feature in features if _text(feature)]
    elif features is not None:
        lines.append(_text(features))
    used = {id(name), id(price), id(features)}
    for key, value in info.items():
        if id(value) not in used and _text(value):
            lines.append(f"{key}: {_text(value)}")
    return lines


def _tags(title: str, info: Any, task_type: TaskType) -> list[str]:
    tags = [task_type.value]
    if isinstance(info, dict):
        name = _pick(info, NAME_KEYS)
        if name is not None:
            tags.append(_text(name))
    tags += [word.strip("#,.!?") for word in title.split() if len(word.strip("#,.!?")) > 1]
    seen: list[str] = []
    for tag in tags:
        if tag and tag not in seen:
            seen.append(tag)
    return seen[:10]


def story_language(title: str, product_info: Any) -> str:
    """ "ko" when the title or the product info has Hangul, else "en" (detected on the content
    itself, not on the words this module adds)."""
    return _language(title, *_details(product_info, "en"))


def build_story(title: str, task_type: TaskType, product_info: Any) -> Story:
    """The template story for a task (pure)."""
    lang = story_language(title, product_info)
    details = _details(product_info, lang)[:MAX_DETAIL_SCENES]
    seconds = 5.0 if task_type is TaskType.LONGFORM else 3.0
    texts = [title] if details else [title, LINES[lang]["intro"].format(title=title)]
    texts += details
    texts.append(LINES[lang]["product_outro" if details else "outro"])
    scenes = [Scene(text=text, image_prompt=text, duration=seconds) for text in texts]
    description = LINES[lang]["description"].format(title=title, details="\n".join(details)).strip()
    return Story(
        title=title,
        description=description,
        tags=_tags(title, product_info, task_type),
        scenes=scenes,
    )


def save_story(ctx: StageContext, story: Story) -> None:
    """``tasks/{id}/story.json``, written whole or not at all."""
    ctx.task_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.task_dir / STORY
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(
        json.dumps(story.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    temporary.replace(path)


def run_template_stage(ctx: StageContext) -> StageResult:
    """Write ``tasks/{id}/story.json`` from the task."""
    story = build_story(ctx.task.title, ctx.task.type, ctx.task.product_info)
    save_story(ctx, story)
    return StageResult(details={"scenes": len(story.scenes), "handler": "template"})
