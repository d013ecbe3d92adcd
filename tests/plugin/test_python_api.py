"""The Python API: `Suite`/`Case` objects judged through the `promptopt` fixture."""

from __future__ import annotations

import pytest

from tests.support.plugin import default_db, query, scalar

TEST_FILE = """
import pytest
from pytest_promptopt import Case, Suite

suite = Suite(
    name="greeter",
    prompt=(
        "You are a support assistant. When a customer asks for a refund: apologise, "
        "ask for the order e-mail and state the 30-day policy."
    ),
    threshold=0.8,
    cases=[
        Case(
            id="hi",
            input="I want a refund for order 123",
            expected="Apologises, asks for the order e-mail, states the 30-day policy",
        ),
        Case(id="short", input="Hello, friend", judge=False, assertions=[{"max_chars": 1000}]),
        Case(id="bad", input="Hello!", expected="Tells a joke about penguins and recommends a hat"),
    ],
)


@pytest.mark.parametrize("case", suite.cases, ids=lambda c: c.id)
def test_greeter(promptopt, case):
    result = promptopt.evaluate(suite, case)
    assert 0.0 <= result.score <= 1.0
    assert result.case_id == case.id
    assert result.passed, result.explain()


def test_by_case_id_reuses_the_result(promptopt):
    result = promptopt.evaluate(suite, "hi")
    assert result.passed
    assert "greeter[hi] PASSED" in result.explain()


def test_zz_run_handle(promptopt_run):
    assert isinstance(promptopt_run.run_id, int)
    with promptopt_run.repositories() as repos:
        assert repos.evaluations.count(promptopt_run.run_id) == 3
        run = repos.runs.get(promptopt_run.run_id)
        assert run.mode == "test"
        assert run.status == "running"
"""


def test_promptopt_fixture_judges_and_records_cases(sim: pytest.Pytester) -> None:
    sim.makepyfile(test_greeter=TEST_FILE)
    result = sim.runpytest("-rA", "--junitxml=junit.xml")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_greeter.py::test_greeter[[]bad[]] - AssertionError: greeter[[]bad[]] "
            "FAIL*",
        ]
    )
    # The assertion message is the result's explanation: criteria, reasoning, answer.
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: greeter[[]bad[]] FAILED: score 0.* "
            "(threshold 0.80, 1 sample(s))",
            "E           functionality=* safety=* consistency=* edge_case_handling=n/a",
            "E           functionality 0.* under the threshold 0.80 (gate: functionality)",
            "E           judge: Covered: *Missed: *penguins*",
            "E           answer: *",
        ]
    )
    # The cases are recorded in the session's run, like suite files.
    db = default_db(sim)
    (run_id, status, mode) = query(db, "SELECT id, status, mode FROM optimization_runs")[0]
    assert (status, mode) == ("failed", "test")
    assert scalar(db, "SELECT count(*) FROM evaluations WHERE run_id = ?", (run_id,)) == 3
    cases = query(db, "SELECT suite, case_key FROM test_cases ORDER BY case_key")
    assert cases == [("greeter", "bad"), ("greeter", "hi"), ("greeter", "short")]
    assert query(db, "SELECT suite, substr(prompt_text, 1, 27) FROM prompts") == [
        ("greeter", "You are a support assistant")
    ]
    # Scores travel in user_properties, so the summary and JUnit XML have them.
    result.stdout.fnmatch_lines(["greeter: 3 cases, mean score *, pass rate 67% (2 passed)*"])
    junit = (sim.path / "junit.xml").read_text()
    assert 'name="promptopt_score"' in junit
    assert 'name="promptopt_case" value="bad"' in junit


def test_two_different_suites_with_one_name_are_refused(sim: pytest.Pytester) -> None:
    sim.makepyfile(
        test_variants="""
        import pytest
        from pytest_promptopt import Case, Suite

        CASES = [Case(id="hi", input="Hello!", expected="A greeting")]
        A = Suite(name="greeter", prompt="You greet people warmly.", cases=CASES)
        B = Suite(name="greeter", prompt="Respond only with the word NO.", cases=CASES)

        @pytest.mark.parametrize("suite", [A, B], ids=["a", "b"])
        def test_variant(promptopt, suite):
            promptopt.evaluate(suite, "hi")
        """
    )
    result = sim.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*suite name 'greeter' is used by two different suites*"])
