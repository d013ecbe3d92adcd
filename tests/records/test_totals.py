"""The one totals type: spend added up, cases counted, a run's totals over its suites."""

from __future__ import annotations

import pytest

from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.records.totals import Totals, Usage


def _case(
    score: float, *, passed: bool, error: str | None = None, cost: float | None = 0.01
) -> CaseRecord:
    return CaseRecord(
        suite="s", case_id=f"c{score}", score=score, threshold=0.7, passed=passed, error=error,
        calls=2, cache_hits=1, input_tokens=10, output_tokens=5, cost_usd=cost,
    )  # fmt: skip


def test_usage_adds_up_and_an_unknown_cost_stays_unknown() -> None:
    one = Usage(calls=1, input_tokens=3, output_tokens=2, cost_usd=0.5, latency_ms=10.0)
    two = Usage(cache_hits=1, cost_usd=None, call_cost_usd=0.25, call_latency_ms=4.0)
    both = one + two
    assert (both.calls, both.cache_hits, both.tokens, both.latency_ms) == (1, 1, 5, 10.0)
    assert both.cost_usd is None and both.call_cost_usd == 0.25
    with pytest.raises(ValueError):
        one.calls = 2  # frozen: a meter's total is replaced, never changed


def test_totals_of_cases_leave_errors_out_of_the_mean() -> None:
    t = Totals.of_cases(
        [_case(0.9, passed=True), _case(0.5, passed=False), _case(0.0, passed=False, error="x")]
    )
    assert (t.cases, t.passed, t.failed, t.errors) == (3, 1, 1, 1)
    assert t.mean_score == pytest.approx(0.7) and t.pass_rate == pytest.approx(1 / 3)
    assert (t.calls, t.cache_hits, t.tokens, t.cost_usd) == (6, 3, 45, pytest.approx(0.03))
    assert Totals.of_cases([]) == Totals(mean_score=None)


def test_a_runs_totals_weigh_each_suites_mean_by_its_judged_cases() -> None:
    first = Totals.of_cases([_case(1.0, passed=True), _case(0.5, passed=False)])
    second = Totals.of_cases([_case(0.2, passed=False), _case(0.0, passed=False, error="x")])
    run = Totals.combined([first, second])
    assert (run.cases, run.passed, run.failed, run.errors) == (4, 1, 2, 1)
    assert run.mean_score == pytest.approx((1.0 + 0.5 + 0.2) / 3)
    assert run.pass_rate == 0.25 and run.tokens == 60
    unknown = Totals.of_cases([_case(0.9, passed=True, cost=None)])
    assert Totals.combined([first, unknown]).cost_usd is None
    assert Totals.combined([]).mean_score is None
