"""A Messages API request body read into turns, attachments, tool calls, tools and limits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt.protocol import SAMPLE_HEADER
from pytest_promptopt.simulator import media
from pytest_promptopt.simulator.text import text_of


class RequestError(ValueError):
    """A request body the Messages API would refuse (becomes a 400 invalid_request_error)."""


@dataclass(frozen=True)
class ToolResult:
    """A `tool_result` block, with the name of the tool whose call it answers."""

    tool_use_id: str
    name: str
    content: str
    is_error: bool


@dataclass(frozen=True)
class Turn:
    """One message of the conversation, its blocks sorted by kind."""

    role: str
    text: str
    attachments: tuple[media.Attachment, ...] = ()
    tool_uses: tuple[dict[str, Any], ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True)
class Request:
    """What the simulator needs of one Messages API request."""

    system: str
    turns: tuple[Turn, ...]
    model: str = "simulated"
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: dict[str, Any] = field(default_factory=dict)
    max_tokens: int = 4096
    stop_sequences: tuple[str, ...] = ()
    temperature: float = 1.0

    @property
    def last_user(self) -> Turn:
        """The user turn the model answers (the last one)."""
        return next((t for t in reversed(self.turns) if t.role == "user"), self.turns[-1])

    @property
    def question(self) -> str:
        """The user's text being answered: the last user turn's, else the last one with text.

        A last turn that only carries tool results answers the question asked before the call.
        """
        if self.last_user.text.strip():
            return self.last_user.text
        return next((t.text for t in reversed(self.turns) if t.role == "user" and t.text), "")

    @property
    def history(self) -> tuple[Turn, ...]:
        """The turns before the one being answered."""
        index = max(i for i, t in enumerate(self.turns) if t is self.last_user)
        return self.turns[:index]

    def prompt_chars(self) -> int:
        """The characters the request sends, counted as the simulator's token estimate does."""
        chars = len(self.system)
        for turn in self.turns:
            chars += len(turn.text) + sum(len(r.content) for r in turn.tool_results)
            chars += sum(len(json.dumps(u.get("input"))) for u in turn.tool_uses)
            chars += sum(4 * a.tokens for a in turn.attachments)
        return chars


def sample_of(headers: Mapping[str, str]) -> int:
    """The sample index a request's `x-promptopt-sample` header names (0 without one)."""
    value = next((v for k, v in headers.items() if k.lower() == SAMPLE_HEADER), "0")
    return int(value) if value.isdigit() else 0


def _turn(message: Any, names: dict[str, str]) -> Turn:
    """One message read into a Turn; `names` maps tool_use ids seen so far to tool names."""
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise RequestError("messages: each message needs a role of 'user' or 'assistant'")
    content = message.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    texts: list[str] = [content] if isinstance(content, str) else []
    attachments: list[media.Attachment] = []
    uses: list[dict[str, Any]] = []
    results: list[ToolResult] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind in ("image", "document"):
            attachments.append(media.read(str(kind), block))
        elif kind == "tool_use":
            names[str(block.get("id"))] = str(block.get("name"))
            uses.append(block)
        elif kind == "tool_result":
            use_id = str(block.get("tool_use_id"))
            results.append(
                ToolResult(
                    tool_use_id=use_id,
                    name=names.get(use_id, ""),
                    content=text_of(block.get("content")),
                    is_error=bool(block.get("is_error")),
                )
            )
    return Turn(
        role=str(message["role"]),
        text="\n".join(t for t in texts if t),
        attachments=tuple(attachments),
        tool_uses=tuple(uses),
        tool_results=tuple(results),
    )


def _number(value: Any, default: float) -> float:
    """A numeric parameter, or the default when it is absent or not a number."""
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def parse(body: Any) -> Request:
    """The Request of a decoded JSON body; unknown fields are accepted and ignored."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message required")
    names: dict[str, str] = {}
    turns = tuple(_turn(m, names) for m in messages)
    tools = tuple(t for t in body.get("tools") or [] if isinstance(t, dict))
    choice = body.get("tool_choice")
    stops = body.get("stop_sequences")
    return Request(
        system=text_of(body.get("system") or ""),
        turns=turns,
        model=str(body.get("model") or "simulated"),
        tools=tools,
        tool_choice=choice if isinstance(choice, dict) else {},
        max_tokens=max(1, int(_number(body.get("max_tokens"), 4096))),
        stop_sequences=tuple(s for s in stops if isinstance(s, str) and s)
        if isinstance(stops, list)
        else (),
        temperature=_number(body.get("temperature"), 1.0),
    )
