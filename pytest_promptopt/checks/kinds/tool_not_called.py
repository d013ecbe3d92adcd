"""`tool_not_called: NAME`: the answer never calls the tool NAME."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    Outcome,
    StringCheck,
)


class ToolNotCalled(StringCheck):
    """The answer makes no call of the tool."""

    name = "tool_not_called"
    order = 90
    what = "a tool name"

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was not called; else how often it was."""
        count = len(answer.calls_of(value))
        return Outcome(not count, f"called {count} time(s)" if count else "")
