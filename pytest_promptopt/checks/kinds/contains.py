"""`contains: TEXT`: the answer's text holds TEXT."""

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


class Contains(CheckKind):
    """The answer's text holds the string (case matters)."""

    name = "contains"
    order = 10

    def parse(self, value: Any, nested: Nested) -> str:
        """A non-empty string."""
        return non_empty_string(self.name, value)

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text holds the string."""
        return Outcome(value in answer.text)
