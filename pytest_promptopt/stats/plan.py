"""How many cases and samples a suite needs to detect a change: `min_detectable_change` inverted.

The baseline gate detects a mean change D with 80% power at its alpha when
`min_detectable_change(sd, n, alpha) <= D`, sd being the standard deviation of the per-case
score changes between two runs. A suite's history gives sd (`reporting.suite_history`): the per-case
changes between its consecutive runs (centred per pair, so a real change of the mean between
two runs is not counted as noise), and, when its cases took several samples, the spread of
the samples within a case, sigma_w. The model of the spread at k samples per case:

    sd(k)^2 = tau^2 + 2 * sigma_w^2 / k,   tau^2 = max(0, sd^2 - 2 * sigma_w^2 / k_now)

tau is the part more samples cannot remove (cases that really moved between the runs). With no
sample spread in the history, the whole spread is taken as sampling and judge noise
(sd(k)^2 = sd^2 * k_now / k: what samples could buy at best); with no pair of runs, a re-run's
spread is the samples' alone (sd^2 = 2 * sigma_w^2 / k_now). Clusters multiply the variance
by the design effect. The cases needed are the least n with min_detectable_change <= D (solved
with `scipy.optimize.brentq` on a continuous n, then rounded up); the samples needed, the least
k up to MAX_SAMPLES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.stats.compare import POWER, min_detectable_change

MAX_SAMPLES = 50
"""The most samples per case a suite may take (`repeats` allows 50)."""
MAX_CASES = 1_000_000
"""Beyond this many cases a change is called undetectable in practice."""


@dataclass(frozen=True)
class Spread:
    """What a suite's history says about the spread of its per-case changes."""

    sd: float
    """The standard deviation of the per-case change at `samples` samples per case."""
    samples: int = 1
    within_sd: float | None = None
    """The spread of a case's samples within a run (None: the history has no repeats)."""
    design_effect: float = 1.0

    def sd_at(self, samples: int) -> float:
        """The per-case change's standard deviation at `samples` samples per case (clusters in)."""
        if self.within_sd is None:
            variance = self.sd**2 * self.samples / samples
        else:
            noise = 2 * self.within_sd**2
            case_part = max(0.0, self.sd**2 - noise / self.samples)
            variance = case_part + noise / samples
        return math.sqrt(max(0.0, variance) * max(self.design_effect, 1e-12))


def _mdc(sd: float, n: float, alpha: float, power: float) -> float:
    """min_detectable_change on a continuous n (inf where it gives none)."""
    found = min_detectable_change(sd, n, alpha, power)  # type: ignore[arg-type]
    return math.inf if found is None else found


def cases_needed(sd: float, detect: float, alpha: float, power: float = POWER) -> int | None:
    """The fewest cases whose paired test detects `detect` with `power` (None: over MAX_CASES)."""
    if not sd > 0:
        return 2
    if _mdc(sd, MAX_CASES, alpha, power) > detect:
        return None
    if _mdc(sd, 2, alpha, power) <= detect:
        return 2
    with long_lived_imports():
        from scipy.optimize import brentq

    root = float(brentq(lambda n: _mdc(sd, n, alpha, power) - detect, 2.0, MAX_CASES))
    n = max(2, math.ceil(root - 1e-9))
    while _mdc(sd, n, alpha, power) > detect:  # rounding: the least integer that reaches it
        n += 1
    return n


def samples_needed(
    spread: Spread, cases: int, detect: float, alpha: float, power: float = POWER
) -> int | None:
    """The fewest samples per case (up to MAX_SAMPLES) at which `cases` detect `detect`."""
    for k in range(1, MAX_SAMPLES + 1):
        if _mdc(spread.sd_at(k), cases, alpha, power) <= detect:
            return k
    return None


@dataclass(frozen=True)
class Plan:
    """What a suite detects now and what it needs to detect `detect`."""

    cases: int
    samples: int
    detect: float
    alpha: float
    power: float
    detects: float | None
    cases_needed: int | None
    samples_needed: int | None

    def describe(self) -> str:
        """`24 cases: detects 0.089; for 0.050 you need 76 cases, or 3 samples per case`."""
        per = f"{self.samples} sample{'s' * (self.samples != 1)} per case"
        now = "nothing (no spread)" if self.detects is None else f"{self.detects:.3f}"
        head = (
            f"{self.cases} cases, {per}: detects {now} ({self.power:.0%} power, "
            f"alpha {self.alpha:g})"
        )
        if self.detects is not None and self.detects <= self.detect:
            return f"{head}; it already detects {self.detect:g}"
        if self.cases_needed is None:
            more = f"no number of cases detects {self.detect:g} at this spread"
        else:
            more = f"for {self.detect:g} you need {self.cases_needed} cases"
        if self.samples_needed is not None and self.samples_needed > self.samples:
            more += f", or {self.samples_needed} samples per case on the {self.cases} cases"
        else:
            more += (
                f" (up to {MAX_SAMPLES} samples per case are not enough on {self.cases} cases: "
                "the cases themselves moved between the runs)"
            )
        return f"{head}; {more}"


def plan(spread: Spread, cases: int, detect: float, alpha: float, power: float = POWER) -> Plan:
    """The plan for a suite of `cases` cases whose history gave `spread`."""
    sd = spread.sd_at(spread.samples)
    return Plan(
        cases=cases,
        samples=spread.samples,
        detect=detect,
        alpha=alpha,
        power=power,
        detects=min_detectable_change(sd, cases, alpha, power),
        cases_needed=cases_needed(sd, detect, alpha, power),
        samples_needed=samples_needed(spread, cases, detect, alpha, power),
    )
