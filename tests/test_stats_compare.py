"""The run comparison's verdict rule, its power and its per-category changes (issue 23)."""

from __future__ import annotations

import math

import pytest

from pytest_promptopt.stats import (
    CaseOutcome,
    PairedComparison,
    compare_runs,
    min_detectable_change,
)

BEFORE = [0.74, 0.75, 0.74, 0.76, 0.75, 0.74, 0.75, 0.76, 0.74, 0.75, 0.74, 0.75]
CHANGE = [-0.20, -0.15, -0.12, -0.10, -0.08, -0.06, -0.05, -0.03, 0.0, 0.02, 0.04, 0.0]


def _runs(threshold: float) -> tuple[dict[str, CaseOutcome], dict[str, CaseOutcome]]:
    """The same two sets of answers and scores, passed or failed at `threshold`."""
    after = [s + d for s, d in zip(BEFORE, CHANGE, strict=True)]
    return (
        {f"c{i}": CaseOutcome(s, s >= threshold) for i, s in enumerate(BEFORE)},
        {f"c{i}": CaseOutcome(s, s >= threshold) for i, s in enumerate(after)},
    )


def test_a_threshold_alone_cannot_turn_a_regression_into_unchanged() -> None:
    # Issue 23: identical answers with a CI of -0.122 .. -0.003 went from `regressed` at
    # threshold 0.7 (McNemar p = 0.02) to `unchanged` at 0.3; the scores decide here.
    strict = compare_runs(*_runs(0.7))
    lenient = compare_runs(*_runs(0.3))
    assert strict.delta_ci == lenient.delta_ci
    assert strict.delta_ci is not None
    assert -0.122 < strict.delta_ci[0] < strict.delta_ci[1] < -0.003
    assert strict.pass_to_fail == 6 and strict.mcnemar_p < 0.05
    assert lenient.pass_to_fail == 0 and lenient.mcnemar_p == 1.0
    assert (strict.verdict, lenient.verdict) == ("regressed", "regressed")
    for threshold in (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 1.0):
        assert compare_runs(*_runs(threshold)).verdict == "regressed", threshold


def test_an_interval_holding_zero_and_a_drop_is_inconclusive_naming_its_power() -> None:
    # Issue 23: "change -0.021, 95% CI -0.076 .. +0.035" was called `unchanged`.
    deltas = [-0.15, 0.1, -0.05, 0.05, -0.1, 0.08, 0.0, -0.06, 0.04, -0.02, 0.03, -0.06]
    a = {f"c{i}": CaseOutcome(0.8, True) for i in range(12)}
    b = {f"c{i}": CaseOutcome(0.8 + d, True) for i, d in enumerate(deltas)}
    result = compare_runs(a, b)
    assert result.delta_ci is not None and result.delta_ci[0] < -0.02 < 0 < result.delta_ci[1]
    assert result.verdict == "inconclusive"
    mdc = result.min_detectable_change
    assert mdc is not None
    text = result.describe()
    assert f"could not rule out a drop of up to {-result.delta_ci[0]:.3f}" in text
    assert f"12 shared cases: a change under {mdc:.2f} cannot be told from noise" in text
    assert f"detectable change {mdc:.3f} (80% power)" in text


def test_an_interval_within_the_margin_is_unchanged_and_one_beyond_it_is_not() -> None:
    a = {f"c{i}": CaseOutcome(0.8, True) for i in range(20)}
    tight = {f"c{i}": CaseOutcome(0.8 + (0.005 if i % 2 else -0.005), True) for i in range(20)}
    assert compare_runs(a, tight).verdict == "unchanged"
    assert compare_runs(a, a).verdict == "unchanged"  # identical scores: equal
    wide = {f"c{i}": CaseOutcome(0.8 + (0.1 if i % 2 else -0.1), True) for i in range(20)}
    assert compare_runs(a, wide).verdict == "inconclusive"
    assert compare_runs(a, wide, margin=0.2).verdict == "unchanged"


@pytest.mark.parametrize("n", [4, 5, 12, 24, 100])
def test_the_detectable_change_has_80_percent_power(n: int) -> None:
    from scipy.stats import nct, norm, t

    sd, alpha = 0.1, 0.05
    mdc = min_detectable_change(sd, n, alpha)
    assert mdc is not None
    df, crit = n - 1, t.ppf(1 - alpha / 2, n - 1)
    nc = mdc * math.sqrt(n) / sd
    assert nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc) == pytest.approx(0.8, abs=1e-6)
    normal = (norm.ppf(1 - alpha / 2) + norm.ppf(0.8)) * sd / math.sqrt(n)
    assert normal < mdc


def test_the_detectable_change_of_the_issue_and_its_edges() -> None:
    mdc = min_detectable_change(0.1, 12, 0.05)
    assert mdc == pytest.approx(0.0888, abs=5e-4)  # "12 shared cases: a change under 0.09"
    assert min_detectable_change(0.0, 12, 0.05) is None
    assert min_detectable_change(0.1, 1, 0.05) is None
    two = min_detectable_change(0.1, 2, 0.05)  # the approximation where nct fails
    assert two is not None and two > min_detectable_change(0.1, 3, 0.05)  # type: ignore[operator]


def _categorised(flip_returns: int) -> PairedComparison:
    """24 cases: 6 `returns` of which `flip_returns` go pass->fail, 18 others with noise."""
    a, b = {}, {}
    for i in range(24):
        category = "returns" if i < 6 else ("parcel" if i < 15 else "cancel")
        a[f"c{i}"] = CaseOutcome(0.75, True, category)
        drop = i < flip_returns
        b[f"c{i}"] = CaseOutcome(0.6 if drop else 0.75 + 0.02 * (i % 3 - 1), not drop, category)
    return compare_runs(a, b)


def test_a_category_that_all_went_from_pass_to_fail_is_named() -> None:
    result = _categorised(6)
    by_name = {c.category: c for c in result.categories}
    assert set(by_name) == {"returns", "parcel", "cancel"}
    returns = by_name["returns"]
    assert (returns.cases, returns.pass_to_fail, returns.fail_to_pass) == (6, 6, 0)
    assert returns.mean_delta == pytest.approx(-0.15)
    assert by_name["parcel"].pass_to_fail == 0 and by_name["parcel"].cases == 9
    assert "all 6 cases of category `returns` went pass -> fail" in result.describe()
    assert [c.category for c in result.flipped_categories] == ["returns"]
    # Five of six is no longer "all": the line names no category.
    assert "category `returns`" not in _categorised(5).describe()
    assert _categorised(5).categories[2].pass_to_fail == 5


def test_a_category_of_one_case_is_never_named() -> None:
    a = {f"c{i}": CaseOutcome(0.8, True, "big" if i else "single") for i in range(8)}
    b = {**a, "c0": CaseOutcome(0.5, False, "single")}
    result = compare_runs(a, b)
    assert {c.category: c.pass_to_fail for c in result.categories} == {"big": 0, "single": 1}
    assert result.flipped_categories == []
