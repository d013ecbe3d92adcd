"""Run comparisons: run `b` against run `a` on their shared cases, with a verdict that means it.

`compare_runs` is the baseline comparison of the run-level gate and each variant against the
first. With n shared cases, d_i = score_b - score_a per case, the paired t interval [lo, hi] of
the mean of d at the rule's level (`stats.paired_gain`) and McNemar's exact p on the flips at
alpha = 1 - level, the scores alone say one of four things:

- *equivalent* when the whole interval lies within [-margin, +margin] (an equivalence test at
  the rule's level, TOST-style: no change larger than the margin is left), or when every case
  scored exactly the same in both runs;
- *down* when the whole interval lies below zero and reaches beyond -margin; *up*, the mirror;
- *undecided* otherwise: the interval holds zero and a change beyond the margin, or it has no
  spread (every case moved by the same non-zero amount: no interval, no evidence).

The flips are significant down (p < alpha, more pass->fail) or up, or not significant. The rule
that combines them, so that a change of threshold alone (which moves flips, never scores) cannot
turn `regressed` into `unchanged` or back:

- down: `regressed`, unless the flips are significant up (then `inconclusive`: they disagree);
- up: `improved`, the mirror;
- undecided: the flips decide (`regressed` / `improved`); without significant flips
  `inconclusive`, naming the change it could not rule out and the smallest it could detect;
- equivalent: `unchanged`; with significant flips `inconclusive` (the scores show no change, the
  pass/fail flips one: the cases sit on the threshold);
- fewer shared cases than the rule's minimum: `inconclusive`.

So identical answers with a CI of -0.122 .. -0.003 are `regressed` whatever the threshold.

Every comparison states its power (`min_detectable_change`): the smallest mean change its test
detects with 80% power at the rule's alpha, two-sided, from the standard deviation of the d_i
and n, solved exactly on the noncentral t distribution (`scipy.stats.nct`). Per category
(`CaseOutcome.category`) it reports the mean change and flips; a category of at least 2 shared
cases that all went pass -> fail is named in the line whatever the verdict.

Clustered cases (`CaseOutcome.cluster`, two or more shared cases in one cluster) are tested by
`stats.clusters`: a cluster-robust t interval at (clusters - 1) degrees of freedom, an exact
sign-flip test of each cluster's net flips instead of McNemar's, the power and the rule's
minimum counted in clusters; the same rule above combines them, and the line states the clusters
and the design effect.

Measured on the simulator over 40 seeds (`benchmarks/baseline_gate_bench.py`): under judge
noise 0.15 a re-run is `regressed` 3 of 40 times on 24 cases (1 on 12), otherwise almost always
`inconclusive` (0.02 is too tight a margin for that noise); a drop of 0.10 is caught 35 of 40
times on 24 cases (detectable change 0.089, predicted power 88%), 10 of 40 on 12, never
`unchanged`. With a deterministic judge: `unchanged` and `regressed` in every seed.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.stats.clusters import (
    ClusterDesign,
    cluster_labels,
    clustered_test,
    is_clustered,
)
from pytest_promptopt.stats.intervals import (
    COMPARISON_CONFIDENCE,
    DEFAULT_MARGIN,
    RULES,
    CaseOutcome,
    ComparisonOutcome,
    PairedGain,
    RunComparison,
    mcnemar_exact,
    paired_gain,
)

POWER = 0.8
"""The power at which every comparison states the smallest change it could detect."""
MIN_FLIPPED_CATEGORY = 2
"""A category is named in the verdict line when at least this many cases all went pass->fail."""


@dataclass(frozen=True)
class CategoryChange:
    """One category's shared cases: the mean score change and the pass/fail flips."""

    category: str
    cases: int
    mean_delta: float
    pass_to_fail: int
    fail_to_pass: int

    @property
    def all_flipped(self) -> bool:
        """True when every shared case of the category (at least 2) went from pass to fail."""
        return self.cases >= MIN_FLIPPED_CATEGORY and self.pass_to_fail == self.cases


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
    min_detectable_change: float | None = None
    """The smallest mean change detectable with 80% power (None: no spread, no estimate)."""
    categories: tuple[CategoryChange, ...] = ()
    clusters: ClusterDesign | None = None
    """The shared cases' clusters (None: every case its own, the plain tests)."""

    @property
    def flipped_categories(self) -> list[CategoryChange]:
        """The categories whose shared cases all went from pass to fail."""
        return [c for c in self.categories if c.all_flipped]

    def category_note(self) -> str:
        """`all 5 cases of category `returns` went pass -> fail` (empty when none did)."""
        return "; ".join(
            f"all {c.cases} cases of category `{c.category}` went pass -> fail"
            for c in self.flipped_categories
        )

    def describe(self) -> str:
        """One line: verdict, shared cases, mean change with its interval, flips, p and power."""
        if self.delta_ci is None:
            interval = ""
        else:
            interval = (
                f" ({COMPARISON_CONFIDENCE:.0%} CI "
                f"{self.delta_ci[0]:+.3f} .. {self.delta_ci[1]:+.3f})"
            )
        why = f" ({self.reason})" if self.reason else ""
        power = ""
        if self.min_detectable_change is not None:
            power = f"; detectable change {self.min_detectable_change:.3f} ({POWER:.0%} power)"
        note = self.category_note()
        flip_test = "McNemar p" if self.clusters is None else "cluster flip test p"
        if self.clusters is not None:
            note = "; ".join(x for x in (self.clusters.describe(), note) if x)
        return (
            f"{self.verdict}{why}: {self.n_shared} shared case{'' if self.n_shared == 1 else 's'}, "
            f"mean {self.mean_a:.3f} -> "
            f"{self.mean_b:.3f}, change {self.mean_delta:+.3f}{interval}, margin {self.margin}; "
            f"pass->fail {self.pass_to_fail}, fail->pass {self.fail_to_pass}, "
            f"{flip_test}={self.mcnemar_p:.3g}{power}" + (f"; {note}" if note else "")
        )


