"""The one statistics module: every interval and every paired decision of the plugin.

Pure (the standard library; numpy and scipy imported inside the functions that need them, so
importing this module costs nothing), low in the layers so that every layer above may use it:

- `wilson_interval`: the 95% Wilson score interval of a pass rate (its exact closed form).
- `mean_interval`: THE bootstrap: a seeded percentile bootstrap interval of a mean (numpy),
  descriptive (summaries, a candidate's own interval); no decision rests on it.
- `paired_gain`: THE paired interval and decision: the mean per-case difference with its
  Student t interval (`scipy.stats.ttest_1samp`, which keeps its small-sample width), under a
  `DecisionRule`; never significant on fewer cases than the rule's minimum or on differences
  without spread (a zero-width interval is no evidence: `paired_gain([0.0625, 0.0625])` is not
  significant).
- `mcnemar_exact`: THE exact test of pass/fail flips (`scipy.stats.binomtest` at 1/2).
- `compare_runs`: run `b` against run `a` on the case ids both share (the baseline comparison
  of the run-level gate, and each variant against the first): `paired_gain` plus `mcnemar_exact`.

The outcome of `compare_runs` (n shared cases, d_i = score_b - score_a per case, the paired t
interval [lo, hi] of the mean of d at the rule's level, and McNemar's exact p on the cases whose
pass/fail flipped, judged at alpha = 1 - level):

- `inconclusive` when n is under the rule's minimum, or when the interval and the flips are
  both significant in opposite directions;
- `regressed` when hi < -margin (the whole interval is a drop larger than the margin) or when
  McNemar's p < alpha with more pass->fail than fail->pass flips: significant flips are never
  `unchanged` (20 of 20 cases going pass->fail is a regression whatever the scores say, e.g.
  when an older judge scored the baseline on another scale);
- `improved`, the mirror image;
- `unchanged` otherwise: no change beyond the margin was detected (not a proof of equality; the
  interval says how large a change could have gone unseen).

A zero-width interval (every case moved by the same amount) decides nothing; the flips may.
Measured on the simulator with judge noise 0.15 and 40 seeds (`benchmarks/baseline_gate_bench.py`):
no false alarm at 12 or 24 cases; a drop of 0.10 in the mean on 24 cases caught 34 times of 40
(6 of 40 on 12 cases, where the t interval is wider than the BCa bootstrap it replaced).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
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
    """One case's result in one run: its score (the mean over samples) and whether it passed."""

    score: float
    passed: bool


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
    def significant_drop(self) -> bool:
        """The mirror image: the upper bound is below zero."""
        return self.cases >= self.min_cases and self.spread and self.high < 0

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


@dataclass(frozen=True)
class PairedComparison:
    """Run `b` against baseline run `a` on their shared cases: every figure and the verdict."""

    n_shared: int
    mean_a: float
    mean_b: float
    mean_delta: float
    delta_ci: tuple[float, float] | None
    pass_to_fail: int
    fail_to_pass: int
    mcnemar_p: float
    margin: float
    verdict: ComparisonOutcome
    pass_to_fail_cases: tuple[str, ...] = ()
    deltas: tuple[tuple[str, float], ...] = ()
    reason: str = ""

    def describe(self) -> str:
        """One line: verdict, shared cases, mean change with its interval, flips and p."""
        if self.delta_ci is None:
            interval = ""
        else:
            interval = (
                f" ({COMPARISON_CONFIDENCE:.0%} CI "
                f"{self.delta_ci[0]:+.3f} .. {self.delta_ci[1]:+.3f})"
            )
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"{self.verdict}{why}: {self.n_shared} shared case{'' if self.n_shared == 1 else 's'}, "
            f"mean {self.mean_a:.3f} -> "
            f"{self.mean_b:.3f}, change {self.mean_delta:+.3f}{interval}, margin {self.margin}; "
            f"pass->fail {self.pass_to_fail}, fail->pass {self.fail_to_pass}, "
            f"McNemar p={self.mcnemar_p:.3g}"
        )


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


def compare_runs(
    a: Mapping[str, CaseOutcome],
    b: Mapping[str, CaseOutcome],
    *,
    margin: float = DEFAULT_MARGIN,
    decision: RunComparison = "baseline",
) -> PairedComparison:
    """Compare run `b` with `a` on the case ids both share, by the rule of `decision`.

    The outcome rule is in the module docstring; the level and the minimum come from `RULES`.
    """
    shared = sorted(set(a) & set(b))
    n = len(shared)
    deltas = [b[k].score - a[k].score for k in shared]
    pass_to_fail = [k for k in shared if a[k].passed and not b[k].passed]
    fail_to_pass = sum(1 for k in shared if not a[k].passed and b[k].passed)
    rule = RULES[decision]
    gain = paired_gain(deltas, decision)
    ci = (gain.low, gain.high) if n >= 2 else None
    p = mcnemar_exact(len(pass_to_fail), fail_to_pass)
    verdict: ComparisonOutcome
    reason = ""
    alpha = rule.alpha
    if n < rule.min_cases:
        verdict = "inconclusive"
    else:
        flips_down = p < alpha and len(pass_to_fail) > fail_to_pass
        flips_up = p < alpha and fail_to_pass > len(pass_to_fail)
        down = gain.spread and gain.high < -margin
        up = gain.spread and gain.low > margin
        if (down or flips_down) and (up or flips_up):
            verdict, reason = "inconclusive", "the scores and the pass/fail flips disagree"
        elif down or flips_down:
            verdict = "regressed"
            reason = "" if down else "significant pass->fail flips"
        elif up or flips_up:
            verdict = "improved"
            reason = "" if up else "significant fail->pass flips"
        else:
            verdict = "unchanged"
    return PairedComparison(
        n_shared=n,
        mean_a=sum(a[k].score for k in shared) / n if n else 0.0,
        mean_b=sum(b[k].score for k in shared) / n if n else 0.0,
        mean_delta=gain.mean,
        delta_ci=ci,
        pass_to_fail=len(pass_to_fail),
        fail_to_pass=fail_to_pass,
        mcnemar_p=p,
        margin=margin,
        verdict=verdict,
        pass_to_fail_cases=tuple(pass_to_fail),
        deltas=tuple(zip(shared, deltas, strict=True)),
        reason=reason,
    )
