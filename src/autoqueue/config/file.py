"""``autoqueue.toml`` as a whole: the queue's own settings (retries, leases, outages), the
:class:`Config` that holds every section, the commented defaults ``init`` writes, and reading
and validating the file."""

# Pydantic copies a field's default for each instance; ruff knows that only of models whose
# BaseModel it sees in the same file (Strict's is in base.py), so it would call them shared.
# ruff: noqa: RUF012

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from autoqueue.config.base import Strict
from autoqueue.config.channels import ChannelProfile, check_profile_names
from autoqueue.config.notify import NotifyConfig
from autoqueue.config.services import (
    ImageModelConfig,
    LlmConfig,
    MediaConfig,
    ProvidersConfig,
    StockConfig,
    VideoModelConfig,
    YouTubeConfig,
)
from autoqueue.config.stages import (
    DEFAULT_HANDLERS,
    EXTRA_HANDLERS,
    Handler,
    QueueConfig,
    StageConfig,
)
from autoqueue.config.voices import VoicesConfig
from autoqueue.errors import ConfigError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType


class RetryConfig(Strict):
    """Transient failures wait ``delays[n]`` seconds before attempt n+2, the last delay
    repeating, for up to ``max_retry`` retries (docs/concepts.md "Failures and retries")."""

    delays: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] = [5, 10, 30]
    max_retry: Annotated[int, Field(ge=0, le=1000)] = 3
    # The crash budget: how many attempts of one item may vanish in a row (autoqueue's own
    # processes killed, not the stage failing) before the item fails. Never spends max_retry.
    max_crashes: Annotated[int, Field(ge=1, le=100)] = 3


class LeaseConfig(Strict):
    """How long a claim holds without a heartbeat, and how often a live tick renews it."""

    seconds: Annotated[float, Field(gt=0)] = 300
    heartbeat: Annotated[float, Field(gt=0)] = 30


class WorkerConfig(Strict):
    """How a worker (or a draining tick) rides out a PostgreSQL server that went away: it keeps
    following its running attempts and reconnects, for up to ``outage`` seconds, then exits."""

    outage: Annotated[float, Field(ge=0)] = 600


class ReviewConfig(Strict):
    """Review before publishing: the item of stage ``before`` waits for ``autoqueue approve``
    (or ``reject``) instead of running. ``youtube``: look at the video and its thumbnail before
    they go out; ``video``: read the script before it is rendered. None: no review, unless a
    task asks for one (``add --review``, which then holds before ``youtube``)."""

    before: Literal["video", "youtube"] | None = None


class Config(Strict):
    timezone: str | None = None
    language: Literal["en", "ko"] | None = None
    retry: RetryConfig = RetryConfig()
    lease: LeaseConfig = LeaseConfig()
    worker: WorkerConfig = WorkerConfig()
    review: ReviewConfig = ReviewConfig()
    stages: dict[QueueType, StageConfig] = {}
    queues: dict[QueueType, QueueConfig] = {}
    youtube: YouTubeConfig = YouTubeConfig()
    llm: LlmConfig = LlmConfig()
    providers: ProvidersConfig = ProvidersConfig()
    media: MediaConfig = MediaConfig()
    stock: StockConfig = StockConfig()
    voices: VoicesConfig = VoicesConfig()
    notify: NotifyConfig = NotifyConfig()
    channels: dict[str, ChannelProfile] = {}

    def generator(self, media_mode: str) -> ImageModelConfig | VideoModelConfig | None:
        """The built-in model behind a generated mediaMode (dalle3, imagen3, sora2)."""
        media = self.media
        models: dict[str, ImageModelConfig | VideoModelConfig] = {
            "dalle3": media.dalle3,
            "imagen3": media.imagen3,
            "sora2": media.sora2,
        }
        return models.get(media_mode)

    def concurrency(self, queue_type: QueueType) -> int:
        return self.queues.get(queue_type, QueueConfig()).concurrency

    def stage(self, queue_type: QueueType) -> StageConfig:
        """The configuration of one stage (defaults when the file says nothing of it)."""
        return self.stages.get(queue_type, StageConfig())

    def handler(self, queue_type: QueueType) -> Handler:
        """The handler a stage runs: the configured one, else ``command`` when a command is
        given, else the built-in default."""
        stage = self.stage(queue_type)
        if stage.handler is not None:
            return stage.handler
        return "command" if stage.command is not None else DEFAULT_HANDLERS[queue_type]

    @model_validator(mode="after")
    def _handlers_fit_their_stage(self) -> Config:
        check_profile_names(self.channels)
        for queue_type, stage in self.stages.items():
            allowed = {"command", DEFAULT_HANDLERS.get(queue_type)} | EXTRA_HANDLERS.get(
                queue_type, set()
            )
            if queue_type is QueueType.SCHEDULE:
                raise ValueError(
                    _("stages.schedule: the schedule stage is internal and has no handler")
                )
            if stage.handler is not None and stage.handler not in allowed:
                choices = " or ".join(sorted(h for h in allowed if h))
                raise ValueError(
                    _(
                        "stages.{value}.handler: {handler!r} is not a {value} handler (use "
                        "{choices})"
                    ).format(value=queue_type.value, handler=stage.handler, choices=choices)
                )
        return self


