"""The user's own footage: the home's ``media/`` folder, searched per scene before stock photos
and text cards (the crawl mediaMode's ``cards`` and ``stock`` image stages).

- Each picture or clip under ``media/`` (subfolders too) is tagged by the words of its file
  name (split on ``_ - . space``), its folders' names, and a sidecar beside it: ``NAME.txt``
  (tags separated by commas or newlines) or ``NAME.json`` (``{"tags": [...], "credit": "..."}``).
- A scene's words (its ``image_prompt``, else ``on_screen`` and ``text``) are matched against
  the tags: case-insensitively, Korean on whole tokens with a particle after the tag allowed.
  The file with the most tags in common wins; each file is used at most once per video.
- The file is hard-linked (else copied) to ``scene_NN.<ext>`` after the same checks as a stock
  download, and recorded in ``media.json`` so that the video stage never takes it for a card.
- A folder that is absent or empty changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autoqueue.i18n import _
from autoqueue.kinds import ActionType, LogLevel, QueueType
from autoqueue.layout import CLIP_SUFFIXES, IMAGE_SUFFIXES, MEDIA_RECORD, scene_name
from autoqueue.media.story import Scene
from autoqueue.stages.base import StageContext, StageLog

FOLDER = "media"  # in the home; fixed, like music/
_SPLIT = re.compile(r"[\W_]+")  # file names split on _ - . space (and any other punctuation)
# words too common to say what a picture shows, and cameras' file-name prefixes
STOP_WORDS = frozenset({
    "a", "an", "and", "the", "of", "in", "on", "at", "to", "for", "with", "by", "from", "is",
    "are", "my", "our", "your", "this", "that", "it", "img", "dsc", "dscn", "dscf", "pxl", "vid",
    "mvimg", "image", "photo", "picture", "video", "clip", "movie", "copy", "final", "edit",
    "edited", "screenshot", "kakaotalk",
})  # fmt: skip
# Korean particles and endings that may follow a one-syllable tag (longer tags match any token
# they start: 가습기를, 가습기로도)
PARTICLES = frozenset({
    "은", "는", "이", "가", "을", "를", "에", "의", "로", "으로", "와", "과", "도", "만", "에서",
    "에게", "한테", "께", "까지", "부터", "처럼", "보다", "랑", "이랑", "하고", "이나", "나", "들",
    "들이", "들은", "들을", "들도", "이다", "입니다", "이에요", "예요", "이야", "야",
})  # fmt: skip


@dataclass(frozen=True)
class MediaFile:
    """One picture or clip in the media folder, and what it is tagged with."""

    path: Path
    name: str  # relative to the media folder, with forward slashes
    tags: frozenset[str]
    credit: str = ""

    @property
    def clip(self) -> bool:
        return self.path.suffix.lower() in CLIP_SUFFIXES


@dataclass(frozen=True)
class MediaEntry:
    """A scene taken from the media folder, as recorded in ``media.json``."""

    scene: int
    file: str  # scene_NN.<ext> in the task folder
    source: str  # relative to the media folder
    tags: list[str] = field(default_factory=list)  # the tags it matched
    credit: str = ""


def words(text: str) -> set[str]:
    """The words of ``text`` that can tag or match: NFC (file names from a Mac are NFD),
    case-folded, without stop words, numbers or single Latin letters."""
    text = unicodedata.normalize("NFC", text).casefold()
    return {
        word
        for word in _SPLIT.split(text)
        if word
        and word not in STOP_WORDS
        and not word.isdigit()
        and (len(word) > 1 or _hangul(word))
    }


def _hangul(word: str) -> bool:
    return "\uac00" <= word[0] <= "\ud7a3"


def matches(word: str, tag: str) -> bool:
    """Whether a scene's ``word`` says ``tag``: the same word, an English plural, or in Korean
    the tag followed by a particle (crudely: any ending after a tag of two syllables or more)."""
    if word == tag:
        return True
    if _hangul(tag):
        rest = word[len(tag) :] if word.startswith(tag) else None
        return rest is not None and (len(tag) >= 2 or rest in PARTICLES)
    return word in (tag + "s", tag + "es") or tag in (word + "s", word + "es")


def scene_words(scene: Scene) -> set[str]:
    """What a scene is about: its image prompt, else its headline and narration."""
    if scene.image_prompt and scene.image_prompt.strip():
        return words(scene.image_prompt)
    return words(f"{scene.on_screen or ''} {scene.text}")


def common_tags(wanted: set[str], item: MediaFile) -> set[str]:
    """The file's tags that the scene's words say."""
    return {tag for tag in item.tags if any(matches(word, tag) for word in wanted)}


def ranked(wanted: set[str], items: list[MediaFile]) -> list[tuple[MediaFile, set[str]]]:
    """The files with at least one tag in common, best first: the most tags in common, then the
    largest share of the file's own tags (the more specific file), then by name."""
    found = [(item, common_tags(wanted, item)) for item in items]
    found = [(item, common) for item, common in found if common]
    found.sort(key=lambda pair: (-len(pair[1]), -len(pair[1]) / len(pair[0].tags), pair[0].name))
    return found


