"""`equals: TEXT`: the answer's text is exactly TEXT (promptfoo's `equals`).

`{equals: {value: TEXT, strip: true, ignore_case: true}}` compares after stripping surrounding
whitespace from both and/or folding case.
"""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome, flags

OPTIONS = ("strip", "ignore_case")


def _form(text: str, value: dict[str, Any]) -> str:
    """The text as it is compared: stripped and case-folded when the check says so."""
    text = text.strip() if value["strip"] else text
    return text.casefold() if value["ignore_case"] else text


class Equals(CheckKind):
    """The answer's text is the given text (optionally stripped and case-folded)."""

    name = "equals"
    order = 160

    def parse(self, value: Any, nested: Nested) -> dict[str, Any]:
        """A string, or `{value: TEXT, strip: bool, ignore_case: bool}`; kept as the mapping."""
        if isinstance(value, str):
            return {"value": value, "strip": False, "ignore_case": False}
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            raise ValueError(
                f"equals takes a string or {{value: TEXT, strip: true, ignore_case: true}}, "
                f"got {value!r}"
            )
        options = {k: v for k, v in value.items() if k != "value"}
        return {"value": value["value"], **flags(options, OPTIONS, self.name)}

    def check(self, value: dict[str, Any], answer: Answered, figures: Figures) -> Outcome:
        """Passes when the two texts are equal."""
        return Outcome(_form(answer.text, value) == _form(value["value"], value))

    def expected(self, value: dict[str, Any]) -> str:
        """The text, then the options in force: `'Yes' (strip, ignore_case)`."""
        on = [k for k in OPTIONS if value[k]]
        return repr(value["value"]) + (f" ({', '.join(on)})" if on else "")

    def describe(self, value: dict[str, Any]) -> str:
        """`equals 'Yes'`."""
        return f"{self.name} {self.expected(value)}"