def min_detectable_change(sd: float, n: int, alpha: float, power: float = POWER) -> float | None:
    """The smallest mean change a two-sided paired t test at `alpha` finds with `power`.

    Exact: the noncentrality nc at which P(|T| > t_{1-alpha/2, n-1}) reaches `power` under the
    noncentral t with n-1 degrees of freedom (`scipy.stats.nct`, solved with `brentq`), times
    sd / sqrt(n). Where the noncentral t cannot be evaluated (on 2 or 3 cases) it
    falls back on the usual approximation nc = t_{1-alpha/2, n-1} + t_{power, n-1}, slightly
    smaller on few cases. None when n < 2 or sd is 0 (no spread: no estimate).
    """
    if n < 2 or not sd > 0:
        return None
    with long_lived_imports():
        from scipy.optimize import brentq
        from scipy.stats import nct, t

    df = n - 1
    crit = float(t.ppf(1 - alpha / 2, df))
    approx = crit + float(t.ppf(power, df))

    def shortfall(nc: float) -> float:
        return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc)) - power

    nc = approx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ends = (shortfall(0.0), shortfall(2 * approx))
        if all(math.isfinite(e) for e in ends) and ends[0] < 0 < ends[1]:
            try:
                nc = float(brentq(shortfall, 0.0, 2 * approx, xtol=1e-10))
            except ValueError:  # nct returned NaN inside the bracket
                nc = approx
    return nc * sd / math.sqrt(n)


