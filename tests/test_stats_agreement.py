"""stats.agreement: the judge against people's labels, checked against the libraries and a
simulated judge that errs at a known rate."""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from pytest_promptopt.stats.agreement import (
    LEVELS,
    LevelPair,
    PassPair,
    _kappa_of_tables,
    agreement,
    judge_level,
)

LABEL_SHARES = [0.1, 0.2, 0.3, 0.25, 0.15]
"""How often people give each level in the simulated fixture."""


def simulated(n: int, error_rate: float, rng: np.random.Generator) -> tuple[Any, Any]:
    """True levels (the labels) and a judge that gives another level, one step away, at
    `error_rate` (up or down at random; at the ends, the one neighbour)."""
    truth = rng.choice(np.arange(1, 6), size=n, p=LABEL_SHARES)
    step = rng.choice([-1, 1], size=n)
    step = np.where(truth == 1, 1, np.where(truth == 5, -1, step))
    wrong = rng.random(n) < error_rate
    return np.where(wrong, truth + step, truth), truth


def true_kappa(error_rate: float) -> float:
    """The population kappa of `simulated`, from a sample of two million answers."""
    judge, truth = simulated(2_000_000, error_rate, np.random.default_rng(7))
    return float(cohen_kappa_score(judge, truth, weights="quadratic", labels=list(LEVELS)))


def pairs(judge: Any, truth: Any) -> list[LevelPair]:
    """One pair per answer, each its own unit."""
    return [
        LevelPair(int(j), int(h), f"a{i}")
        for i, (j, h) in enumerate(zip(judge, truth, strict=True))
    ]


def test_kappa_interval_contains_the_true_value_over_seeds() -> None:
    # 40 labelled fixtures of 80 answers, a judge wrong on 30% of them: the 95% interval
    # contains the population kappa in about 95% of them (the percentile bootstrap runs a
    # little short on 80 answers, so at least 34 of 40).
    truth_kappa = true_kappa(0.3)
    covered = 0
    for seed in range(40):
        judge, truth = simulated(80, 0.3, np.random.default_rng(1000 + seed))
        found = agreement("overall", pairs(judge, truth), seed=seed).kappa
        assert found.low is not None and found.high is not None
        covered += found.low <= truth_kappa <= found.high
    assert covered >= 34, covered


def test_a_worse_judge_has_a_lower_kappa() -> None:
    rng = np.random.default_rng(3)
    good = agreement("overall", pairs(*simulated(200, 0.1, rng))).kappa.value
    bad = agreement("overall", pairs(*simulated(200, 0.6, rng))).kappa.value
    assert good is not None and bad is not None
    assert good > bad
    assert true_kappa(0.1) > true_kappa(0.6)


def test_the_figures_are_the_libraries() -> None:
    rng = np.random.default_rng(11)
    judge, truth = simulated(60, 0.4, rng)
    judge_pass, human_pass = judge >= 4, truth >= 4
    result = agreement(
        "overall",
        pairs(judge, truth),
        [PassPair(bool(j), bool(h)) for j, h in zip(judge_pass, human_pass, strict=True)],
    )
    assert result.n == 60
    assert result.kappa.value == pytest.approx(
        cohen_kappa_score(judge, truth, weights="quadratic", labels=[1, 2, 3, 4, 5])
    )
    assert result.alpha.value == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.vstack([judge, truth]).astype(float),
            level_of_measurement="ordinal",
            value_domain=[1, 2, 3, 4, 5],
        )
    )
    assert result.exact.value == pytest.approx(np.mean(judge == truth))
    assert result.bias.value == pytest.approx(np.mean(judge) - np.mean(truth))
    assert result.confusion == confusion_matrix(judge, truth, labels=[1, 2, 3, 4, 5]).tolist()
    assert result.pass_kappa.value == pytest.approx(cohen_kappa_score(judge_pass, human_pass))
    assert result.pass_agreement.value == pytest.approx(np.mean(judge_pass == human_pass))
    assert result.pass_confusion == confusion_matrix(judge_pass, human_pass).tolist()
    for estimate in (result.kappa, result.alpha, result.exact, result.bias, result.pass_kappa):
        assert estimate.low is not None and estimate.high is not None and estimate.value is not None
        assert estimate.low <= estimate.value <= estimate.high


