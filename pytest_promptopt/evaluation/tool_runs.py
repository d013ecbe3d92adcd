"""Running one tool call of the model under test: a case's canned result, else the tool's
`python` function (sync or async, within `--promptopt-check-timeout`); any failure is an
`is_error` result the model sees."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.suites.agent import tool_functions
from pytest_promptopt.suites.spec import Case, Suite

MAX_RESULT_CHARS = 20_000
"""A tool result longer than this is cut (and says so) before the model sees it."""


@dataclass(frozen=True)
class ToolResult:
    """What a tool call returned: content as the API takes it, and whether it failed."""

    tool_use_id: str
    name: str
    content: str | list[dict[str, Any]]
    is_error: bool = False

    def block(self) -> dict[str, Any]:
        """The `tool_result` block sent back to the model."""
        out: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": self.tool_use_id,
            "content": self.content,
        }
        if self.is_error:
            out["is_error"] = True
        return out

    def recorded(self) -> dict[str, Any]:
        """The result as the trajectory keeps it."""
        return {"name": self.name, "content": self.content, "is_error": self.is_error}


def _is_blocks(value: Any) -> bool:
    """True for a list of content blocks (`[{type: text, text: ...}]`)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value)
    )


def result_content(value: Any) -> str | list[dict[str, Any]]:
    """A tool's return value as tool_result content: text, content blocks, or JSON text.

    Raises TypeError for a value that is none of them.
    """
    if isinstance(value, str):
        text = value
    elif _is_blocks(value):
        return list(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"returned {type(value).__name__}, which is neither text, content blocks "
                f"nor JSON ({exc})"
            ) from None
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"... [cut: {len(text)} chars]"
    return text


_NO_MATCH = object()


def canned(case: Case, name: str, given: Any) -> Any:
    """The case's canned result for a call of `name` with input `given` (else _NO_MATCH).

    A list of `{input, result}` matches the first entry whose `input` keys all equal the
    call's; an entry without `input` matches any call.
    """
    results = case.tool_results or {}
    if name not in results:
        return _NO_MATCH
    entries = results[name]
    if not isinstance(entries, list):
        return entries
    called = given if isinstance(given, dict) else {}
    for entry in entries:
        wanted = entry.get("input")
        if wanted is None or (
            isinstance(wanted, dict) and all(called.get(k) == v for k, v in wanted.items())
        ):
            return entry["result"]
    shown = json.dumps(given, ensure_ascii=False, sort_keys=True)
    raise LookupError(f"no canned result of {name} for the input {shown}")


class ToolRunner:
    """Runs a suite's tool calls for one case (canned results first, then `python`)."""

    def __init__(self, suite: Suite, case: Case, code: OwnCode) -> None:
        self.case = case
        self.code = code
        self.functions = tool_functions(suite)

    async def run(self, call: dict[str, Any]) -> ToolResult:
        """The result of one call {id, name, input}; never raises for the tool's failure."""
        name, given = str(call.get("name")), call.get("input")
        uid = str(call.get("id", ""))
        try:
            value = canned(self.case, name, given)
            if value is _NO_MATCH:
                value = await self._call(name, given)
            return ToolResult(uid, name, result_content(value))
        except Exception as exc:  # the model sees the failure, as it would in production
            return ToolResult(uid, name, f"{type(exc).__name__}: {exc}", is_error=True)

    async def _call(self, name: str, given: Any) -> Any:
        """What the tool's function returned for the input (its error raised)."""
        path = self.functions.get(name)
        if path is None:
            raise LookupError(
                f"tool {name} has no implementation: give it `python: module:function` or "
                "give the case `tool_results`"
            )
        from pytest_promptopt.suites.callables import resolve

        fn = resolve(path)
        arg = dict(given) if isinstance(given, dict) else {}
        return await self.code.call(fn, arg, what=f"tool {name} ({path})")
