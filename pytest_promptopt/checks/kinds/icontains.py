"""`icontains: TEXT`: the answer's text holds TEXT, whatever the case."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    Outcome,
    StringCheck,
)


class IContains(StringCheck):
    """The answer's text holds the string, case ignored."""

    name = "icontains"
    order = 30

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the lower-cased text holds the lower-cased string."""
        return Outcome(value.lower() in answer.text.lower())
