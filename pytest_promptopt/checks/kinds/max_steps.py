"""`max_steps: n`: the agent finished within n model calls (and was not cut at the loop's
`max_steps`)."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome
from pytest_promptopt.checks.trajectory import steps_of


class MaxSteps(CheckKind):
    """The trajectory has at most n steps and ended on its own."""

    name = "max_steps"
    order = 108

    def parse(self, value: Any, nested: Nested) -> int:
        """A whole number >= 1."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_steps takes a whole number >= 1, got {value!r}")
        return value

    def check(self, value: int, answer: Answered, figures: Figures) -> Outcome:
        """Passes within the steps; else how many it took, or where it was cut."""
        steps = steps_of(answer)
        stopped = next((s.get("stopped") for s in steps if s.get("stopped")), None)
        if stopped:
            return Outcome(False, f"cut at the loop's {stopped} after {len(steps)} step(s)")
        passed = len(steps) <= value
        return Outcome(passed, "" if passed else f"took {len(steps)} steps")
