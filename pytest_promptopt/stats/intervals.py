"""Intervals and paired tests: every interval of the plugin and the rule of every decision.

Pure (the standard library; numpy and scipy imported inside the functions that need them, so
importing this module costs nothing):

- `wilson_interval`: the 95% Wilson score interval of a pass rate (its exact closed form).
- `mean_interval`: THE bootstrap: a seeded percentile bootstrap interval of a mean (numpy),
  descriptive (summaries, a candidate's own interval); no decision rests on it.
- `paired_gain`: THE paired interval and decision: the mean per-case difference with its
  Student t interval (`scipy.stats.ttest_1samp`, which keeps its small-sample width), under a
  `DecisionRule`; never significant on fewer cases than the rule's minimum or on differences
  without spread (a zero-width interval is no evidence: `paired_gain([0.0625, 0.0625])` is not
  significant).
- `mcnemar_exact`: THE exact test of pass/fail flips (`scipy.stats.binomtest` at 1/2).

Run comparisons (`compare_runs`) are in `stats.compare`.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal, NamedTuple

from pytest_promptopt.imports import long_lived_imports

ComparisonOutcome = Literal["regressed", "improved", "unchanged", "inconclusive"]
Decision = Literal["tie", "refinement", "apply", "baseline", "variant"]
RunComparison = Literal["baseline", "variant"]
"""The decisions `compare_runs` makes: a run against its baseline, a variant against the first."""

#: Descriptive intervals (summaries, reports): two-sided 95%.
CONFIDENCE = 0.95
#: The optimizer's two-sided level: a lower bound above zero is significant at one-sided 5%.
OPTIMIZER_CONFIDENCE = 0.90
#: Run comparisons (baseline, variants): two-sided 95%, McNemar's test at alpha 5%.
COMPARISON_CONFIDENCE = 0.95
DEFAULT_MARGIN = 0.02
BOOTSTRAP_SEED = 20240611
BOOTSTRAP_RESAMPLES = 9999
SUMMARY_MIN_RESAMPLES = 999
SUMMARY_DRAWS = 1_000_000
"""Resamples x values per interval: big suites get fewer resamples (at least 999)."""


@dataclass(frozen=True)
class DecisionRule:
    """One kind of decision: what it decides, its two-sided level and the fewest paired cases."""

    decision: Decision
    question: str
    level: float
    min_cases: int

    @property
    def alpha(self) -> float:
        """The significance level of a two-sided test at this rule's level (0.05 at 95%)."""
        return round(1 - self.level, 12)


RULES: dict[Decision, DecisionRule] = {
    rule.decision: rule
    for rule in (
        DecisionRule("tie", "does a candidate beat another", OPTIMIZER_CONFIDENCE, 3),
        DecisionRule("refinement", "keep a child over its parent", OPTIMIZER_CONFIDENCE, 3),
        DecisionRule("apply", "apply the best over the original", OPTIMIZER_CONFIDENCE, 3),
        DecisionRule("baseline", "did a run regress from its baseline", COMPARISON_CONFIDENCE, 5),
        DecisionRule("variant", "is a variant worse than the first", COMPARISON_CONFIDENCE, 5),
    )
}
"""The rule of every decision, in one table; why these levels and counts:

The t interval exists from 2 cases, but on 2 it has one degree of freedom and rests on a single
difference of differences: two cases that happen to agree (judge scores come in steps, so they
often do) would make any gain significant (issue 21). Three cases is the least with two
degrees of freedom, and it is the optimizer's minimum: its decisions are conservative when they
fail (a tie keeps the original in front, a child not kept leaves its parent, an apply that is
not significant keeps the original, and the apply decision is made on confirmation cases the
search never saw), and they must fit a suite of 6 given cases (3 confirmation, 2 feedback and 1
selection case, `optimize.split`). Their 90% two-sided level is one-sided 5% for a gain.

A run comparison fails a CI session (baseline) or flags a variant for someone who may have
changed nothing, and it tests twice (the t interval and McNemar's flips), so it asks more: 95%
and 5 shared cases. Under 5 the 95% t quantile is 3.18 (4 cases) or 4.30 (3 cases), so the
interval's half-width is 1.6 or 2.5 standard deviations of the per-case change, and the only
drops it could call significant are the near-constant ones that tied judge scores give by
chance; at 5 it is 1.24. McNemar's exact test needs at least 6 flips, all one way, to reach
p < 0.05, so on fewer cases only the interval can decide.
"""


class CaseOutcome(NamedTuple):
    """One case's result in one run: its score (the mean over samples), pass, its category and
    its cluster ("": its own; `stats.clusters`)."""

    score: float
    passed: bool
    category: str = ""
    cluster: str = ""


