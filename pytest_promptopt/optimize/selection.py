"""Noise-aware selection of the top candidates: tie tiers on paired tests (`stats`)."""

from __future__ import annotations

import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt.stats import RULES, mean_interval, paired_gain

TIE = RULES["tie"]
"""The rule that separates tiers (and the level of a candidate's own, descriptive interval)."""


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


def candidate_interval(scores: Sequence[float], *, seed: int) -> Interval:
    """A candidate's own interval of its mean (`stats.mean_interval`, at the `tie` rule's level)."""
    if not scores:
        return Interval(0.0, 0.0, 0.0)
    mean = statistics.fmean(scores)
    ci = mean_interval(scores, seed, TIE.level)
    if ci is None:
        return Interval(mean, mean, mean)
    return Interval(mean, min(ci[0], mean), max(ci[1], mean))


def _tie_order(c: Scored) -> tuple[bool, float, int]:
    """Order inside a tie: the original first, then the mean as a tie-break only, then age."""
    return (not c.is_original, -c.mean, c.prompt_id)


def tied_with(leader: Scored, other: Scored, intervals: dict[int, Interval]) -> bool:
    """Whether `other` is within noise of `leader`.

    On the same cases (every candidate's scores are aligned) the comparison is paired: tied
    unless the leader's paired gain over `other` is significant by the `tie` rule of
    `stats` (a t interval; fewer than its minimum of cases, or no spread, is a
    tie), which sees a small gain that is consistent across cases. Scores of different
    lengths fall back to whether the two candidates' own intervals overlap.
    """
    if other.prompt_id == leader.prompt_id:
        return True
    if len(other.scores) != len(leader.scores) or not other.scores:
        return intervals[other.prompt_id].overlaps(intervals[leader.prompt_id])
    diffs = [a - b for a, b in zip(leader.scores, other.scores, strict=True)]
    return not paired_gain(diffs, "tie").significant


def tiers(candidates: Sequence[Scored], intervals: dict[int, Interval]) -> list[list[Scored]]:
    """Tiers: the leader plus everyone tied with it (`tied_with`), repeatedly."""
    remaining = sorted(candidates, key=lambda c: (-c.mean, not c.is_original, c.prompt_id))
    groups: list[list[Scored]] = []
    while remaining:
        leader = remaining[0]
        tied = [c for c in remaining if tied_with(leader, c, intervals)]
        groups.append(sorted(tied, key=_tie_order))
        remaining = [c for c in remaining if c not in tied]
    return groups


def select_top(candidates: Sequence[Scored], k: int, *, seed: int) -> Selection:
    """The top `k` candidates, never letting a within-noise difference beat the original."""
    intervals = {c.prompt_id: candidate_interval(c.scores, seed=seed) for c in candidates}
    groups = tiers(candidates, intervals)
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
                f"({', '.join(f'#{i}' for i in contested)}): no paired gain between them is "
                f"significant ({TIE.level:.0%} t interval, at least {TIE.min_cases} cases)"
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
