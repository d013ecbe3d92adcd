"""Clustered paired tests: cases that share a cluster are one piece of evidence, not several.

Cases made from one template, one document or one topic tend to move together between two
runs; a test that counts them as independent is too sure of itself (false alarms well above
its alpha). `stats.compare.compare_runs` uses this module whenever two or more shared cases
share a cluster (`CaseOutcome.cluster`; an empty cluster is the case's own). The rule:

- The unit is the cluster: with G clusters of the n shared cases, every count that gates a
  decision (the rule's minimum, the degrees of freedom, the power) is G, not n.
- The score interval: the mean per-case change d (every case weighs the same, as without
  clusters) with its cluster-robust (CR1) standard error
  sqrt(G/(G-1) * sum_g (sum_{i in g} (d_i - d))^2) / n and Student's t at G-1 degrees of
  freedom. With equal cluster sizes it is exactly the t interval of the G cluster means; with
  every cluster one case it is the plain paired t interval.
- The flip test: the exact sign-flip (randomization) test of each cluster's net flips
  x_g = (pass->fail) - (fail->pass): with no change a cluster's net flip is as likely negated,
  so p = P(|sum_g e_g x_g| >= |sum_g x_g|) over the 2^G sign patterns e (computed exactly by
  convolution). With every cluster one case it is McNemar's exact test.
- The design effect: the clustered variance of the mean over the naive one (s^2 / n); the
  effective number of cases is n / design effect. The smallest detectable change
  (`min_detectable_change`) is that of a t test on G units with the clustered standard error.

Measured on the simulator and on synthetic clustered runs (`benchmarks/cluster_bench.py`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.stats.intervals import RULES, CaseOutcome, Decision, PairedGain

OWN = "\x00"
"""The prefix of the cluster a case without one forms on its own (no cluster name has it)."""


@dataclass(frozen=True)
class ClusterDesign:
    """The clusters of a comparison's shared cases and how much they widen its interval."""

    cases: int
    clusters: int
    largest: int
    design_effect: float | None = None
    """Clustered variance of the mean change over the naive one (None: no spread)."""

    @property
    def effective_cases(self) -> float | None:
        """The number of independent cases the clustered cases are worth (n / design effect)."""
        if self.design_effect is None or self.design_effect <= 0:
            return None
        return self.cases / self.design_effect

    def describe(self) -> str:
        """`10 clusters of 40 cases, design effect 3.20 (worth 12.5 independent cases)`."""
        text = f"{self.clusters} clusters of {self.cases} cases"
        if self.design_effect is None:
            return text
        worth = self.effective_cases
        shown = "" if worth is None else f" (worth {worth:.1f} independent cases)"
        return f"{text}, design effect {self.design_effect:.2f}{shown}"


@dataclass(frozen=True)
class ClusteredTest:
    """The clustered paired test of a comparison: interval, flip p-value, power, design."""

    gain: PairedGain
    flip_p: float
    se: float
    """The cluster-robust standard error of the mean change (its power rests on it)."""
    design: ClusterDesign


def cluster_labels(
    keys: Sequence[str], a: Mapping[str, CaseOutcome], b: Mapping[str, CaseOutcome]
) -> list[str]:
    """Each shared case's cluster: the current run's, else the baseline's, else its own."""
    return [b[k].cluster or a[k].cluster or f"{OWN}{k}" for k in keys]


def is_clustered(labels: Sequence[str]) -> bool:
    """True when at least two cases share a cluster (else every test is the plain one)."""
    return len(set(labels)) < len(labels)


def _groups(values: Sequence[float], labels: Sequence[str]) -> dict[str, list[float]]:
    """The values grouped by cluster, in the order clusters are first seen."""
    grouped: dict[str, list[float]] = {}
    for value, label in zip(values, labels, strict=True):
        grouped.setdefault(label, []).append(value)
    return grouped