def _sidecar(path: Path) -> tuple[set[str], str, str | None]:
    """Tags and credit from ``NAME.txt`` / ``NAME.json`` beside ``path`` (``photo.jpg.txt`` or
    ``photo.txt``), and what was wrong with one that cannot be read."""
    tags: set[str] = set()
    credit = ""
    for side in dict.fromkeys(
        [path.with_name(path.name + ext) for ext in (".txt", ".json")]
        + [path.with_suffix(ext) for ext in (".txt", ".json")]
    ):
        if not side.is_file():
            continue
        try:
            text = side.read_text(encoding="utf-8-sig")
            if side.suffix == ".txt":
                tags |= words(text)
                continue
            data = json.loads(text)
            listed = data.get("tags") or []
            tags |= words(" ".join([listed] if isinstance(listed, str) else map(str, listed)))
            credit = str(data.get("credit") or "").strip() or credit
        except (OSError, ValueError, AttributeError) as exc:
            return tags, credit, f"{side.name}: {exc}"
    return tags, credit, None


def _walk(folder: Path) -> list[Path]:
    """Every picture and clip under ``folder``, through symbolic links (each real folder once),
    leaving out hidden files and folders."""
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            if not name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES | CLIP_SUFFIXES:
                found.append(path)
    return found


def index(folder: Path) -> tuple[list[MediaFile], list[str]]:
    """The tagged files of the media folder (none when it is absent), and the sidecars that
    could not be read."""
    items: list[MediaFile] = []
    problems: list[str] = []
    if not folder.is_dir():
        return items, problems
    for path in _walk(folder):
        relative = path.relative_to(folder)
        extra, credit, problem = _sidecar(path)
        if problem is not None:
            problems.append(f"{relative.parent.as_posix()}/{problem}".removeprefix("./"))
        tags = words(" ".join([*relative.parent.parts, path.stem])) | extra
        if tags:
            items.append(MediaFile(path, relative.as_posix(), frozenset(tags), credit))
    return items, problems


def read_media(task_dir: Path) -> list[MediaEntry]:
    """The scenes ``media.json`` says came from the media folder."""
    try:
        data = json.loads((task_dir / MEDIA_RECORD).read_text(encoding="utf-8"))
        return [MediaEntry(**entry) for entry in data]
    except (OSError, ValueError, TypeError):
        return []


def credit_lines(task_dir: Path) -> list[str]:
    """The credits the user gave their files (``"credit"`` in a sidecar .json)."""
    return [f"- {entry.credit}" for entry in read_media(task_dir) if entry.credit]


