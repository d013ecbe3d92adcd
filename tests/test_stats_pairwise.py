"""The pairwise comparison's rule: both orders, the sign test, the verdicts and the power."""

from __future__ import annotations

import random

import pytest
from scipy.stats import binom, binomtest

from pytest_promptopt.stats.pairwise import (
    PAIRWISE_MARGIN,
    PairOutcome,
    Preference,
    combine_orders,
    compare_pairs,
    min_detectable_share,
)


def outcomes(wins: int, losses: int, ties: int) -> dict[str, PairOutcome]:
    """Case key -> outcome for that many wins, losses and ties."""
    kinds: list[PairOutcome] = ["win"] * wins + ["loss"] * losses + ["tie"] * ties
    return {f"c{i:03}": kind for i, kind in enumerate(kinds)}


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("new", "new", "win"),
        ("old", "old", "loss"),
        ("tie", "tie", "tie"),
        ("new", "old", "tie"),  # order-dependent: the position decided, not the answers
        ("old", "new", "tie"),
        ("new", "tie", "tie"),
        ("tie", "old", "tie"),
    ],
)
def test_an_order_dependent_verdict_is_a_tie(
    first: Preference, second: Preference, expected: PairOutcome
) -> None:
    assert combine_orders(first, second) == expected


def test_the_sign_test_is_scipys_binomial_test_without_the_ties() -> None:
    c = compare_pairs(outcomes(wins=3, losses=12, ties=9))
    test = binomtest(3, 15, 0.5)
    assert c.p_value == pytest.approx(test.pvalue)
    ci = test.proportion_ci(confidence_level=0.95, method="exact")
    assert c.share_ci == pytest.approx((ci.low, ci.high))
    assert c.win_share == pytest.approx(3 / 15)
    assert (c.wins, c.losses, c.ties, c.n_shared) == (3, 12, 9, 24)
    assert c.verdict == "regressed" and c.p_value < 0.05
    # The same wins and losses with any number of ties: the same test.
    assert compare_pairs(outcomes(3, 12, 40)).p_value == pytest.approx(test.pvalue)


def test_regressed_improved_unchanged_and_inconclusive() -> None:
    assert compare_pairs(outcomes(0, 8, 16)).verdict == "regressed"
    assert compare_pairs(outcomes(8, 0, 16)).verdict == "improved"
    every_tie = compare_pairs(outcomes(0, 0, 24))
    assert every_tie.verdict == "unchanged" and every_tie.reason == "every case a tie"
    assert every_tie.preference_ci == (0.5, 0.5)
    # Few decisive cases among many ties: the preference interval stays near 0.5.
    few = compare_pairs(outcomes(1, 2, 37))
    assert few.verdict == "unchanged"
    assert 0.5 - PAIRWISE_MARGIN <= few.preference_ci[0] < few.preference_ci[1] <= 0.6
    # Balanced but all decisive: no significant difference, and none ruled out either.
    balanced = compare_pairs(outcomes(6, 6, 0))
    assert balanced.verdict == "inconclusive"
    assert "could not rule out" in balanced.reason and "decisive cases" in balanced.reason
    # Too few shared cases for the rule, whatever they say.
    small = compare_pairs(outcomes(0, 4, 0))
    assert small.verdict == "inconclusive" and "fewer than the 5" in small.reason


def test_the_preference_interval_is_the_win_share_shrunk_by_the_ties() -> None:
    c = compare_pairs(outcomes(4, 6, 10))
    assert c.share_ci is not None
    low, high = c.share_ci
    assert c.preference_ci == pytest.approx((0.5 + (low - 0.5) / 2, 0.5 + (high - 0.5) / 2))
    assert c.preference_share == pytest.approx((4 + 5) / 20)


def test_the_power_is_exact_on_the_binomial() -> None:
    share = min_detectable_share(24, 0.05)
    assert share is not None and 0 < share < 0.5
    rejected = [x for x in range(25) if binomtest(x, 24, 0.5).pvalue < 0.05]
    power = sum(binom.pmf(x, 24, share) for x in rejected)
    assert power == pytest.approx(0.8, abs=1e-4)
    assert min_detectable_share(5, 0.05) is None  # 5 of 5 one way: p = 0.0625
    assert min_detectable_share(0, 0.05) is None
    assert min_detectable_share(48, 0.05) > share  # type: ignore[operator]  # more cases, closer


def test_the_line_names_the_comparison_and_its_power() -> None:
    line = compare_pairs(outcomes(2, 14, 8)).describe()
    assert line.startswith("regressed: pairwise judge on 24 shared cases, both orders; ")
    assert "2 wins, 14 losses, 8 ties" in line and "(ties excluded)" in line
    assert "detects a win share under " in line and "(80% power, 16 decisive cases)" in line


def test_false_alarms_under_noise_stay_within_alpha() -> None:
    # A judge that cannot tell two equivalent answers apart: each order prefers either at
    # random (or says tie); over 400 seeded comparisons of 24 cases, `regressed` or
    # `improved` no more often than the test's 5% (the sign test is exact, so below it).
    flagged = 0
    runs = 400
    for seed in range(runs):
        rng = random.Random(seed)
        prefs: list[Preference] = ["new", "old", "tie"]
        pairs = {f"c{i}": combine_orders(rng.choice(prefs), rng.choice(prefs)) for i in range(24)}
        flagged += compare_pairs(pairs).verdict in ("regressed", "improved")
    assert flagged / runs <= 0.05
