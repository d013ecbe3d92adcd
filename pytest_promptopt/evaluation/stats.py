"""Intervals and the paired comparison of two runs, on top of `scipy.stats` (imported lazily).

- `wilson_interval`: the 95% Wilson score interval of a pass rate (its exact closed form).
- `mean_interval`: a seeded 95% percentile bootstrap interval of a mean (numpy), for summaries.
- `bootstrap_interval`: a seeded 95% bootstrap (BCa) interval of a mean (`scipy.stats.bootstrap`).
- `compare_runs`: a baseline run `a` against a new run `b` on the case ids both share.

The verdict of `compare_runs` (n shared cases, d_i = score_b - score_a per case, the 95% paired
bootstrap interval [lo, hi] of the mean of d, and McNemar's exact test on the cases whose
pass/fail flipped: p = two-sided binomial test of the pass->fail count among all flips, at 1/2):

- `inconclusive` when n < `min_cases` (5): too few pairs for either test;
- `regressed` when hi < -margin (the whole interval is a drop larger than the margin), or when
  McNemar's p < alpha (0.05) with more pass->fail than fail->pass flips *and* hi < 0 (the flips
  are significant and the scores agree that they dropped);
- `improved`, the mirror image: lo > margin, or p < alpha with more fail->pass flips and lo > 0;
- `unchanged` otherwise: no change beyond the margin was detected (not a proof of equality; the
  interval says how large a change could have gone unseen).

Why this rule rarely flags a re-run of the same prompt: each half is a one-sided test at 2.5%,
the margin pushes the first further out, and the second needs two tests to agree. Bootstrap
intervals run a little narrow on few cases, so false alarms are likeliest near 5 shared cases.
Measured on the simulator with judge noise 0.15 and 40 seeds (`benchmarks/baseline_gate_bench.py`):
no false alarm at 12 or 24 cases; a drop of 0.09 in the mean on 24 cases caught 33 times of 40.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal, NamedTuple

from pytest_promptopt.imports import long_lived_imports

Verdict = Literal["regressed", "improved", "unchanged", "inconclusive"]

CONFIDENCE = 0.95
DEFAULT_MARGIN = 0.02
DEFAULT_ALPHA = 0.05
MIN_SHARED_CASES = 5
BOOTSTRAP_SEED = 20240611
BOOTSTRAP_RESAMPLES = 9999
MIN_BOOTSTRAP_RESAMPLES = 1999
BOOTSTRAP_DRAWS = 2_000_000
SUMMARY_MIN_RESAMPLES = 999
SUMMARY_DRAWS = 1_000_000
"""Resamples x values per interval: big suites get fewer resamples (at least 1,999)."""


class CaseOutcome(NamedTuple):
    """One case's result in one run: its score (the mean over samples) and whether it passed."""

    score: float
    passed: bool


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
    verdict: Verdict
    pass_to_fail_cases: tuple[str, ...] = ()
    deltas: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        """One line: verdict, shared cases, mean change with its interval, flips and p."""
        if self.delta_ci is None:
            interval = ""
        else:
            interval = f" (95% CI {self.delta_ci[0]:+.3f} .. {self.delta_ci[1]:+.3f})"
        return (
            f"{self.verdict}: {self.n_shared} shared case{'' if self.n_shared == 1 else 's'}, "
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
    values: Sequence[float], seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """A seeded 95% percentile bootstrap interval of a mean, for summaries (numpy only).

    Descriptive (no decision rests on it), so it skips scipy's import (about a second at the
    end of every session); decisions use `bootstrap_interval` (BCa) through `compare_runs`.
    9,999 resamples up to 100 values, then fewer (at least 999) so that a 2,000-case suite
    costs about 0.1 s; None for fewer than 2 values.
    """
    if len(values) < 2:
        return None
    return _mean_interval(tuple(float(v) for v in values), seed)


@lru_cache(maxsize=32)
def _mean_interval(values: tuple[float, ...], seed: int) -> tuple[float, float]:
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
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def bootstrap_interval(
    values: Sequence[float], seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """A seeded 95% bootstrap (BCa) interval of the mean (None for fewer than 2 values).

    9,999 resamples up to 200 values; above that, as many as keep the work at 2 million
    draws (at least 1,999), so a 2,000-case suite costs a fraction of a second.
    """
    if len(values) < 2:
        return None
    return _bootstrap(tuple(float(v) for v in values), seed)


@lru_cache(maxsize=32)
def _bootstrap(values: tuple[float, ...], seed: int) -> tuple[float, float] | None:
    """`bootstrap_interval` of a tuple (cached: the summary and the reports ask alike)."""
    if max(values) - min(values) == 0:
        return (values[0], values[0])
    with long_lived_imports():
        import numpy as np
        from scipy.stats import bootstrap

    data = np.asarray(values, dtype=float)
    resamples = max(MIN_BOOTSTRAP_RESAMPLES, min(BOOTSTRAP_RESAMPLES, BOOTSTRAP_DRAWS // len(data)))
    for method in ("BCa", "percentile"):  # BCa is undefined on some degenerate resamples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap(
                (data,),
                np.mean,
                confidence_level=CONFIDENCE,
                n_resamples=resamples,
                batch=1000,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return (low, high)
    return None


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
    alpha: float = DEFAULT_ALPHA,
    min_cases: int = MIN_SHARED_CASES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedComparison:
    """Compare run `b` with baseline `a` on the case ids both share (the rule: module docstring)."""
    shared = sorted(set(a) & set(b))
    n = len(shared)
    deltas = [b[k].score - a[k].score for k in shared]
    pass_to_fail = [k for k in shared if a[k].passed and not b[k].passed]
    fail_to_pass = sum(1 for k in shared if not a[k].passed and b[k].passed)
    mean_delta = sum(deltas) / n if n else 0.0
    ci = bootstrap_interval(deltas, seed) if n >= 2 else None
    p = mcnemar_exact(len(pass_to_fail), fail_to_pass)
    verdict: Verdict
    if n < min_cases or ci is None:
        verdict = "inconclusive"
    else:
        low, high = ci
        flips_down = p < alpha and len(pass_to_fail) > fail_to_pass
        flips_up = p < alpha and fail_to_pass > len(pass_to_fail)
        if high < -margin or (flips_down and high < 0):
            verdict = "regressed"
        elif low > margin or (flips_up and low > 0):
            verdict = "improved"
        else:
            verdict = "unchanged"
    return PairedComparison(
        n_shared=n,
        mean_a=sum(a[k].score for k in shared) / n if n else 0.0,
        mean_b=sum(b[k].score for k in shared) / n if n else 0.0,
        mean_delta=mean_delta,
        delta_ci=ci,
        pass_to_fail=len(pass_to_fail),
        fail_to_pass=fail_to_pass,
        mcnemar_p=p,
        margin=margin,
        verdict=verdict,
        pass_to_fail_cases=tuple(pass_to_fail),
        deltas=tuple(zip(shared, deltas, strict=True)),
    )
