"""The built-in ``template`` script stage: ``story.json`` from the task's title, type and
product info, with no network and no model. Korean input gets Korean lines."""

from __future__ import annotations

import json
import re
from typing import Any

from autoqueue.kinds import TaskType
from autoqueue.layout import STORY
from autoqueue.media.story import Scene, Story
from autoqueue.stages.base import StageContext, StageResult

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
MAX_DETAIL_SCENES = 6

# Each scene is a narration line and, for a text card, what the card shows (a headline: the
# captions carry the narration, so the card never repeats it).
LINES: dict[str, dict[str, tuple[str, str]]] = {
    "ko": {
        "name": ("오늘 소개할 제품은 {name}입니다.", "{name}"),
        "price": ("가격은 {price}입니다.", "{price}"),
        "feature": ("{ordinal}, {feature}.", "{feature}"),
        "intro": ("지금부터 하나씩 알아보겠습니다.", "오늘의 주제"),
        "outro": ("끝까지 봐 주셔서 감사합니다! 구독과 좋아요 부탁드려요.", "구독과 좋아요"),
        "product_outro": ("지금 바로 확인해 보세요!", "지금 확인하세요"),
    },
    "en": {
        "name": ("Meet the {name}.", "{name}"),
        "price": ("It costs {price}.", "{price}"),
        "feature": ("{ordinal}, {feature}.", "{feature}"),
        "intro": ("Here is what you need to know.", "Today's topic"),
        "outro": ("Thanks for watching! Like and subscribe for more.", "Like & subscribe"),
        "product_outro": ("Check it out today!", "Check it out"),
    },
}
ORDINALS = {
    "ko": ("첫째", "둘째", "셋째", "넷째", "다섯째", "여섯째"),
    "en": ("First", "Second", "Third", "Fourth", "Fifth", "Sixth"),
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


def product_name(info: Any) -> str | None:
    """The product's name in the task's product info, when it gives one."""
    name = _pick(info, NAME_KEYS) if isinstance(info, dict) else None
    return _text(name) or None if name is not None else None


def _details(info: Any) -> list[tuple[str, Any]]:
    """The product info as (kind, value) pairs: name, price, each feature, then any other
    field as ("other", "key: value")."""
    if info is None:
        return []
    if isinstance(info, list):
        return [("other", _text(item)) for item in info if _text(item)]
    if not isinstance(info, dict):
        return [("other", _text(info))] if _text(info) else []
    name, price, features = (
        _pick(info, NAME_KEYS),
        _pick(info, PRICE_KEYS),
        _pick(info, FEATURE_KEYS),
    )
    details: list[tuple[str, Any]] = []
    if name is not None:
        details.append(("name", _text(name)))
    if price is not None:
        details.append(("price", _text(price)))
    listed = features if isinstance(features, list) else [] if features is None else [features]
    details += [("feature", _text(feature)) for feature in listed if _text(feature)]
    used = {id(name), id(price), id(features)}
    for key, value in info.items():
        if id(value) not in used and _text(value):
            details.append(("other", f"{key}: {_text(value)}"))
    return details


def _detail_scene(kind: str, value: str, lang: str, ordinal: int) -> Scene:
    """One scene of the product info: a spoken line, and the card's headline."""
    if kind == "other":
        return Scene(text=value, image_prompt=value)
    spoken, shown = LINES[lang][kind]
    ordinals = ORDINALS[lang]
    fields = {kind: value, "ordinal": ordinals[min(ordinal, len(ordinals) - 1)]}
    return Scene(text=spoken.format(**fields), on_screen=shown.format(**fields), image_prompt=value)


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
    return _language(title, *(value for _kind, value in _details(product_info)))


def _line(lang: str, key: str) -> Scene:
    spoken, shown = LINES[lang][key]
    return Scene(text=spoken, on_screen=shown, image_prompt=spoken)


def build_story(
    title: str, task_type: TaskType, product_info: Any, language: str | None = None
) -> Story:
    """The template story for a task (pure), in ``language`` (default: the content's). Scenes
    carry no duration: each lasts as long as it is spoken, plus a breath (docs/stages.md "What
    the video stage makes")."""
    lang = language or story_language(title, product_info)
    details = _details(product_info)[:MAX_DETAIL_SCENES]
    scenes = [Scene(text=title, image_prompt=title)]
    if not details:
        scenes.append(_line(lang, "intro"))
    features = 0
    for kind, value in details:
        scenes.append(_detail_scene(kind, value, lang, features))
        features += kind == "feature"
    scenes.append(_line(lang, "product_outro" if details else "outro"))
    lines = "\n".join(value for _kind, value in details)
    description = f"{title}\n\n{lines}".strip()
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
    from autoqueue.stages.task_settings import task_language

    story = build_story(
        ctx.task.title, ctx.task.type, ctx.task.product_info, task_language(ctx.task)
    )
    save_story(ctx, story)
    return StageResult(details={"scenes": len(story.scenes), "handler": "template"})
