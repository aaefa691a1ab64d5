"""The workspace configuration, ``autoqueue.toml`` in the home directory."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autoqueue.errors import ConfigError
from autoqueue.i18n import _
from autoqueue.models import QueueType

CONFIG_NAME = "autoqueue.toml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(Strict):
    """Transient failures wait ``delays[n]`` seconds before attempt n+2, the last delay
    repeating, for up to ``max_retry`` retries (README "Failures and retries")."""

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


Handler = Literal["command", "template", "llm", "cards", "stock", "ffmpeg", "outbox", "youtube"]

# The built-in handler each stage uses unless the config names another or gives a command.
DEFAULT_HANDLERS: dict[QueueType, Handler] = {
    QueueType.SCRIPT: "template",
    QueueType.IMAGE: "cards",
    QueueType.VIDEO: "ffmpeg",
    QueueType.YOUTUBE: "outbox",
}


# Handlers a stage may name besides "command" and its default.
EXTRA_HANDLERS: dict[QueueType, set[str]] = {
    QueueType.SCRIPT: {"llm"},
    QueueType.IMAGE: {"stock"},
    QueueType.YOUTUBE: {"youtube"},
}


Provider = Literal["openai", "google"]

# The environment variable each provider's key is read from unless the config names another
# (the key may also sit in credentials/{provider}.key in the home, 0600).
KEY_ENV: dict[str, str] = {"openai": "OPENAI_API_KEY", "google": "GEMINI_API_KEY"}


class ProviderConfig(Strict):
    """How to reach one AI provider, and what it may spend in a UTC day (0: no cap). The key
    comes from ``api_key_env`` (default OPENAI_API_KEY / GEMINI_API_KEY) or
    ``credentials/{provider}.key`` in the home (0600), never from this file."""

    api_key_env: str | None = None
    base_url: str | None = None  # another endpoint (a proxy, a compatible server)
    timeout: Annotated[float, Field(gt=0)] = 120  # seconds per request
    daily_requests: Annotated[int, Field(ge=0)] = 0
    daily_budget: Annotated[float, Field(ge=0)] = 0  # US dollars, by the prices below

    def key_env(self, provider: str) -> str:
        return self.api_key_env or KEY_ENV[provider]


class ProvidersConfig(Strict):
    openai: ProviderConfig = ProviderConfig()
    google: ProviderConfig = ProviderConfig()

    def get(self, provider: str) -> ProviderConfig:
        return self.google if provider == "google" else self.openai


# Models current when written (the model lists of openai 3.57 and google-genai 3.6): settings,
# because providers retire models every few months.
DEFAULT_LLM_MODEL: dict[str, str] = {"openai": "gpt-5.4-mini", "google": "gemini-3.8-flash"}


class LlmConfig(Strict):
    """The script writer of ``[stages.script] handler = "llm"``: a chat model reached through
    the provider's official SDK (``openai``, which also speaks to Ollama and other
    OpenAI-compatible servers through ``base_url``, or ``google-genai``)."""

    provider: Provider = "openai"
    model: str | None = None  # default: gpt-5.4-mini (openai), gemini-3.8-flash (google)
    base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 for Ollama (no key needed)
    api_key_env: str | None = None  # default: [providers.{provider}]'s
    attempts: Annotated[int, Field(ge=1, le=10)] = 3  # answers that do not fit the schema
    timeout: Annotated[float, Field(gt=0)] = 120  # seconds per request
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    # US dollars per request, for [providers.*] daily_budget (not counted with a base_url
    # of its own here: a local server such as Ollama)
    price: Annotated[float, Field(ge=0)] = 0.01
    # A folder (relative to the home) of prompt templates that replace the built-in ones:
    # shortform.txt, longform.txt, product.txt (see README "The script writer").
    prompts: str = "prompts"

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_LLM_MODEL[self.provider]


# The picture models behind dalle3 / imagen3 by default, and what one picture costs (US
# dollars, an estimate for daily_budget: check the provider's price list).
DEFAULT_IMAGE_MODEL: dict[str, tuple[str, float]] = {
    "openai": ("gpt-image-2", 0.05),
    "google": ("gemini-2.5-flash-image", 0.04),
}


class ImageModelConfig(Strict):
    """The AI pictures of one mediaMode (``dalle3``, ``imagen3``): one per scene, from its
    ``image_prompt``, made in the video stage."""

    provider: Provider = "openai"
    model: str | None = None  # default: gpt-image-2 (openai), gemini-2.5-flash-image (google)
    price: Annotated[float, Field(ge=0)] | None = None  # US dollars per picture (daily_budget)
    # openai: the picture's size, WIDTHxHEIGHT (default 864x1536 or 1536x864: the video's
    # aspect); google: the aspect is asked for ("9:16" / "16:9")
    size: Annotated[str, Field(pattern=r"^[0-9]+x[0-9]+$")] | None = None
    quality: str | None = None  # openai: low, medium, high (default: the model's)
    style: str = "No text, letters or logos in the picture."  # added to every prompt

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_IMAGE_MODEL[self.provider][0]

    @property
    def price_each(self) -> float:
        return DEFAULT_IMAGE_MODEL[self.provider][1] if self.price is None else self.price


class GoogleImageConfig(ImageModelConfig):
    provider: Provider = "google"


# The video models behind sora2 by default, and what a second of video costs (US dollars, an
# estimate for daily_budget). OpenAI's Sora API and Veo on the Gemini API were both retired in
# 2026: Google's Veo is reached on Vertex AI, and "openai" means an OpenAI-compatible /videos
# endpoint (a proxy such as LiteLLM in front of another provider), through base_url.
# The "openai" side has no default model: set the one the endpoint serves.
DEFAULT_VIDEO_MODEL: dict[str, tuple[str, float]] = {
    "google": ("veo-3.1-lite-generate-001", 0.05),
    "openai": ("", 0.10),
}


class VideoModelConfig(Strict):
    """The AI clips of ``sora2``: one per scene from its ``image_prompt`` (its text when it has
    none), made asynchronously: the job is started, its id kept, and the item parks and comes
    back every ``poll_seconds`` until the clip is ready."""

    provider: Provider = "google"
    model: str | None = None  # default: veo-3.1-lite-generate-001 (google); openai: required
    seconds: Annotated[int, Field(ge=1, le=60)] = 8  # each clip's length, asked for
    price: Annotated[float, Field(ge=0)] | None = None  # US dollars per second of video
    poll_seconds: Annotated[float, Field(ge=1)] = 30  # parked between looks at the jobs
    # google: Vertex AI in this project and location with Application Default Credentials;
    # without a project, an express-mode API key ($GEMINI_API_KEY / credentials/google.key).
    project: str | None = None
    location: str = "us-central1"
    style: str = "No text, letters or logos in the video."  # added to every prompt

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_VIDEO_MODEL[self.provider][0]

    @property
    def price_each(self) -> float:
        """What one clip costs."""
        per_second = DEFAULT_VIDEO_MODEL[self.provider][1] if self.price is None else self.price
        return per_second * self.seconds


class MediaConfig(Strict):
    """Which provider and model make each generated mediaMode (the names stay the original
    ones; the models behind them are settings)."""

    dalle3: ImageModelConfig = ImageModelConfig()
    imagen3: GoogleImageConfig = GoogleImageConfig()
    sora2: VideoModelConfig = VideoModelConfig()


StockSource = Literal["pexels", "pixabay"]


class StockConfig(Strict):
    """The stock pictures or clips of ``[stages.image] handler = "stock"`` (the crawl mediaMode):
    each scene's ``image_prompt`` (its text when it has none) searched on Pexels and/or
    Pixabay, in ``sources`` order. Keys: $PEXELS_API_KEY / $PIXABAY_API_KEY, or
    credentials/pexels.key / credentials/pixabay.key in the home (0600). Both APIs are free."""

    sources: Annotated[list[StockSource], Field(min_length=1)] = ["pexels", "pixabay"]
    kind: Literal["photos", "videos"] = "photos"
    candidates: Annotated[int, Field(ge=3, le=80)] = 15  # results looked at per search
    timeout: Annotated[float, Field(gt=0)] = 60
    # Other endpoints than the real ones (tests point them at a fake on 127.0.0.1).
    pexels_url: str = "https://api.pexels.com"
    pixabay_url: str = "https://pixabay.com/api"


class YouTubeConfig(Strict):
    """The YouTube uploader (``[stages.youtube] handler = "youtube"``)."""

    default_channel: str | None = None
    category_id: str = "22"  # People & Blogs
    made_for_kids: bool = False
    chunk_mb: Annotated[float, Field(gt=0, le=1024)] = 8  # rounded to a multiple of 256 KiB
    # Quota: Google's pages disagree on what videos.insert costs (1600 units in the quota
    # calculator, 100 in newer pages), so both costs and the daily budget are settings.
    project: str = "default"
    daily_quota: Annotated[int, Field(ge=0)] = 10000
    cost_insert: Annotated[int, Field(ge=0)] = 1600
    cost_thumbnail: Annotated[int, Field(ge=0)] = 50
    # Upload output.srt as the video's caption track (captions.insert, 400 units).
    captions: bool = False
    cost_captions: Annotated[int, Field(ge=0)] = 400
    retries: Annotated[int, Field(ge=0)] = 5  # in-upload retries of 5xx, 429, resets
    retry_seconds: Annotated[float, Field(ge=0)] = 1.0  # first backoff, doubling
    upload_limit_hours: Annotated[float, Field(gt=0)] = 24
    # Other endpoints than Google's (tests point them at a fake YouTube on 127.0.0.1).
    api_root: str | None = None
    token_uri: str | None = None


# The voice engines [stages.video] narration may list, tried in that order (README "Voices").
VoiceEngineName = Literal[
    "edge", "openai", "google", "elevenlabs", "piper", "espeak", "system", "command"
]
# The default chain: the best voice this machine has offline (a piper voice installed for the
# text's language), else eSpeak NG; no key, no network.
DEFAULT_NARRATION: tuple[VoiceEngineName, ...] = ("piper", "espeak")


class VoiceEngineConfig(Strict):
    """One voice engine's settings (``[voices.edge]``, ``[voices.openai]``, ...)."""

    # the engine's voice per language, e.g. {ko = "ko-KR-InJoonNeural", en = "en-US-GuyNeural"}
    voice: dict[str, str] = {}
    model: str | None = None  # openai, google, elevenlabs: the speech model (default: current)
    endpoint: str | None = None  # another address for the service (a proxy, a local fake)
    price: Annotated[float, Field(ge=0)] | None = None  # US dollars per 1,000 characters
    timeout: Annotated[float, Field(gt=0)] = 60  # seconds per line


