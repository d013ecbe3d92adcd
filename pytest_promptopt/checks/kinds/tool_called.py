"""`tool_called: NAME`: the answer calls the tool NAME (anywhere in its trajectory, or at
`step: n`)."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Checked,
    CheckRun,
    Figures,
    Outcome,
    StringCheck,
    calls_detail,
)
from pytest_promptopt.checks.trajectory import names_at, step_note


class ToolCalled(StringCheck):
    """The answer makes at least one call of the tool (at the step given, if one is)."""

    name = "tool_called"
    order = 80
    what = "a tool name"
    options = frozenset({"step"})

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the tool was called; else the calls made."""
        passed = bool(answer.calls_of(value))
        return Outcome(passed, "" if passed else calls_detail(answer))

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Passes when the tool was called (at `step`); else the calls made there."""
        if spec.step is None:
            return self.check(spec.value, answer, context.figures)
        names = names_at(answer, spec.step)
        if spec.value in names:
            return Outcome(True)
        made = f"calls: {', '.join(names)}" if names else "no tool calls"
        return Outcome(False, made + step_note(answer, spec.step))
