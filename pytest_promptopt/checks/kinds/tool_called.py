"""`tool_called: NAME`: the answer calls the tool NAME."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import (
    Answered,
    CheckKind,
    Figures,
    Nested,
    Outcome,
    calls_detail,
    non_empty_string,
)


class ToolCalled(CheckKind):
    """The answer makes at least one call of the tool."""

    name = "tool_called"
    order = 80

    def parse(self, value: Any, nested: Nested) -> str:
        """A tool name."""
        return non_empty_string(self.name, value, "a tool name")

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was called; else the calls made."""
        passed = bool(answer.calls_of(value))
        return Outcome(passed, "" if passed else calls_detail(answer))
