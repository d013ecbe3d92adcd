"""The three-way split: given cases divided, seeded and stratified by category.

- `feedback`: shown to the prompt writers (prompt and case generators, analyst, refiner);
- `holdout` (selection): never shown to a writer; chooses the best among the finalists;
- `confirm`: never shown to a writer nor used by the search; scored once, for the original
  and the final winner, and the apply decision and the session's best prompt rest on it.

The confirmation share is `--promptopt-confirm` (None: chosen by the suite's size, see
`confirm_count`); it needs at least MIN_CONFIRM cases (the `apply` rule's minimum of
`stats`) and room for at least MIN_FEEDBACK feedback and one selection case. A
suite too small for three parts is split in two as before and its note says that nothing
can be confirmed, so the original stays. A suite needs MIN_CASES given cases before any case
can be held out at all.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_promptopt.stats import RULES

FEEDBACK = "feedback"
HOLDOUT = "holdout"
CONFIRM = "confirm"
MIN_CASES = 4
MIN_CONFIRM = RULES["apply"].min_cases
MIN_FEEDBACK = 2
#: The confirmation share chosen for a suite of any size when the flag is not given.
DEFAULT_CONFIRM = 0.3


@dataclass(frozen=True)
class Split:
    """Which given case keys feed the writers, select, and confirm, and notes on why."""

    feedback: tuple[str, ...]
    holdout: tuple[str, ...]
    note: str
    confirm: tuple[str, ...] = ()
    confirm_note: str = ""

    def part_of(self) -> dict[str, str]:
        """Case key -> `feedback`, `holdout` or `confirm`."""
        return {
            **dict.fromkeys(self.feedback, FEEDBACK),
            **dict.fromkeys(self.holdout, HOLDOUT),
            **dict.fromkeys(self.confirm, CONFIRM),
        }


def _held_count(total: int, fraction: float) -> int:
    """How many of `total` cases to hold out: round(fraction * total), at least one each side."""
    if total < MIN_CASES or fraction <= 0:
        return 0
    return min(total - 1, max(1, round(fraction * total)))


def confirm_count(total: int, confirm: float | None) -> int:
    """How many of `total` given cases confirm (0: the suite is too small, or the share is 0).

    The default share is DEFAULT_CONFIRM of the cases, at least MIN_CONFIRM; either way
    MIN_FEEDBACK feedback cases and one selection case must remain.
    """
    share = DEFAULT_CONFIRM if confirm is None else confirm
    if share <= 0:
        return 0
    wanted = round(share * total)
    if confirm is None:
        wanted = max(MIN_CONFIRM, wanted)
    if wanted < MIN_CONFIRM or total - wanted < MIN_FEEDBACK + 1:
        return 0
    return wanted


def _draw(cases: Sequence[tuple[str, str]], wanted: int, rng: random.Random) -> set[str]:
    """`wanted` keys, each category giving its share, largest remainders first."""
    groups: dict[str, list[str]] = {}
    for key, category in cases:
        groups.setdefault(category, []).append(key)
    quotas = {c: wanted * len(ks) / len(cases) for c, ks in groups.items()}
    counts = {c: int(q) for c, q in quotas.items()}
    order = sorted(groups, key=lambda c: (-(quotas[c] - counts[c]), rng.random()))
    for category in order[: wanted - sum(counts.values())]:
        counts[category] += 1
    drawn: set[str] = set()
    for category, ks in groups.items():
        drawn.update(rng.sample(ks, counts[category]))
    return drawn


def split_cases(
    cases: Sequence[tuple[str, str]], fraction: float, seed: int, confirm: float | None = 0.0
) -> Split:
    """Split (key, category) pairs into feedback, selection (`fraction`) and confirmation.

    The confirmation cases are drawn first (stratified), then the selection cases from the
    rest; `confirm=0` gives the two-way split. The same arguments always give the same split.
    """
    keys = [k for k, _ in cases]
    total = len(keys)
    rng = random.Random(seed)
    n_confirm = confirm_count(total, confirm)
    confirmed = _draw(cases, n_confirm, rng) if n_confirm else set()
    if n_confirm:
        confirm_note = (
            f"{n_confirm} of {total} given cases confirm (share "
            f"{DEFAULT_CONFIRM if confirm is None else confirm:g}"
            f"{', chosen by the suite size' if confirm is None else ''}): scored once, "
            "for the original and the winner"
        )
    elif confirm is not None and confirm <= 0:
        confirm_note = "no confirmation split: --promptopt-confirm is 0, so the original stays"
    else:
        confirm_note = (
            f"too small for a confirmation split: {total} given cases (at least "
            f"{MIN_CONFIRM + MIN_FEEDBACK + 1} needed for {MIN_FEEDBACK} feedback, 1 selection "
            f"and {MIN_CONFIRM} confirmation cases), so the original stays"
        )
    rest = [(k, c) for k, c in cases if k not in confirmed]
    if n_confirm:
        wanted = min(len(rest) - MIN_FEEDBACK, max(1, round(fraction * total)))
        wanted = wanted if fraction > 0 else 0
    else:
        wanted = _held_count(len(rest), fraction)
    if wanted <= 0:
        why = (
            f"no case could be held out: {len(rest)} given cases (at least {MIN_CASES} needed)"
            if fraction > 0
            else "no case held out: --promptopt-holdout is 0"
        )
        return Split(
            tuple(k for k, _ in rest),
            (),
            why,
            tuple(k for k in keys if k in confirmed),
            confirm_note,
        )
    held = _draw(rest, wanted, rng)
    note = (
        f"{len(held)} of {total} given cases held out (fraction {fraction:g}, "
        f"stratified by category, seed {seed})"
    )
    return Split(
        tuple(k for k, _ in rest if k not in held),
        tuple(k for k in keys if k in held),
        note,
        tuple(k for k in keys if k in confirmed),
        confirm_note,
    )
