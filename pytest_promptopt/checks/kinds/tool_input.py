"""`tool_input: {name: TOOL, json_schema: {...}}`: the first call of TOOL has a valid input."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome, calls_detail
from pytest_promptopt.checks.jsontext import check_schema, schema_error


class ToolInput(CheckKind):
    """The tool was called and its first call's input validates against the schema."""

    name = "tool_input"
    order = 100

    def parse(self, value: Any, nested: Nested) -> Any:
        """`{name: TOOL, json_schema: {...}}` with a tool name and a valid schema."""
        if not isinstance(value, dict) or set(value) != {"name", "json_schema"}:
            raise ValueError(
                f"tool_input takes {{name: TOOL, json_schema: {{...}}}}, got {value!r}"
            )
        if not isinstance(value["name"], str) or not value["name"]:
            raise ValueError(f"tool_input.name takes a tool name, got {value['name']!r}")
        check_schema("tool_input.json_schema", value["json_schema"])
        return value

    def check(self, value: dict[str, Any], answer: Answered, figures: Figures) -> Outcome:
        """Passes when the first call's input validates; else why not."""
        calls = answer.calls_of(value["name"])
        if not calls:
            return Outcome(False, f"{value['name']} was not called ({calls_detail(answer)})")
        detail = schema_error(value["json_schema"], calls[0].get("input"))
        return Outcome(not detail, f"input {detail}" if detail else "")

    def expected(self, value: dict[str, Any]) -> str:
        """`'TOOL' schema`."""
        return f"{value['name']!r} schema"
