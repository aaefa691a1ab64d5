"""The ``stock`` image stage (``[stages.image] handler = "stock"``, the crawl mediaMode): a
stock photo or clip per scene from the Pexels and/or Pixabay APIs, searched by the scene's
``image_prompt`` (its text when it has none), in the task's language, at the video's
orientation.

- Each scene gets a picture (or clip) no earlier scene of the task got; one that no source
  has is drawn as a card, with a warning.
- Who made each one, where it is and its licence are recorded in ``credits.json`` in the task
  folder, and the upload's description ends with them (``credits_text``).
- A scene already there (an earlier attempt's) is kept: a retry searches for the rest only.
- A refused key fails permanently, naming it; 429 parks the item until the API's rate-limit
  window resets; 5xx and network errors are transient. The keys never reach a log row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from autoqueue.config import Config, StockConfig
from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.layout import CREDITS, resolution, scene_images, scene_name
from autoqueue.stages import ffmpeg
from autoqueue.stages.base import StageContext, StageLog, StageResult
from autoqueue.stages.cards import read_story
from autoqueue.stages.library import Picker, credit_lines
from autoqueue.stages.providers import DEFAULT_WAIT, find_key, has_key, retry_after
from autoqueue.timeutil import utcnow

KEY_ENV = {"pexels": "PEXELS_API_KEY", "pixabay": "PIXABAY_API_KEY"}
NAMES = {"pexels": "Pexels", "pixabay": "Pixabay"}
LICENCES = {
    "pexels": ("Pexels License", "https://www.pexels.com/license/"),
    "pixabay": ("Pixabay Content License", "https://pixabay.com/service/license-summary/"),
}


@dataclass(frozen=True)
class Found:
    """One search result: what to download, and whom to credit."""

    source: str
    id: str
    url: str  # the file
    page_url: str
    author: str
    author_url: str
    clip: bool


@dataclass(frozen=True)
class Credit:
    scene: int
    file: str
    source: str
    id: str
    author: str
    author_url: str
    page_url: str
    licence: str
    licence_url: str


class StockApi:
    """One source's search and download, through ``requests``."""

    def __init__(self, source: str, key: str, config: StockConfig) -> None:
        self.source = source
        self.key = key
        self.config = config

    def _get(self, url: str, params: dict[str, Any] | None = None, *, api: bool = True) -> Any:
        """GET from the API (with the key), or a file from its CDN (``api=False``: without)."""
        import requests

        headers = {"Authorization": self.key} if self.source == "pexels" and api else {}
        if self.source == "pixabay" and params is not None:
            params = {"key": self.key, **params}
        try:
            response = requests.get(
                url, params=params, headers=headers, timeout=self.config.timeout
            )
        except requests.RequestException as exc:
            raise TransientStageError(
                _("{name}: {said}").format(name=NAMES[self.source], said=self.redact(str(exc)))
            ) from None
        self._check(response)
        return response

    def redact(self, text: str) -> str:
        return text.replace(self.key, "***")

    def _check(self, response: Any) -> None:
        status = response.status_code
        if status < 400:
            return
        said = self.redact(response.text.strip())[:300] or str(status)
        name = NAMES[self.source]
        if status in (401, 403):
            raise PermanentStageError(
                _(
                    "{name} refused the key ({said}): set ${env} or write the key to "
                    "credentials/{source}.key in the home"
                ).format(name=name, said=said, env=KEY_ENV[self.source], source=self.source)
            )
        if status == 429:
            wait = retry_after(response) or _reset_seconds(response) or DEFAULT_WAIT
            raise ParkStageError(
                _("{name} asks to wait {seconds:.0f} s: {said}").format(
                    name=name, seconds=wait, said=said
                ),
                utcnow() + timedelta(seconds=wait),
            )
        if status >= 500:
            raise TransientStageError(_("{name}: {said}").format(name=name, said=said))
        raise PermanentStageError(
            _("{name} refused the search: {said}").format(name=name, said=said)
        )

    def search(self, query: str, vertical: bool, language: str) -> list[Found]:
        if self.source == "pexels":
            return self._pexels(query, vertical, language)
        return self._pixabay(query, vertical, language)

    def _pexels(self, query: str, vertical: bool, language: str) -> list[Found]:
        videos = self.config.kind == "videos"
        path = "/videos/search" if videos else "/v1/search"
        params = {
            "query": query,
            "orientation": "portrait" if vertical else "landscape",
            "per_page": self.config.candidates,
            "locale": "ko-KR" if language == "ko" else "en-US",
        }
        data = self._get(self.config.pexels_url.rstrip("/") + path, params).json()
        found = []
        for item in data.get("videos" if videos else "photos") or []:
            if videos:
                files = [
                    f for f in item.get("video_files") or [] if f.get("file_type") == "video/mp4"
                ]
                if not files:
                    continue
                # the smallest file at least 720 px on its short side, else the largest
                files.sort(key=lambda f: min(f.get("width") or 0, f.get("height") or 0))
                url = next(
                    (
                        f["link"]
                        for f in files
                        if min(f.get("width") or 0, f.get("height") or 0) >= 720
                    ),
                    files[-1]["link"],
                )
                user = item.get("user") or {}
                author, author_url = user.get("name", ""), user.get("url", "")
            else:
                sources = item.get("src") or {}
                url = sources.get("portrait" if vertical else "large2x") or sources.get("original")
                author, author_url = item.get("photographer", ""), item.get("photographer_url", "")
            if url:
                found.append(
                    Found(
                        "pexels",
                        str(item["id"]),
                        url,
                        item.get("url", ""),
                        author,
                        author_url,
                        videos,
                    )
                )
        return found

    def _pixabay(self, query: str, vertical: bool, language: str) -> list[Found]:
        videos = self.config.kind == "videos"
        base = self.config.pixabay_url.rstrip("/")
        params: dict[str, Any] = {
            "q": query[:100],
            "lang": language if language in ("ko", "en") else "en",
            "safesearch": "true",
            "per_page": self.config.candidates,
        }
        if not videos:
            params |= {
                "image_type": "photo",
                "orientation": "vertical" if vertical else "horizontal",
            }
        data = self._get(base + ("/videos/" if videos else "/"), params).json()
        found = []
        for item in data.get("hits") or []:
            if videos:
                sizes = item.get("videos") or {}
                url = (sizes.get("large") or {}).get("url") or (sizes.get("medium") or {}).get(
                    "url"
                )
            else:
                url = item.get("largeImageURL") or item.get("webformatURL")
            if url:
                user = item.get("user", "")
                profile = f"https://pixabay.com/users/{user}-{item.get('user_id', '')}/"
                found.append(
                    Found(
                        "pixabay",
                        str(item["id"]),
                        url,
                        item.get("pageURL", ""),
                        user,
                        profile,
                        videos,
                    )
                )
        return found

    def download(self, found: Found) -> bytes:
        return bytes(self._get(found.url, api=False).content)


