"""`contains_any`: the answer's text holds any of the strings, optionally ignoring case."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_promptopt.checks.spec import AssertionSpec
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check, run_check
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.spec import Case


@pytest.mark.parametrize(
    ("value", "answer", "passed"),
    [
        (["refund", "credit"], "a store credit", True),
        (["refund", "credit"], "no money back", False),
        (["Refund"], "your refund", False),
        ({"values": ["Refund", "CREDIT"], "ignore_case": True}, "a store credit", True),
        ({"values": ["Refund"], "ignore_case": False}, "your refund", False),
    ],
)
def test_contains_any(value: Any, answer: str, passed: bool) -> None:
    result = check(AssertionSpec.model_validate({"contains_any": value}), Answer(answer))
    assert result.passed is passed and result.kind == "contains_any"


def test_negated_contains_any_says_which_string_it_found() -> None:
    spec = AssertionSpec.model_validate({"not": {"contains_any": ["sorry", "apolog"]}})
    answer = Answer("We apologise for the delay")
    result = asyncio.run(run_check(spec, answer, Case(id="c", input="hi"), Usage()))
    assert not result.passed
    assert result.detail == "found 'apolog'"
    assert result.expected == "contains_any ['sorry', 'apolog']"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("refund", "contains_any takes a non-empty list of non-empty strings"),
        ([], "contains_any takes a non-empty list of non-empty strings"),
        (["a", ""], "contains_any takes a non-empty list of non-empty strings"),
        ({"values": ["a"], "strip": True}, "contains_any has no option 'strip'"),
    ],
)
def test_bad_contains_any_says_why(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AssertionSpec.model_validate({"contains_any": value})
