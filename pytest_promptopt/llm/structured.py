"""A structured answer read from a completion, and what was wrong with one that did not fit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    from pytest_promptopt.llm.completion import Completion


def validation_error(exc: Exception) -> str:
    """What was wrong with a structured answer, one line per problem, as the model reads it."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            + (f" (got {repr(error['input'])[:120]})" if error["type"] != "missing" else "")
            for error in exc.errors(include_url=False)
        ]
        return f"{len(problems)} validation error(s): " + "; ".join(problems)
    return str(exc)


def answer_of(completion: Completion, tool: str, as_json: bool) -> dict[str, Any]:
    """A structured answer's object: the JSON text (structured outputs) or the tool's input."""
    if as_json:
        try:
            value = json.loads(completion.text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(value, dict):
            raise ValueError("the answer is not a JSON object")
        return value
    calls = [c for c in completion.tool_calls if c.get("name") == tool]
    if not calls:
        raise ValueError("the answer has no tool call")
    answer: dict[str, Any] = calls[0]["input"]
    return answer