def category_changes(
    a: Mapping[str, CaseOutcome], b: Mapping[str, CaseOutcome], shared: Sequence[str]
) -> tuple[CategoryChange, ...]:
    """Per category of the shared cases (the current run's category), changes and flips."""
    grouped: dict[str, list[str]] = {}
    for key in shared:
        category = b[key].category or a[key].category
        if category:
            grouped.setdefault(category, []).append(key)
    return tuple(
        CategoryChange(
            category=category,
            cases=len(keys),
            mean_delta=statistics.fmean(b[k].score - a[k].score for k in keys),
            pass_to_fail=sum(1 for k in keys if a[k].passed and not b[k].passed),
            fail_to_pass=sum(1 for k in keys if not a[k].passed and b[k].passed),
        )
        for category, keys in sorted(grouped.items())
    )


def _scores_say(gain: PairedGain, margin: float) -> str:
    """The scores' own finding: `equivalent`, `down`, `up` or `undecided` (module docstring)."""
    if not gain.spread:
        return "equivalent" if gain.cases >= 2 and abs(gain.mean) < 1e-12 else "undecided"
    if gain.low >= -margin and gain.high <= margin:
        return "equivalent"
    if gain.high < 0:
        return "down"
    if gain.low > 0:
        return "up"
    return "undecided"


def _verdict(
    scores: str,
    flips: str,
    gain: PairedGain,
    margin: float,
    mdc: float | None,
    units: str = "shared cases",
) -> tuple[ComparisonOutcome, str]:
    """The verdict and why, from the scores' finding and the flips' (module docstring).

    The plain verdicts (the interval alone decides) need no reason: the line states the
    interval and the margin.
    """
    if scores == "down":
        if flips == "up":
            return "inconclusive", "the scores drop but the pass/fail flips rise"
        return "regressed", ""
    if scores == "up":
        if flips == "down":
            return "inconclusive", "the scores rise but the pass/fail flips drop"
        return "improved", ""
    if scores == "equivalent":
        if flips != "none":
            return "inconclusive", (
                f"the scores show no change beyond the margin {margin:g} but the pass/fail "
                f"flips are significantly {flips}: the cases sit near the threshold"
            )
        return "unchanged", ""
    if flips == "down":
        return "regressed", "significant pass->fail flips"
    if flips == "up":
        return "improved", "significant fail->pass flips"
    if not gain.spread:
        return "inconclusive", (
            f"every case moved by {gain.mean:+.3f}: no spread, so no interval to rule out noise"
        )
    power = ""
    if mdc is not None:
        power = f"; {gain.cases} {units}: a change under {mdc:.2f} cannot be told from noise"
    return "inconclusive", (
        f"could not rule out a drop of up to {max(0.0, -gain.low):.3f} or a rise of up to "
        f"{max(0.0, gain.high):.3f}{power}"
    )


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
    labels = cluster_labels(shared, a, b)
    design, units = None, "shared cases"
    if is_clustered(labels):
        test = clustered_test(shared, labels, a, b, decision)
        gain, p, design, units = test.gain, test.flip_p, test.design, "clusters"
        # A t test on G units with the clustered standard error: sd = se * sqrt(G).
        g_sd = test.se * math.sqrt(gain.cases)
        mdc = min_detectable_change(g_sd, gain.cases, rule.alpha) if gain.spread else None
    else:
        gain = paired_gain(deltas, decision)
        p = mcnemar_exact(len(pass_to_fail), fail_to_pass)
        sd = statistics.stdev(deltas) if n >= 2 else 0.0
        mdc = min_detectable_change(sd, n, rule.alpha) if gain.spread else None
    ci = (gain.low, gain.high) if n >= 2 else None
    verdict: ComparisonOutcome
    if gain.cases < rule.min_cases:
        verdict = "inconclusive"
        reason = f"fewer than the {rule.min_cases} {units} this comparison needs"
    else:
        flips = "none"
        if p < rule.alpha and len(pass_to_fail) != fail_to_pass:
            flips = "down" if len(pass_to_fail) > fail_to_pass else "up"
        verdict, reason = _verdict(_scores_say(gain, margin), flips, gain, margin, mdc, units)
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
        min_detectable_change=mdc,
        categories=category_changes(a, b, shared),
        clusters=design,
    )
