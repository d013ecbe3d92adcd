"""`not_contains: TEXT`: the answer's text does not hold TEXT."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    Outcome,
    StringCheck,
)


class NotContains(StringCheck):
    """The answer's text does not hold the string (case matters)."""

    name = "not_contains"
    order = 20

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text does not hold the string."""
        passed = value not in answer.text
        return Outcome(passed, "" if passed else "found in the answer")