def _reset_seconds(response: Any) -> float | None:
    """Pexels' and Pixabay's rate-limit headers: seconds until the window resets (Pixabay), or
    the epoch second it resets at (Pexels)."""
    value = response.headers.get("x-ratelimit-reset")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1_000_000_000:  # an epoch second
        number -= utcnow().timestamp()
    return max(number, 1.0)


def configured(home: Path, config: StockConfig) -> bool:
    """Whether any configured source has a key."""
    return any(has_key(home, source, KEY_ENV[source]) for source in config.sources)


def key_places(config: StockConfig) -> tuple[str, str]:
    """Where the configured sources' keys go: the variables, and the key files."""
    wanted = " / ".join(f"${KEY_ENV[source]}" for source in config.sources)
    files = " / ".join(f"credentials/{source}.key" for source in config.sources)
    return wanted, files


def in_use(home: Path, config: Config) -> bool:
    """Whether crawl tasks get stock photos: ``handler = "stock"``, or the image stage left at
    its default while a Pexels or Pixabay key is there (``handler = "cards"`` keeps the cards)."""
    stage = config.stage(QueueType.IMAGE)
    if config.handler(QueueType.IMAGE) == "stock":
        return True
    return stage.handler is None and stage.command is None and configured(home, config.stock)


def apis(ctx: StageContext, config: StockConfig) -> list[StockApi]:
    """The configured sources that have a key; none fails permanently, saying where keys go."""
    found = []
    for source in config.sources:
        key = find_key(ctx.workspace.home, source, KEY_ENV[source])
        if key:
            found.append(StockApi(source, key, config))
    if not found:
        wanted, files = key_places(config)
        raise PermanentStageError(
            _(
                '[stages.image] handler = "stock" needs a key: set {wanted} or write one to '
                "{files} in the home (both APIs are free: pexels.com/api, pixabay.com/api/docs)"
            ).format(wanted=wanted, files=files)
        )
    return found


