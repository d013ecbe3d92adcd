"""The checks on a trajectory: the sequence of tools in every order mode, call limits, tool
errors, the last answer alone, the loop's steps, and tool checks pinned to one step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from pytest_promptopt.checks.kinds.tool_sequence import matches
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import run_check
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.spec import AssertionSpec, Case


def step(n: int, *calls: tuple[str, dict[str, Any]], text: str = "", errors: int = 0) -> dict:
    """Step n: its calls (name, input), each answered (the first `errors` ones failed)."""
    return {
        "step": n,
        "text": text,
        "tool_calls": [{"id": f"t{n}{i}", "name": c, "input": x} for i, (c, x) in enumerate(calls)],
        "stop_reason": "tool_use" if calls else "end_turn",
        "results": [
            {"name": c, "content": "boom" if i < errors else "ok", "is_error": i < errors}
            for i, (c, _) in enumerate(calls)
        ],
    }


LOOKUP = ("lookup_order", {"order_id": "5001"})
REFUND = ("issue_refund", {"order_id": "5001"})
AGENT = Answer("Refund issued.", (), "end_turn").with_trajectory(
    (
        step(1, LOOKUP, text="Let me check."),
        step(2, REFUND, text="Refunding now."),
        step(3, text="Refund issued."),
    )
)


def run(spec: dict[str, Any], answer: Answer = AGENT) -> tuple[bool, str]:
    """(passed, detail) of one check on an answer, as the evaluator runs it."""
    result = asyncio.run(
        run_check(
            AssertionSpec.model_validate(spec),
            answer.for_checks(),
            Case(id="c", input="x"),
            Usage(),
        )
    )
    return result.passed, result.detail


@pytest.mark.parametrize(
    ("order", "wanted", "made", "passed"),
    [
        ("exact", ["a", "b"], ["a", "b"], True),
        ("exact", ["a", "b"], ["b", "a"], False),
        ("exact", ["a"], ["a", "a"], False),
        ("in_order", ["a", "c"], ["a", "b", "c"], True),
        ("in_order", ["a", "c"], ["c", "a"], False),
        ("in_order", ["a", "a"], ["a", "b"], False),
        ("any_order", ["a", "b"], ["b", "a"], True),
        ("any_order", ["a", "b"], ["b", "a", "a"], False),
        ("subset", ["a", "b", "c"], ["b", "a"], True),
        ("subset", ["a", "b"], ["a", "d"], False),
        ("subset", ["a"], ["a", "a"], False),
        ("subset", ["a"], [], True),
        ("superset", ["a"], ["b", "a", "c"], True),
        ("superset", ["a", "a"], ["a", "b"], False),
        ("superset", [], ["a"], True),
    ],
)
def test_tool_sequence_modes_follow_the_agentevals_match_modes(
    order: str, wanted: list[str], made: list[str], passed: bool
) -> None:
    assert matches(order, wanted, made) is passed


def test_tool_sequence_reads_the_whole_trajectory_and_defaults_to_exact() -> None:
    assert run({"tool_sequence": ["lookup_order", "issue_refund"]}) == (True, "")
    assert run({"tool_sequence": ["issue_refund", "lookup_order"]}) == (
        False,
        "called: lookup_order, issue_refund (exact)",
    )
    assert run({"tool_sequence": ["issue_refund", "lookup_order"], "order": "any_order"})[0]
    assert run({"tool_sequence": ["lookup_order"], "order": "superset"})[0]
    assert not run({"tool_sequence": ["lookup_order"], "order": "subset"})[0]


def test_tool_sequence_on_an_answer_without_a_loop_reads_its_calls() -> None:
    plain = Answer("", ({"id": "1", "name": "lookup_order", "input": {}},), "tool_use")
    assert run({"tool_sequence": ["lookup_order"]}, plain) == (True, "")


def test_order_is_for_tool_sequence_only_and_takes_a_mode() -> None:
    with pytest.raises(ValidationError, match="`order` is for `tool_sequence` checks only"):
        AssertionSpec.model_validate({"contains": "x", "order": "exact"})
    with pytest.raises(ValidationError, match="order"):
        AssertionSpec.model_validate({"tool_sequence": ["a"], "order": "strict"})
    with pytest.raises(ValidationError, match="tool_sequence takes a list of tool names"):
        AssertionSpec.model_validate({"tool_sequence": "a"})


def test_max_tool_calls_bounds_each_tool_and_all_together() -> None:
    assert run({"max_tool_calls": {"lookup_order": 1, "issue_refund": 1}}) == (True, "")
    assert run({"max_tool_calls": {"lookup_order": 0}}) == (
        False,
        "lookup_order called 1 time(s), at most 0",
    )
    assert run({"max_tool_calls": {"*": 1}}) == (False, "* called 2 time(s), at most 1")
    with pytest.raises(ValidationError, match="whole number >= 0"):
        AssertionSpec.model_validate({"max_tool_calls": {"a": -1}})


def test_no_tool_errors_names_the_failed_steps() -> None:
    assert run({"no_tool_errors": True}) == (True, "")
    failed = Answer("Sorry.", (), "end_turn").with_trajectory(
        (step(1, LOOKUP, errors=1), step(2, text="Sorry."))
    )
    assert run({"no_tool_errors": True}, failed) == (False, "tool errors: step 1 lookup_order")
    with pytest.raises(ValidationError, match="no_tool_errors takes true"):
        AssertionSpec.model_validate({"no_tool_errors": False})


def test_text_checks_read_every_step_and_final_the_last_answer_alone() -> None:
    assert run({"contains": "Let me check"}) == (True, "")
    assert not run({"final": {"contains": "Let me check"}})[0]
    assert run({"final": {"contains": "Refund issued"}}) == (True, "")
    assert run({"final": {"stop_reason": "end_turn"}}) == (True, "")
    assert run({"final": {"tool_not_called": "lookup_order"}}) == (True, "")
    assert run({"not": {"final": {"contains": "Refund issued"}}})[0] is False


def test_tool_checks_read_the_whole_trajectory_or_one_step() -> None:
    assert run({"tool_called": "issue_refund"}) == (True, "")
    assert run({"tool_called": "issue_refund", "step": 2}) == (True, "")
    assert run({"tool_called": "issue_refund", "step": 1}) == (
        False,
        "calls: lookup_order at step 1",
    )
    assert run({"tool_called": "issue_refund", "step": 9}) == (
        False,
        "no tool calls at step 9 (only 3 step(s))",
    )
    assert run({"tool_not_called": "issue_refund", "step": 1}) == (True, "")
    assert run({"tool_not_called": "issue_refund"}) == (False, "called 1 time(s)")
    schema = {"type": "object", "required": ["order_id"]}
    assert run({"tool_input": {"name": "issue_refund", "json_schema": schema}, "step": 2})[0]
    assert not run({"tool_input": {"name": "issue_refund", "json_schema": schema}, "step": 1})[0]
    with pytest.raises(ValidationError, match="`step` is for"):
        AssertionSpec.model_validate({"contains": "x", "step": 1})


def test_max_steps_passes_within_the_steps_and_fails_a_loop_cut_short() -> None:
    assert run({"max_steps": 3}) == (True, "")
    assert run({"max_steps": 2}) == (False, "took 3 steps")
    cut = {**step(2, REFUND), "stopped": "max_steps", "results": []}
    stopped = Answer("", (), "tool_use").with_trajectory((step(1, LOOKUP), cut))
    assert run({"max_steps": 5}, stopped) == (False, "cut at the loop's max_steps after 2 step(s)")


def test_a_simulated_users_turns_are_not_steps_of_the_checks() -> None:
    user = {"speaker": "user", "turn": 1, "text": "refund 5001 now", "goal_reached": False}
    talk = Answer("Refund issued.", (), "end_turn").with_trajectory(
        (
            user,
            step(1, LOOKUP),
            step(2, REFUND),
            step(3, text="Refund issued."),
            {**user, "turn": 2, "goal_reached": True, "ended": "goal_reached"},
        )
    )
    assert run({"tool_sequence": ["lookup_order", "issue_refund"]}, talk) == (True, "")
    assert run({"tool_called": "lookup_order", "step": 1}, talk) == (True, "")
    assert run({"max_steps": 3}, talk) == (True, "")


def test_final_reads_the_last_reply_not_the_simulated_users_last_word() -> None:
    talk = Answer("Refund issued.", (), "end_turn").with_trajectory(
        (
            step(1, text="Refund issued."),
            {"speaker": "user", "turn": 2, "text": "Thanks!", "goal_reached": True},
        )
    )
    assert run({"final": {"contains": "Refund issued"}}, talk) == (True, "")
