"""The story schema: what the script stage writes to ``tasks/{task_id}/story.json``.

User-supplied script writers can validate against it: ``autoqueue schema story`` prints it as
JSON Schema.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Scene(BaseModel):
    """One scene: the narration text, and optionally an image prompt and a duration in seconds."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    text: Annotated[str, Field(min_length=1, description="Narration text shown or spoken")]
    image_prompt: str | None = Field(default=None, description="What the scene's image shows")
    duration: Annotated[float, Field(gt=0, le=600)] | None = Field(
        default=None,
        description="Seconds on screen: at least this long; with narration, at least as long "
        "as the scene is spoken (default: the narration, or 3)",
    )
    voice: str | None = Field(
        default=None, description="The eSpeak voice for this scene (ko, en-us, ...)"
    )
    captions: bool = Field(default=True, description="Show this scene's text as captions")


class Story(BaseModel):
    """A video script: title, description, tags and at least one scene."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    tags: list[str] = []
    scenes: Annotated[list[Scene], Field(min_length=1)]
