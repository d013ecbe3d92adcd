"""The checks on an answer's text: contains, regex, length, JSON."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check
from pytest_promptopt.suites.spec import AssertionSpec


@pytest.mark.parametrize(
    ("spec", "answer", "passed"),
    [
        ({"contains": "refund"}, "your refund", True),
        ({"contains": "Refund"}, "your refund", False),
        ({"icontains": "REFUND"}, "your refund", True),
        ({"not_contains": "As an AI"}, "As an AI, I", False),
        ({"regex": r"30[- ]day"}, "a 30-day policy", True),
        ({"max_chars": 5}, "123456", False),
        ({"is_json": True}, '```json\n{"a": 1}\n```', True),
        ({"is_json": False}, '{"a": 1}', False),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '{"b": 1}', False),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', True),
    ],
)
def test_checks(spec: dict[str, Any], answer: str, passed: bool) -> None:
    assert check(AssertionSpec.model_validate(spec), Answer(answer)).passed is passed