def robust_se(deltas: Sequence[float], labels: Sequence[str]) -> float:
    """The cluster-robust (CR1) standard error of the mean of `deltas` (0 without spread)."""
    n = len(deltas)
    grouped = _groups(deltas, labels)
    g = len(grouped)
    if n < 2 or g < 2:
        return 0.0
    mean = statistics.fmean(deltas)
    scores = sum(sum(v - mean for v in values) ** 2 for values in grouped.values())
    return math.sqrt(g / (g - 1) * scores) / n


def design_effect(deltas: Sequence[float], labels: Sequence[str]) -> float | None:
    """The clustered variance of the mean over the naive s^2/n (None without spread)."""
    if len(deltas) < 2:
        return None
    naive = statistics.variance(deltas) / len(deltas)
    if naive <= 1e-24:
        return None
    return robust_se(deltas, labels) ** 2 / naive


def cluster_design(deltas: Sequence[float], labels: Sequence[str]) -> ClusterDesign:
    """The clusters of `labels` with the design effect of `deltas` on them."""
    sizes = [len(v) for v in _groups(deltas, labels).values()]
    return ClusterDesign(
        cases=len(deltas),
        clusters=len(sizes),
        largest=max(sizes, default=0),
        design_effect=design_effect(deltas, labels),
    )


def clustered_gain(
    deltas: Sequence[float], labels: Sequence[str], decision: Decision = "baseline"
) -> PairedGain:
    """The mean change with its cluster-robust t interval at G-1 degrees of freedom.

    Its `cases` are the clusters (the rule's minimum counts clusters); no spread between the
    clusters gives the degenerate interval [mean, mean], which is never significant.
    """
    rule = RULES[decision]
    mean = statistics.fmean(deltas) if deltas else 0.0
    g = len(set(labels))
    se = robust_se(deltas, labels)
    if g < 2 or se <= 1e-12:
        return PairedGain(mean, mean, mean, g, rule.level, rule.min_cases, spread=False)
    with long_lived_imports():
        from scipy.stats import t

    half = float(t.ppf(0.5 + rule.level / 2, g - 1)) * se
    return PairedGain(mean, mean - half, mean + half, g, rule.level, rule.min_cases)


def net_flips(
    keys: Sequence[str],
    labels: Sequence[str],
    a: Mapping[str, CaseOutcome],
    b: Mapping[str, CaseOutcome],
) -> list[int]:
    """Per cluster: its cases that went pass->fail minus those that went fail->pass."""
    flips = [
        int(a[k].passed and not b[k].passed) - int(b[k].passed and not a[k].passed) for k in keys
    ]
    return [sum(int(v) for v in values) for values in _groups(flips, labels).values()]


def sign_flip_p(nets: Sequence[int]) -> float:
    """The exact two-sided sign-flip p-value of the clusters' net flips (1 without flips).

    Each non-zero net flip x_g is +|x_g| or -|x_g| with probability 1/2; the distribution of
    their sum is built by convolution, so the p-value is exact for any number of clusters.
    """
    sizes = [abs(int(x)) for x in nets if x]
    if not sizes:
        return 1.0
    with long_lived_imports():
        import numpy as np

    total = sum(sizes)
    probs = np.zeros(2 * total + 1)
    probs[total] = 1.0
    for size in sizes:
        moved = np.zeros_like(probs)
        moved[size:] += probs[:-size] / 2
        moved[:-size] += probs[size:] / 2
        probs = moved
    observed = abs(sum(int(x) for x in nets))
    sums = np.abs(np.arange(-total, total + 1))
    return float(min(1.0, probs[sums >= observed].sum()))


def clustered_test(
    keys: Sequence[str],
    labels: Sequence[str],
    a: Mapping[str, CaseOutcome],
    b: Mapping[str, CaseOutcome],
    decision: Decision = "baseline",
) -> ClusteredTest:
    """The clustered interval, flip test, standard error and design of `b` against `a`."""
    deltas = [b[k].score - a[k].score for k in keys]
    return ClusteredTest(
        gain=clustered_gain(deltas, labels, decision),
        flip_p=sign_flip_p(net_flips(keys, labels, a, b)),
        se=robust_se(deltas, labels),
        design=cluster_design(deltas, labels),
    )
