"""The checks on an answer's tool calls and stop reason; text checks read the text only."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check
from pytest_promptopt.suites.spec import AssertionSpec

LOOKUP = {"id": "toolu_1", "name": "lookup_order", "input": {"order": "A-4411"}}
REFUND = {"id": "toolu_2", "name": "refund", "input": {"amount": 10}}
SECOND_LOOKUP = {"id": "toolu_3", "name": "lookup_order", "input": {"order": 7}}
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "string", "pattern": "^A-"}},
    "required": ["order"],
}
CALLED = Answer("Let me look.", (LOOKUP, REFUND), "tool_use")
SILENT = Answer("Your order is on its way.", (), "end_turn")


def run(spec: dict[str, Any], answer: Answer) -> tuple[bool, str, str]:
    """(passed, expected, detail) of one check."""
    result = check(AssertionSpec.model_validate(spec), answer)
    assert result.kind == next(iter(spec))
    return result.passed, result.expected, result.detail


def test_tool_called_passes_on_a_call_and_fails_naming_the_calls_made() -> None:
    assert run({"tool_called": "lookup_order"}, CALLED) == (True, "'lookup_order'", "")
    assert run({"tool_called": "cancel"}, CALLED) == (
        False,
        "'cancel'",
        "calls: lookup_order, refund",
    )
    assert run({"tool_called": "lookup_order"}, SILENT) == (
        False,
        "'lookup_order'",
        "no tool calls",
    )


def test_tool_not_called_passes_without_the_call_and_fails_counting_them() -> None:
    assert run({"tool_not_called": "cancel"}, CALLED)[0] is True
    assert run({"tool_not_called": "lookup_order"}, SILENT)[0] is True
    twice = Answer("", (LOOKUP, SECOND_LOOKUP), "tool_use")
    assert run({"tool_not_called": "lookup_order"}, twice) == (
        False,
        "'lookup_order'",
        "called 2 time(s)",
    )


def test_tool_input_validates_the_first_call_of_the_tool() -> None:
    spec = {"tool_input": {"name": "lookup_order", "json_schema": ORDER_SCHEMA}}
    assert run(spec, CALLED) == (True, "'lookup_order' schema", "")
    # The first call decides: a bad second call does not matter, a bad first one fails.
    assert run(spec, Answer("", (LOOKUP, SECOND_LOOKUP)))[0] is True
    passed, _, detail = run(spec, Answer("", (SECOND_LOOKUP, LOOKUP)))
    assert not passed and detail == "input order: 7 is not of type 'string'"
    bad = Answer("", ({"id": "t", "name": "lookup_order", "input": {"order": "B-1"}},))
    passed, _, detail = run(spec, bad)
    assert not passed and detail.startswith("input order: 'B-1' does not match")
    missing = Answer("", ({"id": "t", "name": "lookup_order", "input": {}},))
    assert run(spec, missing)[2] == "input (root): 'order' is a required property"


def test_tool_input_without_the_call_fails_with_that_reason() -> None:
    spec = {"tool_input": {"name": "lookup_order", "json_schema": ORDER_SCHEMA}}
    assert run(spec, SILENT) == (
        False,
        "'lookup_order' schema",
        "lookup_order was not called (no tool calls)",
    )
    assert run(spec, Answer("", (REFUND,)))[2] == "lookup_order was not called (calls: refund)"


@pytest.mark.parametrize(
    ("want", "answer", "detail"),
    [
        ("tool_use", CALLED, ""),
        ("end_turn", SILENT, ""),
        ("end_turn", CALLED, "stopped with tool_use"),
        ("max_tokens", SILENT, "stopped with end_turn"),
        ("end_turn", Answer("hi"), "stopped with no stop reason"),
    ],
)
def test_stop_reason(want: str, answer: Answer, detail: str) -> None:
    passed, expected, got = run({"stop_reason": want}, answer)
    assert (passed, expected, got) == (not detail, repr(want), detail)


def test_text_checks_read_the_text_only_not_the_tool_inputs() -> None:
    answer = Answer("Let me look.", (LOOKUP,), "tool_use")
    assert run({"contains": "A-4411"}, answer)[0] is False
    assert run({"contains": "look"}, answer)[0] is True
    assert run({"max_chars": 12}, answer)[0] is True
    assert run({"is_json": True}, Answer("", (LOOKUP,)))[0] is False