class VoicesConfig(Strict):
    """The voice engines' settings, and how long an engine that failed is left alone."""

    cooldown: Annotated[float, Field(ge=0)] = 600  # seconds; 0: ask again at once
    edge: VoiceEngineConfig = VoiceEngineConfig()
    openai: VoiceEngineConfig = VoiceEngineConfig()
    google: VoiceEngineConfig = VoiceEngineConfig()
    elevenlabs: VoiceEngineConfig = VoiceEngineConfig()
    piper: VoiceEngineConfig = VoiceEngineConfig()

    def engine(self, name: str) -> VoiceEngineConfig:
        config = getattr(self, name, None)
        return config if isinstance(config, VoiceEngineConfig) else VoiceEngineConfig()


DEFAULT_QP = 15  # x264's constant quantizer for slides (see StageConfig.quality)


class QueueConfig(Strict):
    """How many items of one queue type may be processing at once, over every host (enforced by
    the database: README "Several hosts")."""

    concurrency: Annotated[int, Field(ge=1, le=64)] = 1


class StageConfig(Strict):
    """One stage's handler and its settings. ``command`` is an argv list, never a shell string."""

    handler: Handler | None = None
    command: list[str] | None = None
    timeout: Annotated[float, Field(gt=0)] = 3600
    max_log_lines: Annotated[int, Field(ge=0)] = 1000
    # image (cards): a font file with the glyphs your titles use (Hangul, ...)
    font: str | None = None
    # video (ffmpeg): the binary ("system" = the one on PATH; default: the imageio-ffmpeg wheel's)
    ffmpeg: str | None = None
    # The video's short side: 1080 (1080x1920 shorts, 1920x1080 longform), 720 or 480; the
    # cards of the image stage follow it. Smaller renders faster, for drafts or small machines.
    resolution: Literal[1080, 720, 480] = 1080
    # background music mixed under the narration: a file, or a folder of them; default: the
    # home's music/ folder when it holds audio files
    music: str | None = None
    music_volume: Annotated[float, Field(ge=0, le=1)] = 0.15
    generator: list[str] | None = None  # dalle3 / imagen3 / sora2: writes the scene images
    # video: the voice-over when the task folder has no narration.* of yours: one voice engine or
    # a list tried in order (README "Voices"): "edge", "openai", "google", "elevenlabs",
    # "piper", "espeak" (offline, built in), "system" (the operating system's voices),
    # "command" (your own TTS program: narration_command); or "off"
    narration: VoiceEngineName | Literal["off"] | list[VoiceEngineName] = list(DEFAULT_NARRATION)
    narration_command: list[str] | None = None  # writes $AUTOQUEUE_NARRATION_OUT (a WAV)
    voice: str | None = None  # eSpeak's or the system's voice (ko, en-us, ...); default: by text
    words_per_minute: Annotated[int, Field(ge=80, le=450)] = 175
    # burnt-in captions (and output.srt), the spoken word in caption_highlight
    captions: bool = True
    caption_colour: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#FFFFFF"
    caption_highlight: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#FFD400"
    # the captions' look: "bold" (big, one to three words at a time), "subtle" (smaller, whole
    # lines on a translucent box) or "karaoke" (whole lines, the spoken word highlighted); a
    # story's own caption_style wins
    caption_style: Literal["bold", "subtle", "karaoke"] = "bold"
    # a slow pan across every picture (this fraction of the frame; 0: none), and crossfades
    # between pictures (seconds; 0: hard cuts). Text cards neither move nor fade: they cut.
    motion: Annotated[float, Field(ge=0, le=0.5)] = 0.08
    crossfade: Annotated[float, Field(ge=0, le=2)] = 0.4
    # integrated loudness of the soundtrack in LUFS (YouTube plays at about -14); none: as mixed
    loudness: Annotated[float, Field(ge=-40, le=-5)] | None = -14.0
    # ultrafast: slides are mostly repeated frames; slower presets make smaller files in about
    # twice the time, and the files are small either way.
    preset: str = "ultrafast"
    # Quality: a constant quantizer (qp, the default 15) or a constant rate factor (crf), not both.
    # A slideshow's frames are new slides or exact repeats. CRF's per-frame analysis buys nothing
    # there and, without lookahead, starts each new slide blurred (34.8 dB worst-frame PSNR on
    # photos at crf 23, against 46.1 dB at qp 15, which is also 20% smaller and 20-30% faster).
    qp: Annotated[int, Field(ge=0, le=51)] | None = None
    crf: Annotated[int, Field(ge=0, le=51)] | None = None

    @model_validator(mode="after")
    def _one_quality(self) -> StageConfig:
        if self.qp is not None and self.crf is not None:
            raise ValueError(_("set qp or crf, not both"))
        return self

    @property
    def voice_chain(self) -> list[str]:
        """The voice engines to try, in order (empty: no narration)."""
        if self.narration == "off":
            return []
        return [self.narration] if isinstance(self.narration, str) else list(self.narration)

    @field_validator("narration")
    @classmethod
    def _chain(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(_("narration: list each voice engine once, at least one"))
        return value

    @property
    def quality(self) -> tuple[Literal["qp", "crf"], int]:
        """The x264 rate control and its value: ``("qp", 15)`` unless configured."""
        if self.crf is not None:
            return "crf", self.crf
        return "qp", DEFAULT_QP if self.qp is None else self.qp

    @field_validator("command")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or not value[0].strip()):
            raise ValueError(
                _('command must be a non-empty argv list, like ["python3", "writer.py"]')
            )
        return value


class Config(Strict):
    timezone: str | None = None
    language: Literal["en", "ko"] | None = None
    retry: RetryConfig = RetryConfig()
    lease: LeaseConfig = LeaseConfig()
    worker: WorkerConfig = WorkerConfig()
    stages: dict[QueueType, StageConfig] = {}
    queues: dict[QueueType, QueueConfig] = {}
    youtube: YouTubeConfig = YouTubeConfig()
    llm: LlmConfig = LlmConfig()
    providers: ProvidersConfig = ProvidersConfig()
    media: MediaConfig = MediaConfig()
    stock: StockConfig = StockConfig()
    voices: VoicesConfig = VoicesConfig()

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
# AI pictures and clips for the dalle3 / imagen3 / sora2 media modes (README "Generated
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
# ...or the built-in render's voices, tried in order (README "Voices"; edge needs the network,
# piper an installed voice, eSpeak NG always works offline), captions and music:
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
