"""`contains: TEXT`: the answer's text holds TEXT."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    Outcome,
    StringCheck,
)


class Contains(StringCheck):
    """The answer's text holds the string (case matters)."""

    name = "contains"
    order = 10

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text holds the string."""
        return Outcome(value in answer.text)