def _write_media(task_dir: Path, entries: list[MediaEntry]) -> None:
    path = task_dir / MEDIA_RECORD
    if not entries:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_suffix(".tmp")
    data = [asdict(e) for e in sorted(entries, key=lambda e: e.scene)]
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(path)


def _place(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (the user's file, no second copy on disk), else copy
    it (another file system); under a temporary name, then renamed."""
    temporary = target.with_name(target.name + ".part")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    temporary.replace(target)


class Picker:
    """One image stage run's use of the media folder: which files are taken, and by which
    scene."""

    def __init__(self, ctx: StageContext, items: list[MediaFile]) -> None:
        self.ctx = ctx
        self.items = items
        # scenes an earlier attempt took (and that are still there) keep their files
        self.entries = [e for e in read_media(ctx.task_dir) if (ctx.task_dir / e.file).is_file()]
        self.used = {e.source for e in self.entries}
        self.broken: set[str] = set()
        self._exe: str | None = None

    @classmethod
    def open(cls, ctx: StageContext) -> Picker:
        """The home's media folder, indexed; unreadable sidecars are warned about."""
        items, problems = index(ctx.workspace.home / FOLDER)
        picker = cls(ctx, items)
        for problem in problems:
            picker._warn(
                _("your media/{name} cannot be read; its tags are left out").format(name=problem)
            )
        return picker

    def take(self, number: int, total: int, scene: Scene) -> bool:
        """Put the best usable match for scene ``number`` in place; False when none."""
        if not self.items:
            return False
        wanted = scene_words(scene)
        for item, common in ranked(wanted, self.items):
            if item.name in self.used or item.name in self.broken:
                continue
            if not self._usable(item):
                continue
            self._use(number, total, item, common)
            return True
        return False

    def _usable(self, item: MediaFile) -> bool:
        """Whether the file decodes (every frame of a clip), as a stock download must."""
        from autoqueue.media.images import image_problem
        from autoqueue.stages import ffmpeg

        try:
            problem = (
                ffmpeg.decode_problem(self._binary(), item.path)
                if item.clip
                else image_problem(item.path)
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)  # gone since the index, or a clip too long to check
        if problem is None:
            return True
        self.broken.add(item.name)
        self._warn(
            _("your media/{name} is not usable, skipped: {problem}").format(
                name=item.name, problem=problem
            )
        )
        return False

    def _use(self, number: int, total: int, item: MediaFile, common: set[str]) -> None:
        """Link the file in as the scene, record it and say so."""
        # its own suffix: .mp4 stays .mp4, and a .mov is still read as a clip (CLIP_SUFFIXES)
        target = self.ctx.task_dir / scene_name(number, item.path.suffix)
        _place(item.path, target)
        self.used.add(item.name)
        self.entries.append(MediaEntry(number, target.name, item.name, sorted(common), item.credit))
        _write_media(self.ctx.task_dir, self.entries)
        self.ctx.log(
            StageLog(
                LogLevel.INFO,
                _("📸 scene {number}/{total}: your media/{name}").format(
                    number=number, total=total, name=item.name
                ),
                ActionType.PROGRESS,
                {"current": number, "total": total, "sceneName": target.stem},
            )
        )

    def finish(self) -> int:
        """Write ``media.json`` for the scenes still there; how many scenes are the user's."""
        self.entries = [e for e in self.entries if (self.ctx.task_dir / e.file).is_file()]
        _write_media(self.ctx.task_dir, self.entries)
        return len(self.entries)

    def _binary(self) -> str:
        """The ffmpeg that checks clips, found only when a clip is to be checked."""
        from autoqueue.stages import ffmpeg

        if self._exe is None:
            video = self.ctx.workspace.config.stage(QueueType.VIDEO)
            self._exe = ffmpeg.binary(video.ffmpeg, self.ctx.workspace.home)
        return self._exe

    def _warn(self, message: str) -> None:
        self.ctx.log(StageLog(LogLevel.WARN, message))
