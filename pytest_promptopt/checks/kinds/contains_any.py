"""`contains_any: [A, B]`: the answer's text holds at least one of the strings (promptfoo's
`contains-any`; `{contains_any: {values: [A, B], ignore_case: true}}` is `icontains-any`)."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome, flags

OPTIONS = ("ignore_case",)


def _first(value: dict[str, Any], text: str) -> str | None:
    """The first of the strings the text holds, or None."""
    fold = value["ignore_case"]
    haystack = text.casefold() if fold else text
    return next((s for s in value["values"] if (s.casefold() if fold else s) in haystack), None)


class ContainsAny(CheckKind):
    """The answer's text holds any of the strings (optionally ignoring case)."""

    name = "contains_any"
    order = 170

    def parse(self, value: Any, nested: Nested) -> dict[str, Any]:
        """A list of strings, or `{values: [...], ignore_case: bool}`; kept as the mapping."""
        given = value if isinstance(value, list) else None
        options: dict[str, Any] = {}
        if isinstance(value, dict):
            given = value.get("values")
            options = {k: v for k, v in value.items() if k != "values"}
        if (
            not isinstance(given, list)
            or not given
            or not all(isinstance(s, str) and s for s in given)
        ):
            raise ValueError(
                "contains_any takes a non-empty list of non-empty strings, or "
                f"{{values: [...], ignore_case: true}}, got {value!r}"
            )
        return {"values": list(given), **flags(options, OPTIONS, self.name)}

    def check(self, value: dict[str, Any], answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text holds one of the strings."""
        return Outcome(_first(value, answer.text) is not None)

    def found(self, value: dict[str, Any], outcome: Outcome, answer: Answered) -> str:
        """Which of the strings the text holds."""
        return f"found {_first(value, answer.text)!r}"

    def expected(self, value: dict[str, Any]) -> str:
        """The strings, then `(ignore_case)` when set."""
        return repr(value["values"]) + (" (ignore_case)" if value["ignore_case"] else "")

    def describe(self, value: dict[str, Any]) -> str:
        """`contains_any ['a', 'b']`."""
        return f"{self.name} {self.expected(value)}"
