"""Python checks, `not` and suite-level checks through pytest items on the simulator."""

from __future__ import annotations

import json

import pytest

from tests.support.plugin import JSON_PROMPT, SIM_INI, default_db, query, write_suite

JSON_INPUT = "My package arrived broken"  # the simulator answers with {"sentiment": ...}

CHECKS = """
import json


def is_negative(answer, case):
    return json.loads(answer.text)["sentiment"] == "negative"


def is_positive(answer, case):
    got = json.loads(answer.text)["sentiment"]
    return got == "positive", f"sentiment was {got}"


def cheap(answer, case, result):
    return result.output_tokens < 10_000, f"{result.output_tokens} tokens"


def broken(answer, case):
    raise RuntimeError("the checker fell over")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A simulator project with `pythonpath = .` and a `mychecks` helper module."""
    pytester.makeini(SIM_INI + "pythonpath = .\n")
    pytester.makepyfile(mychecks=CHECKS)
    return pytester


def suite(cases: str, top: str = "") -> str:
    """A JSON-answering suite whose cases are scored by checks alone."""
    return f"prompt: '{JSON_PROMPT}'\n{top}cases:\n{cases}"


def test_python_checks_pass_fail_with_detail_and_are_stored(project: pytest.Pytester) -> None:
    write_suite(
        project,
        "py",
        suite(
            f"""
  - {{id: pass, input: {JSON_INPUT}, judge: false,
      assert: [{{python: "mychecks:is_negative"}}, {{python: "mychecks:cheap"}}]}}
  - {{id: fail, input: {JSON_INPUT}, judge: false, assert: [{{python: "mychecks:is_positive"}}]}}
"""
        ),
    )
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*failed check: python 'mychecks:is_positive' (sentiment was negative)*"]
    )
    rows = query(
        default_db(project),
        "SELECT t.case_key, e.assertion_results FROM evaluations e "
        "JOIN test_cases t ON t.id = e.test_case_id ORDER BY t.case_key",
    )
    stored = {key: json.loads(raw) for key, raw in rows}
    assert [(a["passed"], a["detail"]) for a in stored["fail"]] == [
        (False, "sentiment was negative")
    ]
    assert stored["pass"][1]["detail"].endswith(" tokens")


def test_a_raising_check_is_an_error_naming_the_function(project: pytest.Pytester) -> None:
    write_suite(
        project,
        "py",
        suite(f"  - {{id: boom, input: {JSON_INPUT}, assert: [{{python: 'mychecks:broken'}}]}}\n"),
    )
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*python check mychecks:broken raised RuntimeError: the checker fell over*"]
    )


def test_not_negates_and_says_what_matched(project: pytest.Pytester) -> None:
    write_suite(
        project,
        "neg",
        suite(
            f"""
  - {{id: ok, input: {JSON_INPUT}, judge: false, assert: [{{not: {{contains: zebra}}}}]}}
  - {{id: bad, input: {JSON_INPUT}, judge: false, assert: [{{not: {{regex: '"sentiment"'}}}}]}}
  - {{id: py, input: {JSON_INPUT}, judge: false,
      assert: [{{not: {{python: "mychecks:is_positive"}}}}]}}
"""
        ),
    )
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*failed check: not regex '\"sentiment\"' (matched '\"sentiment\"')*"]
    )


def test_suite_level_checks_apply_to_every_case_first(project: pytest.Pytester) -> None:
    write_suite(
        project,
        "top",
        suite(
            f"""
  - {{id: bare, input: {JSON_INPUT}, judge: false}}
  - {{id: own, input: {JSON_INPUT}, judge: false, assert: [{{contains: zebra}}]}}
""",
            top="assert:\n  - python: mychecks:is_negative\n  - {max_cost_usd: 1.0, weight: 3}\n",
        ),
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*top[[]own[]] FAILED: score 0.80*", "*contains 'zebra'*"])
    rows = query(
        default_db(project),
        "SELECT t.case_key, e.assertion_results FROM evaluations e "
        "JOIN test_cases t ON t.id = e.test_case_id ORDER BY t.case_key",
    )
    kinds = {key: [a["kind"] for a in json.loads(raw)] for key, raw in rows}
    assert kinds == {
        "bare": ["python", "max_cost_usd"],
        "own": ["python", "max_cost_usd", "contains"],
    }


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            "nowhere:check",
            "*py.promptopt.yaml: python check: cannot import 'nowhere:check': ModuleNotFoundError*",
        ),
        (
            "mychecks:missing",
            "*py.promptopt.yaml: python check: cannot import "
            "'mychecks:missing': module 'mychecks' has no function 'missing'*",
        ),
    ],
)
def test_a_missing_module_or_function_is_a_collection_error(
    project: pytest.Pytester, path: str, line: str
) -> None:
    write_suite(
        project,
        "py",
        suite(f"  - {{id: a, input: {JSON_INPUT}, assert: [{{python: '{path}'}}]}}\n"),
    )
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting*", line])


def test_a_check_past_the_check_timeout_is_an_error_naming_it(project: pytest.Pytester) -> None:
    # Issue 18, finding 11: a sync check ran on the event loop thread with no timeout.
    from tests.support import stuckcode

    stuckcode.reset()
    write_suite(
        project,
        "hang",
        suite(
            f"""
  - {{id: stuck, input: {JSON_INPUT}, judge: false,
      assert: [{{python: "tests.support.stuckcode:blocker"}}]}}
  - {{id: fine, input: {JSON_INPUT}, judge: false, assert: [{{python: "mychecks:is_negative"}}]}}
"""
        ),
    )
    try:
        result = project.runpytest("-rA", "--promptopt-check-timeout=2", "-p", "no:cacheprovider")
    finally:
        stuckcode.FREE.set()  # let the abandoned thread go
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*python check tests.support.stuckcode:blocker did not return within 2 s*"]
    )
    assert stuckcode.ENTERED.is_set()
