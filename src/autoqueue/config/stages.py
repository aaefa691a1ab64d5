"""One stage's configuration (``[stages.*]``, ``[queues.*]``): which handler runs it and its
settings, the rendering's and the narration's included."""

# Pydantic copies a field's default for each instance; ruff knows that only of models whose
# BaseModel it sees in the same file (Strict's is in base.py), so it would call them shared.
# ruff: noqa: RUF012

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from autoqueue.config.base import Strict
from autoqueue.config.voices import DEFAULT_NARRATION, VoiceEngineName
from autoqueue.i18n import _
from autoqueue.kinds import QueueType

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


DEFAULT_QP = 15  # x264's constant quantizer for slides (see StageConfig.quality)


class QueueConfig(Strict):
    """How many items of one queue type may be processing at once, over every host (enforced by
    the database: docs/hosts.md)."""

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
    # a list tried in order (docs/stages.md "Voices"): "edge", "openai", "google", "elevenlabs",
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
