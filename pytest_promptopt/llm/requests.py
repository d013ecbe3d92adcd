"""Messages API request bodies, their cache key, and what an answer holds (text, tool calls)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pytest_promptopt.protocol import encode_data, tool_definition

DEFAULT_MAX_TOKENS = 1024
"""The model under test's `max_tokens` when the suite's `params` do not set it."""


def request_hash(request: dict[str, Any], sample: int) -> str:
    """The cache key: sha256 over model, system, messages, parameters and sample index.

    The sample index is in the key only, never in the request body: samples of one request
    are told apart by the cache, not by anything sent to the API.
    """
    canonical = json.dumps({"request": request, "sample": sample}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_request(
    *,
    model: str,
    system: str | None,
    messages: list[dict[str, Any]],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Messages API request body for a call (what is sent, and what the cache key covers).

    `system` is left out when empty; `params` (a suite's, checked against the SDK) are added
    as they are and may override `max_tokens`.
    """
    request: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if system:
        request["system"] = system
    request.update(params or {})
    if tools:
        request["tools"] = tools
    if tool_choice:
        request["tool_choice"] = tool_choice
    return request


def build_structured_request(
    *,
    model: str,
    system: str,
    instructions: str,
    payload: dict[str, Any],
    tool: str,
    max_tokens: int = 2048,
    tool_model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """A forced-tool request: instructions plus the payload as a quoted `<data>` block.

    The tool's input schema is `tool_model`'s, by default the one registered for `tool`.
    """
    return build_request(
        model=model,
        system=system,
        messages=[{"role": "user", "content": f"{instructions}\n\n{encode_data(payload)}"}],
        max_tokens=max_tokens,
        tools=[tool_definition(tool, f"Submit your answer via {tool}.", tool_model)],
        tool_choice={"type": "tool", "name": tool},
    )


def build_schema_retry(
    request: dict[str, Any], content: tuple[dict[str, Any], ...], error: str
) -> dict[str, Any]:
    """The request that answers a structured answer which failed validation with the error.

    The conversation goes on: the bad answer (`content`, its tool_use included) becomes the
    assistant's turn, and the user's next turn answers each of its tool calls with a
    `tool_result` that has `is_error` and the validation error, so the model corrects its
    answer instead of being asked blind again.
    """
    note = (
        f"Your answer did not match the tool's input schema: {error}. Call the tool again "
        "with a corrected, complete input."
    )
    calls = [b for b in content if b.get("type") == "tool_use"]
    reply: list[dict[str, Any]] = [
        {"type": "tool_result", "tool_use_id": call.get("id"), "is_error": True, "content": note}
        for call in calls
    ]
    if not reply:  # no tool call to answer: say so in a plain user turn
        reply = [{"type": "text", "text": note}]
    assistant = list(content) or [{"type": "text", "text": "(no answer)"}]
    messages = [
        *request["messages"],
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": reply},
    ]
    return {**request, "messages": messages}


@dataclass(frozen=True)
class ResponseParts:
    """What a Messages API response says: its text, tool calls, stop reason and content."""

    text: str
    tool_calls: tuple[dict[str, Any], ...]
    stop_reason: str | None
    content: tuple[dict[str, Any], ...]

    @property
    def tool_input(self) -> dict[str, Any] | None:
        """The first tool call's input (a structured role's answer), or None."""
        return self.tool_calls[0]["input"] if self.tool_calls else None


def response_parts(response: dict[str, Any]) -> ResponseParts:
    """The text blocks joined, the tool calls ({id, name, input}) and the stop reason."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    content = tuple(b for b in response.get("content") or [] if isinstance(b, dict))
    for block in content:
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "input": block.get("input") if isinstance(block.get("input"), dict) else {},
                }
            )
    stop = response.get("stop_reason")
    return ResponseParts(
        "".join(texts), tuple(calls), str(stop) if stop is not None else None, content
    )
