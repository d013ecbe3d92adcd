"""`tool_not_called: NAME`: the answer never calls the tool NAME."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import (
    Answered,
    CheckKind,
    Figures,
    Nested,
    Outcome,
    non_empty_string,
)


class ToolNotCalled(CheckKind):
    """The answer makes no call of the tool."""

    name = "tool_not_called"
    order = 90

    def parse(self, value: Any, nested: Nested) -> str:
        """A tool name."""
        return non_empty_string(self.name, value, "a tool name")

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was not called; else how often it was."""
        count = len(answer.calls_of(value))
        return Outcome(not count, f"called {count} time(s)" if count else "")
