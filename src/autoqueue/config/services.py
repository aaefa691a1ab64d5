"""The online services the built-in stages call: the AI providers with their keys and daily caps,
the chat, picture and video models behind the script and the generated mediaModes, the stock
photo sites, and YouTube."""

# Pydantic copies a field's default for each instance; ruff knows that only of models whose
# BaseModel it sees in the same file (Strict's is in base.py), so it would call them shared.
# ruff: noqa: RUF012

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from autoqueue.config.base import Strict

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
    # shortform.txt, longform.txt, product.txt (see docs/stages.md "The script writer").
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
