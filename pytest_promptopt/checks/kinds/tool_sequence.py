"""`tool_sequence: [a, b, c]` with `order: exact | in_order | any_order | subset | superset`:
the tools the trajectory called, by name, against the list (the agentevals match modes).

- `exact` (the default; agentevals `strict`): the same calls in the same order, nothing else.
- `in_order`: the listed calls happen in this order; other calls may come between.
- `any_order` (agentevals `unordered`): the same calls, as many of each, in any order.
- `subset`: every call made is one of the list (as many times at most): nothing beyond it.
- `superset`: every listed call is made (as many times at least); others may be made too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pytest_promptopt.checks.base import Answered, Checked, CheckKind, CheckRun, Nested, Outcome

ORDERS: tuple[str, ...] = ("exact", "in_order", "any_order", "subset", "superset")
"""The match modes of `order` (default `exact`)."""


def _in_order(wanted: list[str], made: list[str]) -> bool:
    """True when `wanted` is a subsequence of `made`."""
    calls = iter(made)
    return all(any(m == w for m in calls) for w in wanted)


def matches(order: str, wanted: list[str], made: list[str]) -> bool:
    """Whether the calls `made` match the list `wanted` in mode `order`."""
    if order == "exact":
        return made == wanted
    if order == "in_order":
        return _in_order(wanted, made)
    if order == "any_order":
        return Counter(made) == Counter(wanted)
    if order == "subset":
        return not Counter(made) - Counter(wanted)
    if order == "superset":
        return not Counter(wanted) - Counter(made)
    raise ValueError(f"tool_sequence order takes one of {', '.join(ORDERS)}, got {order!r}")


class ToolSequence(CheckKind):
    """The trajectory's tool calls, by name, match the list in the `order` mode."""

    name = "tool_sequence"
    order = 102
    options = frozenset({"order"})

    def parse(self, value: Any, nested: Nested) -> list[str]:
        """A list of tool names (empty: no tool may be called, in `exact`/`subset`)."""
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"tool_sequence takes a list of tool names, got {value!r}")
        return list(value)

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Passes when the calls made match; else the calls made."""
        mode = spec.order or "exact"
        made = answer.called()
        if matches(mode, spec.value, made):
            return Outcome(True)
        shown = ", ".join(made) if made else "no tool calls"
        return Outcome(False, f"called: {shown} ({mode})")

    def describe(self, value: list[str]) -> str:
        """`tool_sequence [a, b]`."""
        return f"tool_sequence [{', '.join(value)}]"

    def found(self, value: list[str], outcome: Outcome, answer: Answered) -> str:
        """What a negated sequence check found: the calls made."""
        return f"called: {', '.join(answer.called()) or 'no tool calls'}"
