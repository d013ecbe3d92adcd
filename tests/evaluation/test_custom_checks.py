"""Python checks, `not`, checks on the call, weights and suite-level checks, as units."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_promptopt.errors import PromptOptError, SuiteError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check_all, checks_score
from pytest_promptopt.evaluation.python_checks import takes_figures
from pytest_promptopt.evaluation.results import AssertionResult
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.callables import resolve
from pytest_promptopt.suites.spec import AssertionSpec, Case, Suite

CASE = Case(id="c-1", input="hi")
FIGURES = Usage(
    input_tokens=20,
    output_tokens=150,
    cost_usd=0.002,
    latency_ms=900.0,
    call_cost_usd=0.002,
    call_latency_ms=900.0,
)
HERE = "tests.support.pychecks"


def run(spec: dict[str, Any], text: str, figures: Usage = FIGURES) -> AssertionResult:
    """The result of one check on an answer with this text."""
    specs = (AssertionSpec.model_validate(spec),)
    return asyncio.run(check_all(specs, Answer(text), CASE, figures))[0]


@pytest.mark.parametrize(
    ("spec", "text", "passed", "expected", "detail"),
    [
        ({"python": f"{HERE}:mentions_case"}, "about c-1", True, f"'{HERE}:mentions_case'", ""),
        ({"python": f"{HERE}:mentions_case"}, "about c-2", False, f"'{HERE}:mentions_case'", ""),
        ({"python": f"{HERE}:cheap"}, "x", False, f"'{HERE}:cheap'", "150 output tokens"),
        (
            {"python": f"{HERE}:politeness"},
            "please",
            True,
            ANY := f"'{HERE}:politeness'",
            "score 0.80, min 0.50",
        ),
        (
            {"python": f"{HERE}:politeness", "min": 0.9},
            "please",
            False,
            ANY,
            "score 0.80, min 0.90",
        ),
        ({"python": f"{HERE}:politeness"}, "no", False, ANY, "score 0.20, min 0.50"),
        ({"python": f"{HERE}:async_short"}, "short", True, f"'{HERE}:async_short'", "5 chars"),
        (
            {"python": f"{HERE}:async_short"},
            "far too long",
            False,
            f"'{HERE}:async_short'",
            "12 chars",
        ),
        (
            {"not": {"regex": "(?i)as an ai"}},
            "As an AI, no",
            False,
            "regex '(?i)as an ai'",
            "matched 'As an AI'",
        ),
        ({"not": {"regex": "(?i)as an ai"}}, "Sure", True, "regex '(?i)as an ai'", ""),
        ({"not": {"max_chars": 100}}, "short", False, "max_chars 100", "answer has 5 chars"),
        (
            {"not": {"python": f"{HERE}:mentions_case"}},
            "c-1",
            False,
            f"python '{HERE}:mentions_case'",
            "it held",
        ),
        ({"max_latency_ms": 1000}, "x", True, "1000", "the call took 900 ms"),
        ({"max_latency_ms": 500}, "x", False, "500", "the call took 900 ms"),
        ({"max_cost_usd": 0.01}, "x", True, "0.01", "the call cost $0.002000"),
        ({"max_cost_usd": 0.001}, "x", False, "0.001", "the call cost $0.002000"),
    ],
)
def test_check_kinds(
    spec: dict[str, Any], text: str, passed: bool, expected: str, detail: str
) -> None:
    result = run(spec, text)
    assert (result.passed, result.expected, result.detail) == (passed, expected, detail)


def test_arity_by_signature() -> None:
    assert not takes_figures(resolve(f"{HERE}:mentions_case"))
    assert takes_figures(resolve(f"{HERE}:cheap"))
    assert takes_figures(lambda *args: True)
    assert run({"python": f"{HERE}:cheap"}, "x", Usage(output_tokens=3)).passed


def test_message_is_the_raw_content() -> None:
    blocks = ({"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "n"})
    specs = (AssertionSpec.model_validate({"python": f"{HERE}:raw_message"}),)
    result = asyncio.run(check_all(specs, Answer("hi", message=blocks), CASE, FIGURES))[0]
    assert (result.passed, result.detail) == (True, "text,tool_use")
    assert Answer("hi", message=blocks) == Answer("hi")  # the cache keys ignore it


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("broken", f"python check {HERE}:broken raised KeyError: 'no such field'"),
        ("wrong_type", f"python check {HERE}:wrong_type returned 'yes'; return a bool"),
    ],
)
def test_a_failing_function_is_an_error_naming_it(name: str, message: str) -> None:
    with pytest.raises(PromptOptError) as info:
        run({"python": f"{HERE}:{name}"}, "x")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.support.nowhere:f", "cannot import 'tests.support.nowhere:f': ModuleNotFound"),
        (f"{HERE}:missing", f"cannot import '{HERE}:missing': module '{HERE}' has no function"),
        (f"{HERE}:NOT_A_FUNCTION", f"module '{HERE}' has a non-callable 'NOT_A_FUNCTION'"),
    ],
)
def test_resolve_says_what_is_missing(path: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message.replace("(", r"\(")):
        resolve(path)


def test_weights_make_the_score_of_an_unjudged_case() -> None:
    results = [
        AssertionResult(kind="contains", expected="'a'", passed=True, weight=2.0),
        AssertionResult(kind="contains", expected="'b'", passed=False, weight=1.0),
        AssertionResult(kind="contains", expected="'c'", passed=True),
    ]
    assert checks_score(results) == 0.75
    assert checks_score([]) == 1.0
    assert run({"contains": "x", "weight": 2}, "x").weight == 2.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"contains": "a", "weigth": 2}, "did you mean 'weight'?"),
        ({"pyhton": "m:f"}, "unknown assertion type 'pyhton': did you mean 'python'?"),
        ({"not": {"regx": "a"}}, "not: unknown assertion type 'regx': did you mean 'regex'?"),
        ({"contains": "a", "min": 0.5}, "`min` is for `python` checks only"),
        ({"python": "no_colon"}, "python takes an import path `module:function`"),
        ({"max_latency_ms": 0}, "max_latency_ms takes a positive, finite number"),
        ({"max_cost_usd": "a"}, "max_cost_usd takes a positive, finite number"),
        ({"contains": "a", "weight": 0}, "greater than 0"),
    ],
)
def test_bad_checks_say_why(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
        AssertionSpec.model_validate(spec)


def test_suite_level_checks_come_first_and_count_for_unjudged_cases() -> None:
    case = Case(id="u", input="hi", judge=False, assertions=[{"contains": "b"}])
    bare = Case(id="bare", input="hi", judge=False)
    suite = Suite(name="s", prompt="p", assertions=[{"contains": "a"}], cases=[case, bare])
    assert [s.value for s in suite.checks_for(case)] == ["a", "b"]
    assert Suite.model_validate({"name": "s", "assert": [{"contains": "a"}], "cases": []})
    with pytest.raises(ValueError, match=r"\['bare'\]: a case with `judge: false` needs"):
        Suite(name="s", prompt="p", cases=[bare])


def test_python_checks_are_listed_once_negated_ones_included() -> None:
    suite = Suite(
        name="s",
        prompt="p",
        assertions=[{"python": "m:a"}],
        cases=[
            Case(id="x", input="hi", assertions=[{"not": {"python": "m:b"}}, {"python": "m:a"}])
        ],
    )
    assert suite.python_checks() == ["m:a", "m:b"]