def test_each_replicate_kappa_is_scikit_learns() -> None:
    # The bootstrap computes kappa from each replicate's confusion table: the same figure
    # scikit-learn gives on that replicate's answers.
    rng = np.random.default_rng(5)
    judge, truth = simulated(40, 0.4, rng)
    grid = np.arange(5)
    weights = ((grid[:, None] - grid[None, :]) ** 2).astype(float)
    for _ in range(20):
        pick = rng.integers(0, 40, size=40)
        table = confusion_matrix(judge[pick], truth[pick], labels=[1, 2, 3, 4, 5])
        expected = cohen_kappa_score(
            judge[pick], truth[pick], weights="quadratic", labels=[1, 2, 3, 4, 5]
        )
        assert _kappa_of_tables(table[None].astype(float), weights)[0] == pytest.approx(expected)
        unweighted = _kappa_of_tables(table[None].astype(float), 1.0 - np.eye(5))[0]
        assert unweighted == pytest.approx(
            cohen_kappa_score(judge[pick], truth[pick], labels=[1, 2, 3, 4, 5])
        )


def test_the_interval_is_seeded() -> None:
    judge, truth = simulated(50, 0.3, np.random.default_rng(2))
    first = agreement("overall", pairs(judge, truth), seed=1).kappa
    assert agreement("overall", pairs(judge, truth), seed=1).kappa == first
    assert agreement("overall", pairs(judge, truth), seed=2).kappa != first


def test_labels_of_one_answer_are_resampled_together() -> None:
    # Two people labelling each answer alike double n, not the evidence: the interval stays
    # as wide as one person's labels give.
    judge, truth = simulated(40, 0.4, np.random.default_rng(9))
    one = agreement("overall", pairs(judge, truth))
    twice = agreement("overall", pairs(judge, truth) * 2)
    assert (twice.n, twice.answers) == (80, 40)
    assert twice.kappa.value == pytest.approx(one.kappa.value)
    assert one.kappa.low is not None and one.kappa.high is not None
    assert twice.kappa.low is not None and twice.kappa.high is not None
    width_one = one.kappa.high - one.kappa.low
    assert twice.kappa.high - twice.kappa.low == pytest.approx(width_one, rel=0.25)


@pytest.mark.parametrize(
    ("given", "reason"),
    [([], "no labelled answer"), ([LevelPair(3, 4)], "one labelled answer")],
)
def test_too_few_pairs_give_none_with_why(given: list[LevelPair], reason: str) -> None:
    result = agreement("safety", given, [])
    for estimate in (result.kappa, result.alpha, result.exact, result.bias):
        assert estimate.value is None and estimate.reason == reason
    assert result.pass_kappa.value is None and result.pass_kappa.reason == "no pass/fail label"
    assert result.as_dict()["kappa"] is None


def test_one_category_gives_no_kappa_but_exact_agreement() -> None:
    result = agreement(
        "overall",
        [LevelPair(5, 5, "a"), LevelPair(5, 5, "b"), LevelPair(5, 5, "c")],
        [PassPair(True, True), PassPair(True, True)],
    )
    assert result.kappa.value is None
    assert result.kappa.reason == "judge and people gave one level only"
    assert result.alpha.value is None
    assert result.exact.value == 1.0 and result.bias.value == 0.0
    assert result.pass_kappa.value is None
    assert result.pass_kappa.reason == "judge and people gave one verdict only"
    assert result.pass_agreement.value == 1.0
    assert result.kappa.describe() == "- (judge and people gave one level only)"


def test_as_dict_has_the_contract_keys() -> None:
    judge, truth = simulated(30, 0.3, np.random.default_rng(4))
    data = agreement("overall", pairs(judge, truth)).as_dict()
    for key in ("n", "exact", "kappa", "alpha", "pass_kappa", "bias", "confusion"):
        assert key in data
    assert set(data["intervals"]["kappa"]) == {"value", "low", "high", "reason"}


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, 1),
        (0.25, 2),
        (0.5, 3),
        (0.75, 4),
        (1.0, 5),
        (0.6, 3),
        (0.65, 4),
        (0.125, 2),
        (None, None),
    ],
)
def test_judge_level_of_a_score(score: float | None, level: int | None) -> None:
    assert judge_level(score) == level
