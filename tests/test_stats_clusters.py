"""Clustered paired tests (`stats.clusters`) and the plan's arithmetic (`stats.plan`)."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from scipy.stats import binomtest, permutation_test, ttest_1samp

from pytest_promptopt.stats import (
    RULES,
    CaseOutcome,
    compare_runs,
    design_effect,
    min_detectable_change,
    paired_gain,
    sign_flip_p,
)
from pytest_promptopt.stats.clusters import clustered_gain, robust_se
from pytest_promptopt.stats.plan import Spread, cases_needed, plan, samples_needed

ALPHA = RULES["baseline"].alpha


def test_design_effect_of_identical_cases_in_a_cluster_is_n_minus_1_over_g_minus_1() -> None:
    rng = random.Random(1)
    means = [rng.gauss(0, 0.1) for _ in range(10)]
    deltas = [m for m in means for _ in range(4)]  # 10 clusters of 4 identical changes
    labels = [f"g{g}" for g in range(10) for _ in range(4)]
    assert design_effect(deltas, labels) == pytest.approx(39 / 9)
    assert design_effect(deltas, [str(i) for i in range(40)]) == pytest.approx(1.0)
    assert design_effect([0.1] * 5, list("abcde")) is None  # no spread


def test_equal_clusters_give_the_t_interval_of_the_cluster_means() -> None:
    rng = random.Random(2)
    deltas = [rng.gauss(0.02, 0.1) for _ in range(30)]
    labels = [f"g{i // 3}" for i in range(30)]
    means = [statistics.fmean(deltas[i : i + 3]) for i in range(0, 30, 3)]
    gain = clustered_gain(deltas, labels, "baseline")
    ci = ttest_1samp(means, 0.0).confidence_interval(0.95)
    assert (gain.low, gain.high) == pytest.approx((ci.low, ci.high))
    assert gain.cases == 10
    singletons = clustered_gain(deltas, [str(i) for i in range(30)], "baseline")
    plain = paired_gain(deltas, "baseline")
    assert (singletons.low, singletons.high) == pytest.approx((plain.low, plain.high))
    assert robust_se(deltas, [str(i) for i in range(30)]) == pytest.approx(
        statistics.stdev(deltas) / math.sqrt(30)
    )


@pytest.mark.parametrize("nets", [[1] * 7 + [-1] * 2, [1, 1, 1, 1, 1, 1], [1, -1], [1] * 12])
def test_the_sign_flip_test_of_single_cases_is_mcnemars_exact_test(nets: list[int]) -> None:
    up = sum(1 for x in nets if x > 0)
    assert sign_flip_p(nets) == pytest.approx(binomtest(up, len(nets), 0.5).pvalue)


def test_the_sign_flip_test_matches_scipys_exact_permutation_test() -> None:
    nets = [3, 2, -1, 4, 0, 2, -2, 1, 3]
    exact = permutation_test(
        ([float(x) for x in nets],),
        lambda x, axis: abs(x.sum(axis=axis)),
        permutation_type="samples",
        n_resamples=math.inf,
        alternative="greater",
    )
    assert sign_flip_p(nets) == pytest.approx(exact.pvalue)
    assert sign_flip_p([0, 0]) == 1.0


def _clustered_runs(seed: int, shared: float = 0.8, noise: float = 0.15) -> tuple[dict, dict]:
    """Two runs of one prompt: 10 clusters of 4 cases sharing `shared` of the noise variance."""
    rng = random.Random(seed)
    means = {f"c{g}-{j}": rng.uniform(0.6, 0.9) for g in range(10) for j in range(4)}

    def run() -> dict[str, CaseOutcome]:
        common = [rng.gauss(0, noise * math.sqrt(shared)) for _ in range(10)]
        out = {}
        for key, mu in means.items():
            g = int(key[1:].split("-")[0])
            score = mu + common[g] + rng.gauss(0, noise * math.sqrt(1 - shared))
            out[key] = CaseOutcome(score, score >= 0.7, cluster=f"g{g}")
        return out

    return run(), run()


def test_the_clustered_gate_keeps_its_false_alarms_where_the_plain_one_does_not() -> None:
    seeds = 300
    clustered = plain = 0
    for seed in range(seeds):
        a, b = _clustered_runs(seed)
        clustered += compare_runs(a, b).verdict in ("regressed", "improved")
        unlabelled = [{k: v._replace(cluster="") for k, v in run.items()} for run in (a, b)]
        plain += compare_runs(*unlabelled).verdict in ("regressed", "improved")
    assert clustered / seeds <= 0.08  # two-sided, both tests: about 5%
    assert plain / seeds > 0.2  # 40 correlated cases counted as 40 independent ones


def test_a_clustered_comparison_states_its_clusters_and_counts_them_for_the_minimum() -> None:
    a, b = _clustered_runs(7)
    result = compare_runs(a, b)
    assert result.clusters is not None and result.clusters.clusters == 10
    line = result.describe()
    assert "10 clusters of 40 cases, design effect" in line and "cluster flip test p=" in line
    few = {k: v._replace(cluster=f"g{int(k[1:].split('-')[0]) % 4}") for k, v in a.items()}
    few_b = {k: v._replace(cluster=f"g{int(k[1:].split('-')[0]) % 4}") for k, v in b.items()}
    small = compare_runs(few, few_b)
    assert small.verdict == "inconclusive"
    assert small.reason == "fewer than the 5 clusters this comparison needs"


def test_clustered_power_is_that_of_the_clusters() -> None:
    a, b = _clustered_runs(3)
    clustered = compare_runs(a, b)
    plain = compare_runs(*[{k: v._replace(cluster="") for k, v in r.items()} for r in (a, b)])
    assert clustered.min_detectable_change is not None and plain.min_detectable_change is not None
    assert clustered.min_detectable_change > 1.5 * plain.min_detectable_change


@pytest.mark.parametrize("sd,detect", [(0.14, 0.05), (0.2, 0.1), (0.05, 0.02), (0.3, 0.04)])
def test_cases_needed_inverts_min_detectable_change(sd: float, detect: float) -> None:
    n = cases_needed(sd, detect, ALPHA)
    assert n is not None
    assert (min_detectable_change(sd, n, ALPHA) or 1.0) <= detect
    assert (min_detectable_change(sd, n - 1, ALPHA) or 0.0) > detect or n == 2


def test_samples_needed_and_the_plan_line() -> None:
    spread = Spread(sd=0.14)  # one sample per case, all of the spread is noise
    k = samples_needed(spread, 24, 0.05, ALPHA)
    assert k is not None and k > 1
    assert (min_detectable_change(0.14 / math.sqrt(k), 24, ALPHA) or 1.0) <= 0.05
    assert (min_detectable_change(0.14 / math.sqrt(k - 1), 24, ALPHA) or 0.0) > 0.05
    found = plan(spread, 24, 0.05, ALPHA)
    assert found.detects == min_detectable_change(0.14, 24, ALPHA)
    assert found.describe() == (
        f"24 cases, 1 sample per case: detects {found.detects:.3f} (80% power, alpha 0.05); "
        f"for 0.05 you need {found.cases_needed} cases, or {k} samples per case on the 24 cases"
    )
    # Cases that really moved between the runs: more samples cannot remove that part.
    moved = Spread(sd=0.14, samples=2, within_sd=0.03)
    assert samples_needed(moved, 24, 0.05, ALPHA) is None
    assert "are not enough" in plan(moved, 24, 0.05, ALPHA).describe()
    assert Spread(sd=0.1, design_effect=4.0).sd_at(1) == pytest.approx(0.2)
