"""`tool_input: {name: TOOL, json_schema: {...}}`: the first call of TOOL (in the trajectory,
or at `step: n`) has a valid input."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import (
    Answered,
    Checked,
    CheckKind,
    CheckRun,
    Figures,
    Nested,
    Outcome,
    calls_detail,
)
from pytest_promptopt.checks.jsontext import check_schema, schema_error
from pytest_promptopt.checks.trajectory import calls_at, step_note


class ToolInput(CheckKind):
    """The tool was called and its first call's input validates against the schema."""

    name = "tool_input"
    order = 100
    options = frozenset({"step"})

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
        return self._first_call(value, answer, None)

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Passes when the first call (at `step`) validates; else why not."""
        return self._first_call(spec.value, answer, spec.step)

    def _first_call(self, value: dict[str, Any], answer: Answered, step: int | None) -> Outcome:
        """The outcome on the first call of the tool (at `step`, or anywhere)."""
        calls = [c for c in calls_at(answer, step) if c.get("name") == value["name"]]
        if not calls:
            where = step_note(answer, step)
            return Outcome(False, f"{value['name']} was not called{where} ({calls_detail(answer)})")
        detail = schema_error(value["json_schema"], calls[0].get("input"))
        return Outcome(not detail, f"input {detail}" if detail else "")

    def expected(self, value: dict[str, Any]) -> str:
        """`'TOOL' schema`."""
        return f"{value['name']!r} schema"
