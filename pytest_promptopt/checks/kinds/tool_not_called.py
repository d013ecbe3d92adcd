"""`tool_not_called: NAME`: the answer never calls the tool NAME (anywhere in its trajectory,
or at `step: n`)."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Checked,
    CheckRun,
    Figures,
    Outcome,
    StringCheck,
)
from pytest_promptopt.checks.trajectory import names_at, step_note


class ToolNotCalled(StringCheck):
    """The answer makes no call of the tool (at the step given, if one is)."""

    name = "tool_not_called"
    order = 90
    what = "a tool name"
    options = frozenset({"step"})

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was not called; else how often it was."""
        count = len(answer.calls_of(value))
        return Outcome(not count, f"called {count} time(s)" if count else "")

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Passes when the tool was not called (at `step`); else how often it was."""
        if spec.step is None:
            return self.check(spec.value, answer, context.figures)
        count = names_at(answer, spec.step).count(spec.value)
        note = f"called {count} time(s){step_note(answer, spec.step)}"
        return Outcome(not count, note if count else "")
