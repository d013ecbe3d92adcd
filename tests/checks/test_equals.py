"""`equals`: the answer's text is exactly the given text, optionally stripped and case-folded."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.checks.spec import AssertionSpec
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check


@pytest.mark.parametrize(
    ("value", "answer", "passed"),
    [
        ("Yes", "Yes", True),
        ("Yes", "yes", False),
        ("Yes", "Yes\n", False),
        ("Yes", "Yes, sure", False),
        ({"value": "Yes", "strip": True}, "  Yes\n", True),
        ({"value": "Yes", "strip": True}, "  yes\n", False),
        ({"value": "Yes", "ignore_case": True}, "YES", True),
        ({"value": "Yes", "ignore_case": True}, " YES", False),
        ({"value": "Straße", "strip": True, "ignore_case": True}, " STRASSE ", True),
    ],
)
def test_equals(value: Any, answer: str, passed: bool) -> None:
    result = check(AssertionSpec.model_validate({"equals": value}), Answer(answer))
    assert result.passed is passed and result.kind == "equals"


def test_equals_shows_its_text_and_options() -> None:
    plain = AssertionSpec.model_validate({"equals": "Yes"})
    both = AssertionSpec.model_validate({"equals": {"value": "Yes", "strip": True,
                                                    "ignore_case": True}})  # fmt: skip
    assert check(plain, Answer("No")).expected == "'Yes'"
    assert both.describe() == "equals 'Yes' (strip, ignore_case)"
    negated = AssertionSpec.model_validate({"not": {"equals": "Yes"}})
    assert negated.describe() == "not equals 'Yes'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "equals takes a string or {value: TEXT"),
        ({"strip": True}, "equals takes a string or {value: TEXT"),
        ({"value": "a", "trim": True}, "equals has no option 'trim'; allowed: strip, ignore_case"),
        ({"value": "a", "strip": "yes"}, "equals.strip takes true or false, got 'yes'"),
    ],
)
def test_bad_equals_says_why(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{")):
        AssertionSpec.model_validate({"equals": value})
