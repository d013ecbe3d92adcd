"""`not_contains: TEXT`: the answer's text does not hold TEXT."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import (
    Answered,
    CheckKind,
    Figures,
    Nested,
    Outcome,
    non_empty_string,
)


class NotContains(CheckKind):
    """The answer's text does not hold the string (case matters)."""

    name = "not_contains"
    order = 20

    def parse(self, value: Any, nested: Nested) -> str:
        """A non-empty string."""
        return non_empty_string(self.name, value)

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text does not hold the string."""
        passed = value not in answer.text
        return Outcome(passed, "" if passed else "found in the answer")
