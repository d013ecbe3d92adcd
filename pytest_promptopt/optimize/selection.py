"""Noise-aware selection of the top candidates: seeded bootstrap intervals and tie tiers."""

from __future__ import annotations

import math
import random
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

BOOTSTRAP_ROUNDS = 2000
LEVEL = 0.9


@dataclass(frozen=True)
class Scored:
    """A candidate's per-case scores, aligned with every other candidate's case order."""

    prompt_id: int
    scores: tuple[float, ...]
    is_original: bool = False

    @property
    def mean(self) -> float:
        """The mean over cases (0 without cases)."""
        return statistics.fmean(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval of a mean."""

    mean: float
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        """True when the two intervals share any value."""
        return self.low <= other.high and other.low <= self.high


@dataclass
class Selection:
    """The outcome of one selection: chosen ids, the ranking and why."""

    selected: list[int]
    ranking: list[dict[str, Any]]
    tiers: list[list[int]]
    contested: list[int] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for a stage summary."""
        return {
            "selected": self.selected,
            "ranking": self.ranking,
            "tiers": self.tiers,
            "contested": self.contested,
            "reasoning": self.reasoning,
        }


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process for the same parts."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def bootstrap_interval(
    scores: Sequence[float], *, seed: int, rounds: int = BOOTSTRAP_ROUNDS, level: float = LEVEL
) -> Interval:
    """The percentile bootstrap interval of the mean of `scores` (resampling cases)."""
    if not scores:
        return Interval(0.0, 0.0, 0.0)
    mean = statistics.fmean(scores)
    if len(scores) == 1:
        return Interval(mean, mean, mean)
    rng = random.Random(seed)
    n = len(scores)
    means = sorted(statistics.fmean(rng.choices(scores, k=n)) for _ in range(rounds))
    tail = (1.0 - level) / 2
    low = means[int(tail * (rounds - 1))]
    high = means[int((1.0 - tail) * (rounds - 1))]
    return Interval(mean, min(low, mean), max(high, mean))


def _tie_order(c: Scored) -> tuple[bool, float, int]:
    """Order inside a tie: the original first, then the mean as a tie-break only, then age."""
    return (not c.is_original, -c.mean, c.prompt_id)


def tied_with(leader: Scored, other: Scored, intervals: dict[int, Interval], seed: int) -> bool:
    """Whether `other` is within noise of `leader`.

    On the same cases (every candidate's scores are aligned) the comparison is paired: tied
    when the bootstrap interval of the per-case differences reaches zero, which sees a small
    gain that is consistent across cases. Scores of different lengths fall back to whether
    the two candidates' own intervals overlap.
    """
    if other.prompt_id == leader.prompt_id:
        return True
    if len(other.scores) != len(leader.scores) or not other.scores:
        return intervals[other.prompt_id].overlaps(intervals[leader.prompt_id])
    diffs = [a - b for a, b in zip(leader.scores, other.scores, strict=True)]
    return bootstrap_interval(diffs, seed=seed + other.prompt_id).low <= 0


def tiers(
    candidates: Sequence[Scored], intervals: dict[int, Interval], seed: int = 0
) -> list[list[Scored]]:
    """Tiers: the leader plus everyone tied with it (`tied_with`), repeatedly."""
    remaining = sorted(candidates, key=lambda c: (-c.mean, not c.is_original, c.prompt_id))
    groups: list[list[Scored]] = []
    while remaining:
        leader = remaining[0]
        tied = [c for c in remaining if tied_with(leader, c, intervals, seed)]
        groups.append(sorted(tied, key=_tie_order))
        remaining = [c for c in remaining if c not in tied]
    return groups


