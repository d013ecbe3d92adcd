"""`no_tool_errors: true`: no tool the trajectory called returned an error."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome
from pytest_promptopt.checks.trajectory import error_results


class NoToolErrors(CheckKind):
    """Every tool result of the trajectory is a success."""

    name = "no_tool_errors"
    order = 106

    def parse(self, value: Any, nested: Nested) -> bool:
        """`true` (the only value: write `not: {no_tool_errors: true}` for the opposite)."""
        if value is not True:
            raise ValueError(f"no_tool_errors takes true, got {value!r}")
        return True

    def check(self, value: bool, answer: Answered, figures: Figures) -> Outcome:
        """Passes with no error result; else which steps' tools failed."""
        errors = error_results(answer)
        return Outcome(not errors, f"tool errors: {', '.join(errors)}" if errors else "")

    def describe(self, value: bool) -> str:
        """`no_tool_errors`."""
        return "no_tool_errors"
