"""The held-out split: given cases divided, seeded and stratified by category, into two parts.

Prompt writers (prompt and case generators, analyst, refiner) only ever see the `feedback`
part; the `holdout` part chooses and gates the best prompt. A suite needs MIN_CASES given
cases before any can be held out (one at least in each part from then on).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

FEEDBACK = "feedback"
HOLDOUT = "holdout"
MIN_CASES = 4


@dataclass(frozen=True)
class Split:
    """Which given case keys feed the writers and which are held out, and a note on why."""

    feedback: tuple[str, ...]
    holdout: tuple[str, ...]
    note: str

    def part_of(self) -> dict[str, str]:
        """Case key -> `feedback` or `holdout`."""
        return {**dict.fromkeys(self.feedback, FEEDBACK), **dict.fromkeys(self.holdout, HOLDOUT)}


def _held_count(total: int, fraction: float) -> int:
    """How many of `total` cases to hold out: round(fraction * total), at least one each side."""
    if total < MIN_CASES or fraction <= 0:
        return 0
    return min(total - 1, max(1, round(fraction * total)))


def split_cases(cases: Sequence[tuple[str, str]], fraction: float, seed: int) -> Split:
    """Split (key, category) pairs: each category holds out its share, largest remainders first.

    The same cases, fraction and seed always give the same split.
    """
    keys = [k for k, _ in cases]
    wanted = _held_count(len(keys), fraction)
    if wanted == 0:
        why = (
            f"no case could be held out: {len(keys)} given cases (at least {MIN_CASES} needed)"
            if fraction > 0
            else "no case held out: --promptopt-holdout is 0"
        )
        return Split(tuple(keys), (), why)
    rng = random.Random(seed)
    groups: dict[str, list[str]] = {}
    for key, category in cases:
        groups.setdefault(category, []).append(key)
    quotas = {c: wanted * len(ks) / len(keys) for c, ks in groups.items()}
    counts = {c: int(q) for c, q in quotas.items()}
    order = sorted(groups, key=lambda c: (-(quotas[c] - counts[c]), rng.random()))
    for category in order[: wanted - sum(counts.values())]:
        counts[category] += 1
    held: set[str] = set()
    for category, ks in groups.items():
        held.update(rng.sample(ks, counts[category]))
    note = (
        f"{len(held)} of {len(keys)} given cases held out (fraction {fraction:g}, "
        f"stratified by category, seed {seed})"
    )
    return Split(tuple(k for k in keys if k not in held), tuple(k for k in keys if k in held), note)
