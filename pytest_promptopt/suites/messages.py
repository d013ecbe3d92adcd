"""Conversation turns of a case: a role and text or content blocks (Messages API shapes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ENDS_WITH_THE_USER = (
    "a conversation must end with a user turn (the model answers it); add a final "
    "`{role: user, content: ...}` message (models from Claude 4.6 on reject an "
    "assistant-turn prefill with a 400: ask for a format with structured outputs, "
    "`params: {output_config: {format: ...}}`, or a system instruction)"
)
"""Why a case's `messages` must end with the user's turn."""


class TextBlock(BaseModel):
    """A text content block (a template, rendered per case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"]
    text: str


class FileBlock(BaseModel):
    """An image or document read from a file beside the suite and sent base64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["image", "document"]
    path: str = Field(min_length=1)


class ToolUseBlock(BaseModel):
    """An assistant's tool call, as the Messages API writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(BaseModel):
    """A tool's answer to a `tool_use`, as the Messages API writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[TextBlock] = ""
    is_error: bool = False


ContentBlock = Annotated[
    TextBlock | FileBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")
]


class Message(BaseModel):
    """One turn of a conversation: a role and text or content blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    content: str | tuple[ContentBlock, ...]

    def text(self) -> str:
        """The turn's text blocks joined (what a reader sees of it)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(b.text for b in self.content if isinstance(b, TextBlock))