def select_top(candidates: Sequence[Scored], k: int, *, seed: int) -> Selection:
    """The top `k` candidates, never letting a within-noise difference beat the original."""
    intervals = {c.prompt_id: bootstrap_interval(c.scores, seed=seed) for c in candidates}
    groups = tiers(candidates, intervals, seed)
    ranked = [c for g in groups for c in g]
    tier_of = {c.prompt_id: n for n, g in enumerate(groups) for c in g}
    selected = [c.prompt_id for c in ranked[:k]]
    contested: list[int] = []
    reasoning: list[str] = []
    if 0 < k < len(ranked):
        inside, outside = ranked[k - 1], ranked[k]
        if tier_of[inside.prompt_id] == tier_of[outside.prompt_id]:
            contested = [c.prompt_id for c in groups[tier_of[inside.prompt_id]]]
            reasoning.append(
                f"the cut at {k} falls inside a tie of {len(contested)} candidates "
                f"({', '.join(f'#{i}' for i in contested)}): the paired 90% interval of "
                "their per-case differences reaches zero"
            )
        else:
            reasoning.append(f"the cut at {k} separates tiers: #{outside.prompt_id} is below noise")
    for g in groups:
        if len(g) > 1 and any(c.is_original for c in g):
            reasoning.append(f"the original #{g[0].prompt_id} is tied with the leader of its tier")
    ranking = [
        {
            "prompt_id": c.prompt_id,
            "mean": round(c.mean, 6),
            "low": round(intervals[c.prompt_id].low, 6),
            "high": round(intervals[c.prompt_id].high, 6),
            "tier": tier_of[c.prompt_id],
            "original": c.is_original,
            "cases": len(c.scores),
        }
        for c in ranked
    ]
    return Selection(
        selected=selected,
        ranking=ranking,
        tiers=[[c.prompt_id for c in g] for g in groups],
        contested=contested,
        reasoning=reasoning,
    )


@dataclass(frozen=True)
class PairedGain:
    """The gain of B over A on the cases both were scored on, with its interval and verdict."""

    mean: float
    low: float
    high: float
    cases: int
    level: float

    @property
    def significant(self) -> bool:
        """True when the interval's lower bound is above zero."""
        return self.cases >= MIN_PAIRED_CASES and self.low > 0

    def as_list(self) -> list[float]:
        """[low, mean, high], rounded for a summary."""
        return [round(self.low, 6), round(self.mean, 6), round(self.high, 6)]

    def describe(self) -> str:
        """`+0.08 [+0.02, +0.14] (95%, 6 cases)`."""
        if self.cases < MIN_PAIRED_CASES:
            return f"{self.mean:+.3f} ({_cases(self.cases)}: too few for an interval)"
        return (
            f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
            f"({self.level:.0%}, {_cases(self.cases)})"
        )


#: Fewer paired cases than this give no interval: the gain is never significant.
MIN_PAIRED_CASES = 2


def paired_gain(diffs: Sequence[float], *, seed: int, level: float = LEVEL) -> PairedGain:
    """The interval of the mean paired difference: the wider of a bootstrap and a t interval.

    scipy's BCa bootstrap resamples cases; on few cases it is too narrow (all of three noisy
    differences above zero gives a lower bound above zero one time in eight), so the t
    interval of the same differences (`scipy.stats.ttest_1samp`) bounds it; the reported
    interval spans both.
    """
    n = len(diffs)
    mean = statistics.fmean(diffs) if diffs else 0.0
    if n < MIN_PAIRED_CASES:
        return PairedGain(mean, mean, mean, n, level)
    if max(diffs) - min(diffs) < 1e-12:
        # No spread at all: every case moved by the same amount (deterministic scores).
        return PairedGain(mean, mean, mean, n, level)
    import numpy as np
    from scipy import stats

    data = np.asarray(diffs, dtype=float)
    t_ci = stats.ttest_1samp(data, 0.0).confidence_interval(confidence_level=level)
    boot = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=level,
        n_resamples=BOOTSTRAP_ROUNDS,
        method="BCa" if n >= 3 else "percentile",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    lows = [float(x) for x in (t_ci.low, boot.low) if not math.isnan(float(x))]
    highs = [float(x) for x in (t_ci.high, boot.high) if not math.isnan(float(x))]
    return PairedGain(mean, min(lows, default=mean), max(highs, default=mean), n, level)


def _cases(n: int) -> str:
    """`1 case`, `6 cases`."""
    return f"{n} case" if n == 1 else f"{n} cases"
