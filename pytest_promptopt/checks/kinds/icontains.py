"""`icontains: TEXT`: the answer's text holds TEXT, whatever the case."""

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


class IContains(CheckKind):
    """The answer's text holds the string, case ignored."""

    name = "icontains"
    order = 30

    def parse(self, value: Any, nested: Nested) -> str:
        """A non-empty string."""
        return non_empty_string(self.name, value)

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the lower-cased text holds the lower-cased string."""
        return Outcome(value.lower() in answer.text.lower())
