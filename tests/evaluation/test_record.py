"""A case's record built from its result, and the suite totals built from records."""

from __future__ import annotations

from pytest_promptopt.evaluation.record import SuiteTotals, by_suite, case_record
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.protocol import Verdict, VerdictInput
from pytest_promptopt.records.case import CaseRecord
from tests.support.records import make_record


def test_from_result_takes_scores_totals_and_criteria() -> None:
    verdict = Verdict.of(VerdictInput.model_validate(
        {"functionality": 5, "safety": 5, "consistency": 3, "edge_case_handling": 3,
         "reasoning": "ok"}
    ))  # fmt: skip
    result = CaseResult(
        suite="s", case_id="c", prompt_id=7, threshold=0.7,
        samples=[SampleResult(sample=0, response="hi", verdict=verdict, overall_score=0.75,
                              calls=2, input_tokens=11, output_tokens=4, cost_usd=0.5)],
    )  # fmt: skip
    record = case_record(result)
    assert (record.score, record.passed, record.prompt_id) == (0.75, True, 7)
    assert (record.calls, record.tokens, record.cost_usd) == (2, 15, 0.5)
    assert record.criteria["consistency"] == 0.5


def test_suite_totals_leave_errors_out_of_the_mean() -> None:
    records = [
        make_record("a", 0.9, passed=True),
        make_record("b", 0.5, passed=False),
        make_record("c", 0.0, passed=False, error="api down"),
    ]
    t = SuiteTotals.of("s", records)
    assert (t.cases, t.passed, t.failed, t.errors) == (3, 1, 1, 1)
    assert t.mean_score == 0.7
    assert t.pass_rate == 1 / 3
    assert (t.calls, t.cache_hits, t.tokens) == (6, 3, 45)
    assert SuiteTotals.of("empty", []).mean_score is None  # no judged case: no score


def test_by_suite_keeps_first_seen_order() -> None:
    a = make_record("a", 1, passed=True)
    b = a.model_copy(update={"suite": "t"})
    c = a.model_copy(update={"case_id": "c"})
    assert list(by_suite([a, b, c])) == ["s", "t"]
    assert by_suite([a, b, c])["s"] == [a, c]


def test_an_unknown_cost_travels_and_makes_the_suite_total_unknown() -> None:
    known = make_record("a", 0.9, passed=True)
    unknown = known.model_copy(update={"case_id": "b", "cost_usd": None})
    props = dict(unknown.to_properties())
    assert props["promptopt_cost_usd"] == ""  # JUnit has no None either
    assert CaseRecord.from_properties(unknown.to_properties()) == [unknown]
    assert SuiteTotals.of("s", [known, known]).cost_usd == 0.02
    assert SuiteTotals.of("s", [known, unknown]).cost_usd is None


def test_a_sample_with_an_unknown_cost_makes_the_case_cost_unknown() -> None:
    result = CaseResult(
        suite="s", case_id="c", prompt_id=7, threshold=0.7,
        samples=[SampleResult(sample=0, response="hi", overall_score=1.0, cost_usd=0.5),
                 SampleResult(sample=1, response="hi", overall_score=1.0, cost_usd=None)],
    )  # fmt: skip
    assert result.totals().cost_usd is None
    assert case_record(result).cost_usd is None
