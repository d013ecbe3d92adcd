"""`final: {CHECK}`: any check, applied to the last answer of a trajectory only (its own text,
calls and stop reason), not to every step."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, Checked, CheckKind, CheckRun, Nested, Outcome


class Final(CheckKind):
    """Passes when the check inside passes on the last answer."""

    name = "final"
    order = 135

    def parse(self, value: Any, nested: Nested) -> Any:
        """A check mapping."""
        return nested(value)

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Run the check inside on the last answer."""
        inner: Checked = spec.value
        return await context.run(inner, answer.final())

    def expected(self, value: Checked) -> str:
        """The inner check's kind and expectation."""
        return f"{value.kind} {value.expected()}"

    def describe(self, value: Checked) -> str:
        """`final ` and the inner check."""
        return f"final {value.describe()}"

    def found(self, value: Checked, outcome: Outcome, answer: Answered) -> str:
        """What the inner check found on the last answer."""
        return value.found(outcome, answer.final())

    def python_checks(self, value: Checked) -> list[str]:
        """Those of the check inside."""
        return value.python_checks()