DEFAULT_CONFIG_TEXT = """\
# autoqueue configuration. Every key is optional; the values shown are the defaults.

# The zone in which times typed at `add --at` are read and shown (IANA name).
# Default: this machine's zone.
# timezone = "Asia/Seoul"

# Language ("en" or "ko") of every message, help screen, log row and the terminal app.
# Default: from the locale (LC_ALL, LC_MESSAGES, LANG).
# language = "ko"

[retry]
# A transient failure waits delays[n] seconds before the next attempt, up to max_retry times.
delays = [5, 10, 30]
max_retry = 3
# An attempt that vanished without recording how it ended (autoqueue itself was killed: OOM,
# reboot) runs again without spending a retry; this many times in a row, then the item fails.
max_crashes = 3

[lease]
# A processing item whose tick stops renewing its claim for this long is recovered by the
# next tick; a live tick renews every `heartbeat` seconds, even during a 10-minute render.
seconds = 300
heartbeat = 30

[worker]
# When the PostgreSQL server goes away (a restart, a network drop), a worker keeps following
# the stages it runs and reconnects, for up to this many seconds; then it exits.
outage = 600

[review]
# A person looks before the stage named here runs: "youtube" holds each finished video (and its
# thumbnail) until `autoqueue approve TASK` or `autoqueue reject TASK --reason ...`; "video"
# holds the script before it is rendered. Per task: `add --review` / `--no-review`.
# before = "youtube"

# One item per queue type is processing at a time (the default), over every worker on every
# host. Raise it per queue type, e.g. for three render hosts:
# [queues.video]
# concurrency = 3

# Stage handlers. A command is an argv list (no shell). It runs in tasks/{task_id}/ with
# AUTOQUEUE_TASK_ID, AUTOQUEUE_TASK_DIR, AUTOQUEUE_QUEUE_TYPE, AUTOQUEUE_QUEUE_ID,
# AUTOQUEUE_ATTEMPT and AUTOQUEUE_TASK_JSON in its environment. Exit 0 = done,
# exit 65 = permanent failure, anything else = transient failure (retried).
# "{python}" stands for the Python running autoqueue; an argument naming a file relative to
# this directory is made absolute.
#
# [stages.script]
# command = ["{python}", "my_writer.py", "--lang", "ko"]
# timeout = 600
#
# ...or a chat model writes the story (the key: $OPENAI_API_KEY or credentials/openai.key):
# [stages.script]
# handler = "llm"
# [llm]
# model = "gpt-5.4-mini"
# base_url = "http://127.0.0.1:11434/v1"   # Ollama or another OpenAI-compatible server
# attempts = 3             # answers that do not fit the story schema, then a retry later
#
# [stages.image]
# command = ["{python}", "image_crawler.py"]
#
# ...or stock photos from Pexels / Pixabay ($PEXELS_API_KEY / credentials/pexels.key, ...):
# [stages.image]
# handler = "stock"
#
# AI pictures and clips for the dalle3 / imagen3 / sora2 media modes (docs/stages.md "Generated
# pictures, clips and stock photos"); keys: $OPENAI_API_KEY / $GEMINI_API_KEY, or
# credentials/openai.key / credentials/google.key
# [media.dalle3]
# provider = "openai"
# model = "gpt-image-2"
# [media.sora2]
# provider = "google"      # Veo on Vertex AI
# model = "veo-3.1-lite-generate-001"
# [providers.openai]
# daily_budget = 5.0       # dollars per UTC day; past it, work waits for the next day
#
# [stages.video]
# command = ["{python}", "render.py"]
# timeout = 1800
#
# ...or the built-in render's voices, tried in order (docs/stages.md "Voices"; edge needs the
# network, piper an installed voice, eSpeak NG always works offline), captions and music:
# [stages.video]
# narration = ["edge", "piper", "espeak"]
# caption_style = "bold"   # or "subtle", "karaoke"
# music = "music/"         # the default when music/ holds audio files (royalty-free tracks)
#
# [stages.youtube]
# handler = "youtube"      # upload with the YouTube Data API (run `autoqueue youtube auth`
#                          # first); the default "outbox" copies videos to outbox/ instead
#
# [youtube]
# default_channel = "main"
# category_id = "22"
# made_for_kids = false
# daily_quota = 10000      # units per Pacific day; uploads beyond it wait for the next day
# cost_insert = 1600       # what one videos.insert costs (Google's pages say 1600 or 100)
# cost_thumbnail = 50
# captions = true          # also upload output.srt as a caption track (400 units more)

# Notifications through Apprise (docs/notifications.md): every URL gets every event listed,
# each event once. A URL may hold a token or a password: keep this file private (chmod 600);
# autoqueue never prints one (tgram://***/...). `autoqueue notify test` sends a test message.
# [notify]
# urls = [
#     "tgram://BOT_TOKEN/CHAT_ID",                 # Telegram
#     "discord://WEBHOOK_ID/WEBHOOK_TOKEN",        # Discord
#     "mailtos://user:app-password@gmail.com",     # email
#     "ntfy://ntfy.sh/my-autoqueue-topic",         # ntfy
#     "json://example.com/autoqueue-hook",         # any webhook: a JSON POST
# ]
# events = ["failed", "published", "parked", "review"]
# digest = "09:00"         # a daily summary at this time in the home's zone (default: none)
# timeout = 10             # seconds one message may take per URL
#
# Channel profiles: `add --channel cooking` gives the task these defaults (its own options and
# --set win; the task keeps what it took, and `show` says where each value came from). A
# --channel that names no profile is the YouTube channel itself, as before.
# [channels.cooking]
# youtube_channel = "main"     # the authorised YouTube channel it uploads to (default: the name)
# language = "ko"              # the script's language: "ko" or "en" (default: from the title)
# narration = ["edge", "espeak"]            # the voice engines, as [stages.video] narration
# voice = { edge = "ko-KR-InJoonNeural" }   # a voice per engine (or one name, for eSpeak)
# caption_style = "karaoke"    # or "bold", "subtle"
# music = "music/cooking"      # a file or a folder of tracks
# privacy = "private"         # public, unlisted or private (publish_at needs private)
# tags = ["요리", "레시피"]     # added to the story's tags
# description_footer = "구독과 좋아요 부탁드려요!"
# publish_at = ["12:00", "18:00"]   # upload private, publish at the next of these local times
# tz = "Asia/Seoul"            # the zone of --at and of publish_at
# review = true                # a person approves each run before it goes out (add --review)
"""


def load_config(path: Path) -> Config:
    """Read and validate ``autoqueue.toml``; a missing file means all defaults."""
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: cannot read: {exc}").format(path=path, exc=exc)) from exc
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{path}: {where}: {message}" if where else f"{path}: {message}")
        raise ConfigError("\n".join(lines)) from exc
