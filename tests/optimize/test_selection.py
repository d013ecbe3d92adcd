"""The noise-aware selection: bootstrap intervals, tie tiers and the original's preference."""

from __future__ import annotations

from pytest_promptopt.optimize.selection import (
    Scored,
    candidate_interval,
    select_top,
    stable_seed,
)


def test_candidate_interval_is_seeded_and_contains_the_mean() -> None:
    scores = [0.2, 0.9, 0.5, 0.7, 0.4, 0.8]
    a = candidate_interval(scores, seed=7)
    b = candidate_interval(scores, seed=7)
    assert a == b
    assert a.low <= a.mean <= a.high
    assert a.low > 0.2 and a.high < 0.9


def test_constant_scores_have_a_zero_width_interval() -> None:
    interval = candidate_interval([0.5] * 5, seed=1)
    assert interval.low == interval.high == 0.5


def test_clear_winners_are_selected_by_mean() -> None:
    candidates = [
        Scored(1, (0.30, 0.32, 0.31, 0.29), is_original=True),
        Scored(2, (0.90, 0.91, 0.92, 0.90)),
        Scored(3, (0.60, 0.65, 0.58, 0.62)),
    ]
    sel = select_top(candidates, 2, seed=stable_seed("s", "k"))
    assert sel.selected == [2, 3]
    assert sel.tiers == [[2], [3], [1]]
    assert sel.contested == []
    assert "separates tiers" in sel.reasoning[0]


def test_a_constant_shift_or_two_cases_is_a_tie_not_a_tier() -> None:
    # No spread in the paired differences (or fewer than 3 cases) is no evidence.
    constant = [Scored(1, (0.3, 0.4, 0.5), is_original=True), Scored(2, (0.6, 0.7, 0.8))]
    assert select_top(constant, 1, seed=0).selected == [1]
    two = [Scored(1, (0.2, 0.3), is_original=True), Scored(2, (0.9, 0.95))]
    assert select_top(two, 1, seed=0).tiers == [[1, 2]]


def test_original_wins_a_tie_against_a_noisy_higher_mean() -> None:
    original = Scored(1, (0.6, 0.7, 0.5, 0.8, 0.6, 0.7), is_original=True)
    noisy = Scored(2, (0.2, 1.0, 0.9, 0.9, 0.3, 1.0))  # higher mean, within noise
    clear_loser = Scored(3, (0.05, 0.1, 0.05, 0.1, 0.05, 0.1))
    assert noisy.mean > original.mean
    sel = select_top([original, noisy, clear_loser], 1, seed=3)
    assert sel.selected == [1]
    assert sel.contested == [1, 2]
    assert sel.tiers[0] == [1, 2] and sel.tiers[1] == [3]
    assert any("inside a tie" in r for r in sel.reasoning)
    ranking = {r["prompt_id"]: r for r in sel.ranking}
    assert ranking[1]["tier"] == ranking[2]["tier"] == 0
    assert ranking[3]["tier"] == 1


def test_cut_between_tiers_is_not_contested() -> None:
    a = Scored(1, (0.8, 0.82, 0.81), is_original=True)
    b = Scored(2, (0.81, 0.8, 0.83))
    c = Scored(3, (0.1, 0.12, 0.11))
    sel = select_top([a, b, c], 2, seed=0)
    assert sel.selected == [1, 2]
    assert sel.contested == []


def test_without_an_original_ties_fall_back_to_mean_then_age() -> None:
    a = Scored(5, (0.5, 0.9, 0.4, 0.8))
    b = Scored(4, (0.6, 0.8, 0.5, 0.8))
    sel = select_top([a, b], 1, seed=11)
    assert sel.contested == [4, 5]
    assert sel.selected == [4]  # higher mean; used only as a tie-break


def test_k_larger_than_the_field_keeps_everyone() -> None:
    sel = select_top([Scored(1, (0.5,)), Scored(2, (0.4,))], 5, seed=0)
    assert sel.selected == [1, 2]
    assert sel.contested == []
