"""`not: {CHECK}`: any check, negated; when the check holds, the failure says what it found."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, Checked, CheckKind, CheckRun, Nested, Outcome


class Not(CheckKind):
    """Passes when the check inside fails."""

    name = "not"
    order = 130

    def parse(self, value: Any, nested: Nested) -> Any:
        """A check mapping (its problems prefixed `not: `)."""
        return nested(value)

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Run the check inside and negate it; when it held, what it found."""
        inner: Checked = spec.value
        held = await context.run(inner, answer)
        return Outcome(True) if not held.passed else Outcome(False, inner.found(held, answer))

    def expected(self, value: Checked) -> str:
        """The inner check's kind and expectation."""
        return f"{value.kind} {value.expected()}"

    def describe(self, value: Checked) -> str:
        """`not ` and the inner check."""
        return f"not {value.describe()}"

    def python_checks(self, value: Checked) -> list[str]:
        """Those of the check inside."""
        return value.python_checks()
