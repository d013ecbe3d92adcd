"""`tool_called: NAME`: the answer calls the tool NAME."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    Outcome,
    StringCheck,
    calls_detail,
)


class ToolCalled(StringCheck):
    """The answer makes at least one call of the tool."""

    name = "tool_called"
    order = 80
    what = "a tool name"

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was called; else the calls made."""
        passed = bool(answer.calls_of(value))
        return Outcome(passed, "" if passed else calls_detail(answer))
