"""The story schema: what the script stage writes to ``tasks/{task_id}/story.json``.

User-supplied script writers can validate against it: ``autoqueue schema story`` prints it as
JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CaptionPreset = Literal["bold", "subtle", "karaoke"]


class CaptionStyle(BaseModel):
    """How one scene's captions look, over the home's settings."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    colour: str | None = Field(
        default=None, pattern=r"^#[0-9A-Fa-f]{6}$", description="Text colour, #RRGGBB"
    )
    highlight: str | None = Field(
        default=None, pattern=r"^#[0-9A-Fa-f]{6}$", description="The spoken word's colour"
    )
    size: Annotated[float, Field(ge=0.5, le=2.0)] = Field(
        default=1.0, description="Size, relative to the default"
    )
    position: Literal["bottom", "middle", "top"] = Field(
        default="bottom", description="Where on the frame (bottom stays clear of the Shorts UI)"
    )


class Scene(BaseModel):
    """One scene: the narration text, and optionally an image prompt and a duration in seconds."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    text: Annotated[str, Field(min_length=1, description="Narration text shown or spoken")]
    image_prompt: str | None = Field(default=None, description="What the scene's image shows")
    on_screen: str | None = Field(
        default=None,
        description="What a text card shows: a headline or a few keywords, never the whole "
        "narration (the captions carry that). Default: the narration's first words",
    )
    duration: Annotated[float, Field(gt=0, le=600)] | None = Field(
        default=None,
        description="Seconds on screen: at least this long; with narration, at least as long "
        "as the scene is spoken plus a breath (default: that, or 3 without narration)",
    )
    voice: str | None = Field(
        default=None, description="The eSpeak voice for this scene (ko, en-us, ...)"
    )
    captions: bool = Field(default=True, description="Show this scene's text as captions")
    caption_style: CaptionStyle | None = Field(
        default=None, description="This scene's caption colours, size and position"
    )


class Story(BaseModel):
    """A video script: title, description, tags and at least one scene."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    tags: list[str] = []
    scenes: Annotated[list[Scene], Field(min_length=1)]
    caption_style: CaptionPreset | None = Field(
        default=None,
        description="The captions' look for this video: bold (big, a few words at a time), "
        "subtle or karaoke (whole lines, the spoken word highlighted); default: the home's",
    )
