"""`max_chars: N`: the answer's text is at most N characters long."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome


class MaxChars(CheckKind):
    """The answer's text is no longer than the limit."""

    name = "max_chars"
    order = 50

    def parse(self, value: Any, nested: Nested) -> int:
        """A non-negative integer."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"max_chars takes a non-negative integer, got {value!r}")
        return value

    def check(self, value: int, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text has at most `value` characters."""
        return Outcome(len(answer.text) <= value, f"answer has {len(answer.text)} chars")
