"""`json_schema: {...}`: the answer's text is JSON that validates against the schema."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome
from pytest_promptopt.checks.jsontext import check_schema, parse_json, schema_error


class JsonSchema(CheckKind):
    """The answer's text parses as JSON valid under a JSON Schema (draft 2020-12)."""

    name = "json_schema"
    order = 70

    def parse(self, value: Any, nested: Nested) -> Any:
        """A valid JSON Schema mapping."""
        check_schema(self.name, value)
        return value

    def check(self, value: dict[str, Any], answer: Answered, figures: Figures) -> Outcome:
        """Passes when the text is JSON and validates; else the first error."""
        ok, parsed, err = parse_json(answer.text)
        if not ok:
            return Outcome(False, err)
        detail = schema_error(value, parsed)
        return Outcome(not detail, detail)

    def expected(self, value: dict[str, Any]) -> str:
        """`schema` (the schema itself is too long to show)."""
        return "schema"