@dataclass(frozen=True)
class PairedGain:
    """The mean paired difference (B minus A per case), its t interval and its decision."""

    mean: float
    low: float
    high: float
    cases: int
    level: float
    min_cases: int
    spread: bool = True

    @property
    def significant(self) -> bool:
        """True when enough cases differ with some spread and the lower bound is above zero."""
        return self.cases >= self.min_cases and self.spread and self.low > 0

    @property
    def why_not(self) -> str | None:
        """Why this gain cannot be significant whatever its mean (None: it can)."""
        if self.cases < self.min_cases:
            return f"{self.cases} cases: fewer than the {self.min_cases} this decision needs"
        if not self.spread:
            return "every case differs by the same amount: no spread, so no interval"
        return None

    def as_list(self) -> list[float]:
        """[low, mean, high], rounded for a summary."""
        return [round(self.low, 6), round(self.mean, 6), round(self.high, 6)]

    def describe(self) -> str:
        """`+0.080 [+0.020, +0.140] (90%, 6 cases)`, or the mean and why there is no interval."""
        why = self.why_not
        if why is not None:
            return f"{self.mean:+.3f} ({why})"
        return (
            f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
            f"({self.level:.0%}, {self.cases} cases)"
        )


def paired_gain(diffs: Sequence[float], decision: Decision = "apply") -> PairedGain:
    """The t interval of the mean paired difference, judged by the rule of `decision`.

    Student's t (`scipy.stats.ttest_1samp`) rather than a bootstrap: on few cases a bootstrap
    is too narrow (two values give a bootstrap interval of zero width), the t interval keeps
    the width few cases deserve. Fewer cases than the rule's minimum, or differences without
    spread, give the degenerate interval [mean, mean], which is never significant.
    """
    rule = RULES[decision]
    conf = rule.level
    n = len(diffs)
    mean = statistics.fmean(diffs) if diffs else 0.0
    if n < 2 or max(diffs) - min(diffs) < 1e-12:
        return PairedGain(mean, mean, mean, n, conf, rule.min_cases, spread=False)
    with long_lived_imports():
        import numpy as np
        from scipy.stats import ttest_1samp

    ci = ttest_1samp(np.asarray(diffs, dtype=float), 0.0).confidence_interval(confidence_level=conf)
    low, high = float(ci.low), float(ci.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return PairedGain(mean, mean, mean, n, conf, rule.min_cases, spread=False)
    return PairedGain(mean, low, high, n, conf, rule.min_cases)


def wilson_interval(passed: int, total: int) -> tuple[float, float] | None:
    """The 95% Wilson score interval of `passed` out of `total` (None when total is 0).

    The closed form (no continuity correction, as scipy's `proportion_ci(method="wilson")`),
    with z from the standard library's normal quantile: exact, and no scipy import at the end
    of every session (tests check it against published values and against scipy).
    """
    if total <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(
    values: Sequence[float], seed: int = BOOTSTRAP_SEED, level: float = CONFIDENCE
) -> tuple[float, float] | None:
    """The one bootstrap: a seeded percentile bootstrap interval of a mean (numpy only).

    Descriptive (no decision rests on it: decisions use `paired_gain`), so it skips scipy's
    import (about a second at the end of every session). 9,999 resamples up to 100 values,
    then fewer (at least 999) so that a 2,000-case suite costs about 0.1 s; None for fewer
    than 2 values.
    """
    if len(values) < 2:
        return None
    return _mean_interval(tuple(float(v) for v in values), seed, level)


@lru_cache(maxsize=64)
def _mean_interval(values: tuple[float, ...], seed: int, level: float) -> tuple[float, float]:
    """`mean_interval` of a tuple (cached: the terminal summary and the reports ask alike)."""
    if max(values) - min(values) == 0:
        return (values[0], values[0])
    with long_lived_imports():
        import numpy as np

    data = np.asarray(values, dtype=float)
    n = len(data)
    resamples = max(SUMMARY_MIN_RESAMPLES, min(BOOTSTRAP_RESAMPLES, SUMMARY_DRAWS // n))
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            data[rng.integers(0, n, size=(min(1000, resamples - start), n))].mean(axis=1)
            for start in range(0, resamples, 1000)
        ]
    )
    tail = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """McNemar's exact p-value: a two-sided binomial test of the flips at 1/2 (1 without flips)."""
    flips = pass_to_fail + fail_to_pass
    if flips == 0:
        return 1.0
    with long_lived_imports():
        from scipy.stats import binomtest

    return float(binomtest(pass_to_fail, flips, 0.5).pvalue)
