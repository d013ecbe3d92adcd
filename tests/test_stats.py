"""Intervals and the paired run comparison against published and hand-computed values."""

from __future__ import annotations

from typing import get_args

import pytest

from pytest_promptopt.evaluation.record import case_outcomes
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.stats import (
    RULES,
    CaseOutcome,
    Decision,
    compare_runs,
    mcnemar_exact,
    mean_interval,
    paired_gain,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("passed", "total", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(passed: int, total: int, low: float, high: float) -> None:
    ci = wilson_interval(passed, total)
    assert ci is not None
    assert ci == pytest.approx((low, high), abs=6e-5)


def test_wilson_interval_of_nothing_is_none() -> None:
    assert wilson_interval(0, 0) is None


def test_mcnemar_exact_on_hand_computed_tables() -> None:
    # 1 pass->fail, 9 fail->pass: 2 * P(X <= 1 | n=10, p=1/2) = 2 * 11 / 1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    # 0 of 6 one way: 2 / 64.
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    assert mcnemar_exact(3, 3) == pytest.approx(1.0)
    assert mcnemar_exact(0, 0) == 1.0


def test_a_zero_variance_difference_is_not_significant() -> None:
    # Issue 21: the bootstrap on two equal differences gave +0.062 [+0.062, +0.062], significant.
    two = paired_gain([0.0625, 0.0625])
    assert not two.significant and not two.spread
    assert "too few" not in two.describe() and "fewer than the 3" in two.describe()
    many = paired_gain([0.0625] * 12)
    assert (many.low, many.high) == (0.0625, 0.0625)
    assert not many.significant and "no spread" in many.describe()


def test_every_decision_has_one_rule_with_its_level_and_minimum() -> None:
    assert set(RULES) == set(get_args(Decision))
    assert all(name == rule.decision and rule.question for name, rule in RULES.items())
    assert {(d, r.level, r.min_cases) for d, r in RULES.items()} == {
        ("tie", 0.9, 3),
        ("refinement", 0.9, 3),
        ("apply", 0.9, 3),
        ("baseline", 0.95, 5),
        ("variant", 0.95, 5),
    }
    assert RULES["baseline"].alpha == 0.05 and RULES["apply"].alpha == 0.1
    assert paired_gain([0.3, 0.31, 0.29], "refinement").level == 0.9
    assert paired_gain([0.3, 0.31, 0.29, 0.3, 0.32], "variant").level == 0.95


def test_a_paired_decision_needs_its_minimum_of_cases() -> None:
    assert RULES["apply"].min_cases == 3 and RULES["baseline"].min_cases == 5
    assert not paired_gain([0.3, 0.31]).significant  # two cases: never
    assert paired_gain([0.3, 0.31, 0.29]).significant  # three consistent: the t interval says yes
    assert not paired_gain([0.3, 0.31, 0.29, 0.3], "baseline").significant  # under 5


def test_the_paired_interval_is_scipys_t_interval() -> None:
    from scipy.stats import ttest_1samp

    diffs = [0.1, -0.05, 0.2, 0.15, 0.0, 0.12]
    gain = paired_gain(diffs, "apply")
    ci = ttest_1samp(diffs, 0.0).confidence_interval(confidence_level=0.9)
    assert (gain.low, gain.high) == pytest.approx((ci.low, ci.high))
    assert gain.level == 0.9 and gain.cases == 6


def _run(scores: list[float], threshold: float = 0.7) -> dict[str, CaseOutcome]:
    return {f"c{i}": CaseOutcome(s, s >= threshold) for i, s in enumerate(scores)}


BASE = [0.9, 0.85, 0.95, 0.8, 0.92, 0.88, 0.9, 0.86, 0.93, 0.91]


def test_a_clear_drop_is_a_regression_naming_the_cases_that_failed() -> None:
    worse = [s - 0.15 for s in BASE[:5]] + [s - 0.1 for s in BASE[5:]]
    result = compare_runs(_run(BASE), _run(worse))
    assert result.verdict == "regressed"
    assert result.n_shared == 10
    assert result.mean_delta == pytest.approx(-0.125)
    assert result.delta_ci is not None and result.delta_ci[1] < -0.02
    assert result.pass_to_fail_cases == ("c3",)  # 0.80 -> 0.65
    assert (result.pass_to_fail, result.fail_to_pass) == (1, 0)
    assert "regressed: 10 shared cases" in result.describe()


def test_a_rise_is_an_improvement_and_equal_runs_are_unchanged() -> None:
    low = [s - 0.2 - 0.01 * (i % 3) for i, s in enumerate(BASE)]
    assert compare_runs(_run(low), _run(BASE)).verdict == "improved"
    same = compare_runs(_run(BASE), _run(BASE))
    assert same.verdict == "unchanged"
    assert same.delta_ci == (0.0, 0.0)
    assert same.mcnemar_p == 1.0


def test_a_drop_within_the_margin_is_unchanged() -> None:
    drop = [s - 0.01 - 0.002 * (i % 3) for i, s in enumerate(BASE)]
    result = compare_runs(_run(BASE), _run(drop))
    assert result.delta_ci is not None and result.delta_ci[1] < 0
    assert result.delta_ci[0] > -0.02  # the whole interval lies within the margin
    assert result.verdict == "unchanged"
    assert compare_runs(_run(BASE), _run(drop), margin=0.0).verdict == "regressed"
    # The same drop on every case has no spread: the interval rules nothing out (issue 23:
    # it was `unchanged`, but nothing shows the change is within the margin).
    constant = compare_runs(_run(BASE), _run([s - 0.01 for s in BASE]), margin=0.0)
    assert constant.verdict == "inconclusive"
    assert "every case moved by -0.010: no spread" in constant.describe()


def test_significant_flips_with_a_score_drop_are_a_regression() -> None:
    # Every case drops by 0.03 without spread: the scores alone decide nothing...
    base = [0.72] * 10
    high = compare_runs(_run([0.9] * 10), _run([0.87] * 10), margin=0.05)
    assert (high.pass_to_fail, high.verdict) == (0, "inconclusive")
    # ...but when it takes all 10 cases below the threshold, McNemar's test makes it one.
    flipped = compare_runs(_run(base), _run([0.69] * 10), margin=0.05)
    assert flipped.delta_ci == pytest.approx((-0.03, -0.03))
    assert flipped.pass_to_fail == 10 and flipped.mcnemar_p == pytest.approx(2 / 1024)
    assert flipped.verdict == "regressed"


def test_significant_flips_are_never_unchanged() -> None:
    # Issue 28: after an upgrade an older judge's scale made 20 of 20 pass->fail flips
    # (McNemar p = 1.9e-6) look like no score change; that was reported `unchanged`.
    a = {f"c{i}": CaseOutcome(0.70 + 0.01 * (i % 3), True) for i in range(20)}
    b = {f"c{i}": CaseOutcome(0.69 + 0.03 * (i % 3), False) for i in range(20)}
    result = compare_runs(a, b)
    assert result.pass_to_fail == 20 and result.mcnemar_p == pytest.approx(1.9e-6, rel=0.01)
    assert result.delta_ci is not None and result.delta_ci[1] > 0  # the scores do not drop
    # Issue 23: the whole interval lies within the margin, so the scores show no change; the
    # flips alone (which a threshold moves) may not make that `regressed`, nor `unchanged`.
    assert result.delta_ci[0] >= -0.02 and result.delta_ci[1] <= 0.02
    assert result.verdict == "inconclusive"
    assert "pass/fail flips are significantly down" in result.describe()
    assert compare_runs(b, a).verdict == "inconclusive"
    # Scores that leave a drop open: then the significant flips decide.
    c = {f"c{i}": CaseOutcome(0.65 + 0.05 * (i % 3), False) for i in range(20)}
    down = compare_runs(a, c)
    assert down.delta_ci is not None and down.delta_ci[0] < -0.02 < 0 < down.delta_ci[1]
    assert down.verdict == "regressed"
    assert "significant pass->fail flips" in down.describe()
    assert compare_runs(c, a).verdict == "improved"


def test_a_variant_is_compared_by_its_own_rule_like_a_baseline() -> None:
    worse = [s - 0.15 for s in BASE[:5]] + [s - 0.1 for s in BASE[5:]]
    variant = compare_runs(_run(BASE), _run(worse), decision="variant")
    assert variant == compare_runs(_run(BASE), _run(worse))
    assert variant.verdict == "regressed" and "(95% CI " in variant.describe()
    four = compare_runs(_run(BASE[:4]), _run(worse[:4]), decision="variant")
    assert four.verdict == "inconclusive"


def test_too_few_shared_cases_is_inconclusive() -> None:
    a = _run([0.9, 0.9, 0.9, 0.9])
    b = _run([0.1, 0.1, 0.1, 0.1])
    result = compare_runs(a, b)
    assert result.verdict == "inconclusive" and result.n_shared == 4
    # Only the shared ids count: 4 shared of 6 and 5.
    a = {**a, "x": CaseOutcome(0.9, True), "y": CaseOutcome(0.9, True)}
    b = {**b, "z": CaseOutcome(0.1, False)}
    assert compare_runs(a, b).n_shared == 4
    assert compare_runs({}, {}).verdict == "inconclusive"


def test_case_records_become_outcomes_without_their_errors() -> None:
    records = [
        CaseRecord(suite="s", case_id="a", score=0.9, threshold=0.7, passed=True),
        CaseRecord(suite="s", case_id="b", score=0.5, threshold=0.7, passed=False),
        CaseRecord(suite="s", case_id="c", score=0.0, threshold=0.7, passed=False, error="API"),
    ]
    assert case_outcomes(records) == {"a": (0.9, True, "", ""), "b": (0.5, False, "", "")}


@pytest.mark.parametrize("total", [1, 2, 5, 13, 40, 200, 2000])
def test_wilson_closed_form_agrees_with_scipy_for_every_count(total: int) -> None:
    from scipy.stats import binomtest

    for passed in range(total + 1):
        ci = binomtest(passed, total).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(passed, total) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_the_summary_interval_is_seeded_covers_the_mean_and_agrees_with_scipy() -> None:
    import numpy as np
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    values = list(rng.uniform(0.3, 1.0, size=60))
    ci = mean_interval(values)
    assert ci is not None and ci == mean_interval(values)
    assert mean_interval(values, seed=1) != ci
    mean = sum(values) / len(values)
    assert ci[0] < mean < ci[1]
    reference = bootstrap(
        (np.asarray(values),),
        np.mean,
        method="percentile",
        n_resamples=9999,
        rng=np.random.default_rng(0),
    ).confidence_interval
    # Two seeded percentile bootstraps of the same data agree to Monte Carlo error.
    assert ci == pytest.approx((reference.low, reference.high), abs=0.01)
    assert mean_interval([0.4]) is None
    assert mean_interval([0.4, 0.4]) == (0.4, 0.4)
