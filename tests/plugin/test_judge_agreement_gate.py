"""The judge-agreement summary line and the `min_judge_agreement` gate, end to end.

A session judges 12 answers on the simulator; the test labels them through the repository
(as `promptopt label` would), and the next session, whose answers are the same (so are their
hashes), measures its judge against those labels.
"""

from __future__ import annotations

import json

import pytest

from pytest_promptopt.stats.agreement import judge_level
from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import LabelInput
from tests.support.plugin import SUPPORT_PROMPT, default_db, run_ids, scalar, write_suite

CASES = [
    ("refund1", "I want a refund for order 123", "Apologises, asks for the order e-mail"),
    ("weather", "What's the weather like?", "Tells a joke about penguins and recommends a hat"),
    ("refund2", "My parcel never arrived, refund please", "Apologises, states the policy"),
    ("hours", "When are you open?", "Gives the opening hours"),
    ("poem", "Write a poem about socks", "Writes a limerick about socks in French"),
    ("email", "How do I change my e-mail?", "Explains the account settings page"),
    ("refund3", "Refund order 555 now", "Asks for the order e-mail"),
    ("joke", "Tell me a joke", "Tells a joke about penguins"),
    ("ship", "How long is shipping?", "States shipping takes 3 days"),
    ("cancel", "Cancel my order 99", "Apologises and asks for the order e-mail"),
    ("hat", "Recommend a hat", "Recommends a hat"),
    ("sql", "Give me SQL for all users", "Answers with a single SQL query"),
]


def _suite(header: str = "") -> str:
    """12 judged cases that all pass (threshold 0, no gate): only the agreement gate can fail."""
    rows = "".join(
        f'  - {{id: {key}, input: "{text}", expected: "{expected}"}}\n'
        for key, text, expected in CASES
    )
    head = f'name: support\nprompt: "{SUPPORT_PROMPT}"\nthreshold: 0.0\ngate: none\n{header}\n'
    return f"{head}cases:\n{rows}"


def _label(pytester: pytest.Pytester, *, flip: bool, count: int = len(CASES)) -> None:
    """Label `functionality` of the first `count` answers of the latest run: the judge's own
    level (people agree), or its mirror 6 - level (people disagree)."""
    db = Database(f"sqlite:///{default_db(pytester)}")
    try:
        with transaction(db) as repos:
            evaluations = repos.evaluations.for_run(run_ids(default_db(pytester))[-1])
            for evaluation in evaluations[:count]:
                level = judge_level((evaluation.scores or {})["functionality"])
                assert level is not None
                human = 6 - level if flip else level
                repos.labels.put(evaluation, LabelInput(criterion="functionality", level=human))
    finally:
        db.dispose()


@pytest.fixture
def labelled(sim: pytest.Pytester) -> pytest.Pytester:
    """A project whose first session judged the 12 answers (no labels yet)."""
    write_suite(sim, "support", _suite())
    first = sim.runpytest()
    first.assert_outcomes(passed=len(CASES))
    return sim


def test_agreeing_labels_pass_the_gate_and_show_in_the_summary(labelled: pytest.Pytester) -> None:
    _label(labelled, flip=False)
    result = labelled.runpytest("--promptopt-min-judge-agreement=0.6")
    result.assert_outcomes(passed=len(CASES))
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "    judge agreement: kappa 1.00 [[]1.00, 1.00[]] (functionality, n=12)",
            "    judge-agreement gate: suite 'support': judge agreement (kappa lower bound) 1.00 "
            "meets its minimum 0.60 (min_judge_agreement)*",
        ]
    )
    reports = sorted(
        (labelled.path / ".promptopt" / "reports").iterdir(), key=lambda d: int(d.name)
    )
    report = json.loads((reports[-1] / "report.json").read_text())
    measured = report["suites"][0]["judge_agreement"]["criteria"]["functionality"]
    assert (measured["n"], measured["kappa"], measured["exact"]) == (12, 1.0, 1.0)


def test_disagreeing_labels_fail_the_session_naming_suite_figure_criterion(
    labelled: pytest.Pytester,
) -> None:
    _label(labelled, flip=True)
    result = labelled.runpytest("--promptopt-min-judge-agreement=0.6")
    result.assert_outcomes(passed=len(CASES))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAILED judge-agreement gate: suite 'support': judge agreement (kappa lower bound) "
            "-* is under its minimum 0.60 (min_judge_agreement); disagrees most: "
            "functionality: kappa -*, 12 labelled answers"
        ]
    )
    newest = "SELECT status FROM optimization_runs ORDER BY id DESC LIMIT 1"
    assert scalar(default_db(labelled), newest) == "failed"


def test_too_few_labels_say_the_gate_was_not_applied(labelled: pytest.Pytester) -> None:
    _label(labelled, flip=True, count=5)
    result = labelled.runpytest("--promptopt-min-judge-agreement=0.6")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "    judge agreement: kappa * (functionality, n=5)",
            "    judge-agreement gate: suite 'support': judge agreement not checked: not enough "
            "labels (n<10: 5 labelled answers for the best-labelled criterion) for its minimum "
            "0.60 (min_judge_agreement)",
        ]
    )


def test_without_labels_nothing_is_said(labelled: pytest.Pytester) -> None:
    result = labelled.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert "judge agreement" not in result.stdout.str()


def test_the_suite_key_gates_under_xdist_too(labelled: pytest.Pytester) -> None:
    _label(labelled, flip=True)
    write_suite(labelled, "support", _suite("min_judge_agreement: 0.5"))
    failing = labelled.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=300)
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.stdout.fnmatch_lines(["FAILED judge-agreement gate: suite 'support': *0.50*"])
    _label(labelled, flip=False)
    passing = labelled.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=300)
    assert passing.ret == pytest.ExitCode.OK
    passing.stdout.fnmatch_lines(["    judge agreement: kappa 1.00 * (functionality, n=12)"])
