"""`is_json: true` (or `false`): the answer's text is (or is not) JSON, a ```json fence allowed."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome
from pytest_promptopt.checks.jsontext import parse_json


class IsJson(CheckKind):
    """The answer's text parses as JSON (true) or does not (false)."""

    name = "is_json"
    order = 60

    def parse(self, value: Any, nested: Nested) -> bool:
        """true or false."""
        if not isinstance(value, bool):
            raise ValueError(f"is_json takes true or false, got {value!r}")
        return value

    def check(self, value: bool, answer: Answered, figures: Figures) -> Outcome:
        """Passes when whether the text is JSON is what `value` says."""
        ok, _, err = parse_json(answer.text)
        return Outcome(ok == value, err if value else ("answer is JSON" if ok else ""))
