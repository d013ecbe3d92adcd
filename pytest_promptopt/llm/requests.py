"""Messages API request bodies, their cache key, and what an answer holds (text, tool calls)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pytest_promptopt.llm.models import Shape
from pytest_promptopt.protocol import TOOL_MODELS, encode_data, tool_definition

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
    shape: Shape = "forced_tool",
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A structured role's request: instructions plus the payload as a quoted `<data>` block.

    The answer's schema is `tool_model`'s, by default the one registered for `tool`. `shape`
    says how it is asked for: `output_format` (structured outputs, `output_config.format`),
    `forced_tool` (a tool the model must call; never with thinking) or `offered_tool` (the
    tool offered with `tool_choice: auto`, for a model that may think and has no structured
    outputs). `params` are the role's own (`--promptopt-judge-params`): thinking, effort,
    max_tokens. No request ends with an assistant turn (no prefill).
    """
    schema_model = tool_model or TOOL_MODELS[tool]
    messages = [{"role": "user", "content": f"{instructions}\n\n{encode_data(payload)}"}]
    if shape == "output_format":
        request = build_request(
            model=model, system=system, messages=messages, max_tokens=max_tokens, params=params
        )
        config = dict(request.get("output_config") or {})
        config["format"] = {"type": "json_schema", "schema": output_schema(schema_model)}
        request["output_config"] = config
        return request
    forced = shape == "forced_tool"
    return build_request(
        model=model,
        system=system if forced else f"{system}\n\nAnswer only by calling the {tool} tool.",
        messages=messages,
        max_tokens=max_tokens,
        tools=[tool_definition(tool, f"Submit your answer via {tool}.", tool_model)],
        tool_choice={"type": "tool", "name": tool} if forced else {"type": "auto"},
        params=params,
    )


@functools.cache
def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema structured outputs take for a pydantic model (the SDK's transform).

    Constraints the API does not enforce (lengths, ranges) move into descriptions; the answer
    is validated against the model itself, so they still hold. Cached: treat it as read-only.
    """
    from pytest_promptopt.llm.clients import import_sdk

    import_sdk()
    from anthropic import transform_schema

    return transform_schema(model.model_json_schema())


def build_schema_retry(
    request: dict[str, Any], content: tuple[dict[str, Any], ...], error: str
) -> dict[str, Any]:
    """The request that answers a structured answer which failed validation with the error.

    The conversation goes on: the bad answer (`content`, thinking and tool_use included)
    becomes the assistant's turn, and the user's next turn answers each of its tool calls
    with a `tool_result` that has `is_error` and the validation error, so the model corrects
    its answer instead of being asked blind again. With no tool call to answer (structured
    outputs, or an offered tool the model did not call) the error is a plain user turn.
    """
    calls = [b for b in content if b.get("type") == "tool_use"]
    if calls or "output_config" not in request or "format" not in request["output_config"]:
        note = (
            f"Your answer did not match the tool's input schema: {error}. Call the tool again "
            "with a corrected, complete input."
        )
    else:
        note = (
            f"Your answer did not match the JSON schema: {error}. Answer again with the "
            "corrected, complete JSON object."
        )
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
    """What a Messages API response says: its text, tool calls, stop reason and content.

    `text` joins the text blocks only: thinking blocks never reach it. `thinking` is the
    (summarized) thinking text, empty when the API omitted it; `refusal` is the API's
    `stop_details` of a refusal (`category`, `explanation`), None otherwise.
    """

    text: str
    tool_calls: tuple[dict[str, Any], ...]
    stop_reason: str | None
    content: tuple[dict[str, Any], ...]
    thinking: str = ""
    refusal: dict[str, Any] | None = None

    @property
    def tool_input(self) -> dict[str, Any] | None:
        """The first tool call's input (a structured role's answer), or None."""
        return self.tool_calls[0]["input"] if self.tool_calls else None


def response_parts(response: dict[str, Any]) -> ResponseParts:
    """The text blocks joined, the tool calls ({id, name, input}) and the stop reason."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    content = tuple(b for b in response.get("content") or [] if isinstance(b, dict))
    for block in content:
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "thinking" and block.get("thinking"):
            thoughts.append(str(block["thinking"]))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "input": block.get("input") if isinstance(block.get("input"), dict) else {},
                }
            )
    stop = response.get("stop_reason")
    details = response.get("stop_details")
    refusal = None
    if stop == "refusal":
        refusal = dict(details) if isinstance(details, dict) else {}
    return ResponseParts(
        "".join(texts),
        tuple(calls),
        str(stop) if stop is not None else None,
        content,
        "\n\n".join(thoughts),
        refusal,
    )


def refusal_note(refusal: dict[str, Any] | None) -> str:
    """`refused by the model (category bio: ...)`: what a refusal's failure says."""
    details = refusal or {}
    said = [f"category {details['category']}" if details.get("category") else ""]
    if details.get("explanation"):
        said.append(str(details["explanation"]))
    inside = ": ".join(p for p in said if p)
    return "refused by the model" + (f" ({inside})" if inside else "")