def read_credits(task_dir: Path) -> list[Credit]:
    path = task_dir / CREDITS
    try:
        return [Credit(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return []


def credits_text(task_dir: Path) -> str:
    """The lines the description ends with: each author, the source and the licence."""
    lines = [
        f"- {c.author} ({NAMES.get(c.source, c.source)}, {c.licence}): {c.page_url}"
        for c in read_credits(task_dir)
    ] + credit_lines(task_dir)  # and what the user's own files' sidecars ask for
    if not lines:
        return ""
    return "Credits:\n" + "\n".join(dict.fromkeys(lines))


def _write_credits(task_dir: Path, credits: list[Credit]) -> None:
    path = task_dir / CREDITS
    temporary = path.with_suffix(".tmp")
    data = [asdict(c) for c in sorted(credits, key=lambda c: c.scene)]
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(path)


def _save(data: bytes, target: Path, clip: bool, exe: str) -> None:
    """Write a download under a temporary name, check that it is what it claims, rename it."""
    from autoqueue.media.images import image_problem

    temporary = target.with_name(target.name + ".part")
    temporary.write_bytes(data)
    problem = ffmpeg.decode_problem(exe, temporary) if clip else image_problem(temporary)
    if problem is not None:
        temporary.unlink(missing_ok=True)
        raise TransientStageError(
            _("a download for {name} is not usable: {problem}").format(
                name=target.name, problem=problem
            )
        )
    temporary.replace(target)


def run_stock_stage(ctx: StageContext) -> StageResult:
    """Fill ``scene_NN.jpg`` (or ``.mp4``) for every scene of story.json."""
    from autoqueue.stages.cards import card_text, choose_font, render_card
    from autoqueue.stages.task_settings import task_language

    config = ctx.workspace.config.stock
    story = read_story(ctx.task_dir)
    video = ctx.workspace.config.stage(QueueType.VIDEO)
    image_config = ctx.workspace.config.stage(QueueType.IMAGE)
    size = resolution(ctx.task.type.value, video.resolution)
    vertical = size[0] < size[1]
    language = task_language(ctx.task)
    sources = apis(ctx, config)
    exe = ffmpeg.binary(video.ffmpeg, ctx.workspace.home)  # to check stock clips
    have = {path.stem: path for path in scene_images(ctx.task_dir)}
    credits = [c for c in read_credits(ctx.task_dir) if c.file in {p.name for p in have.values()}]
    used = {(c.source, c.id) for c in credits}
    media = Picker.open(ctx)  # the user's own pictures and clips come first
    cards = 0
    total = len(story.scenes)
    for number, scene in enumerate(story.scenes, 1):
        stem = scene_name(number, "")
        if stem in have:
            continue  # an earlier attempt's
        if media.take(number, total, scene):
            continue
        query = (scene.image_prompt or scene.text).strip()[:200]
        pick = None
        for api in sources:
            pick = next(
                (f for f in api.search(query, vertical, language) if (f.source, f.id) not in used),
                None,
            )
            if pick is not None:
                break
        if pick is None:
            cards += 1
            card = render_card(
                card_text(scene, video.captions and scene.captions),
                size=size,
                index=number - 1,
                total=total,
                font_path=choose_font(ctx, image_config),
            )
            target = ctx.task_dir / scene_name(number, ".png")
            temporary = target.with_name(target.name + ".part")
            card.save(temporary, format="PNG")
            temporary.replace(target)
            ctx.log(
                StageLog(
                    LogLevel.WARN,
                    _(
                        "📸 scene {number}/{total}: nothing found for {query!r}; a card instead"
                    ).format(number=number, total=total, query=query),
                    ActionType.PROGRESS,
                )
            )
            continue
        api = next(a for a in sources if a.source == pick.source)
        target = ctx.task_dir / scene_name(number, ".mp4" if pick.clip else ".jpg")
        _save(api.download(pick), target, pick.clip, exe)
        used.add((pick.source, pick.id))
        licence, licence_url = LICENCES[pick.source]
        credits.append(
            Credit(
                number, target.name, pick.source, pick.id, pick.author, pick.author_url,
                pick.page_url, licence, licence_url,
            )
        )  # fmt: skip
        _write_credits(ctx.task_dir, credits)
        ctx.log(
            StageLog(
                LogLevel.INFO,
                _("📸 scene {number}/{total}: {author} on {source}").format(
                    number=number, total=total, author=pick.author, source=NAMES[pick.source]
                ),
                ActionType.PROGRESS,
                {"current": number, "total": total, "sceneName": target.stem},
            )
        )
    media.finish()
    if credits:
        _write_credits(ctx.task_dir, credits)  # none for a scene that is no longer there
    else:
        (ctx.task_dir / CREDITS).unlink(missing_ok=True)
    return StageResult(details={"handler": "stock", "scenes": total, "cards": cards})
