"""`max_tool_calls: {TOOL: n}`: the trajectory calls each tool at most n times (`"*"`: all
the calls together)."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome

ALL_TOOLS = "*"
"""The key that bounds every call together."""


class MaxToolCalls(CheckKind):
    """No tool is called more often than its limit."""

    name = "max_tool_calls"
    order = 104

    def parse(self, value: Any, nested: Nested) -> dict[str, int]:
        """A mapping of tool names (or `*`) to whole numbers >= 0."""
        if not isinstance(value, dict) or not value:
            raise ValueError(f"max_tool_calls takes {{tool: n, ...}}, got {value!r}")
        for tool, limit in value.items():
            if not isinstance(tool, str) or not tool:
                raise ValueError(f"max_tool_calls takes tool names as keys, got {tool!r}")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ValueError(f"max_tool_calls.{tool} takes a whole number >= 0, got {limit!r}")
        return dict(value)

    def check(self, value: dict[str, int], answer: Answered, figures: Figures) -> Outcome:
        """Passes when every tool is within its limit; else which are over."""
        made = answer.called()
        over = []
        for tool, limit in value.items():
            count = len(made) if tool == ALL_TOOLS else made.count(tool)
            if count > limit:
                over.append(f"{tool} called {count} time(s), at most {limit}")
        return Outcome(not over, "; ".join(over))
