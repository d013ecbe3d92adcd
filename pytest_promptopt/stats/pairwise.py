"""Pairwise comparisons: the judge shown both answers to each case, and the verdict it supports.

Each shared case's two answers (the baseline's or first variant's `old`, the run's `new`) are
judged twice, once in each order; each call says which answer better meets the case, or a tie.
`combine_orders` makes one outcome per case: a *win* when both orders prefer the new answer, a
*loss* when both prefer the old one, and a *tie* otherwise, so an order-dependent verdict
(position bias, or a preference too weak to survive swapping) is a tie.

`compare_pairs` turns n cases with W wins, L losses and T ties into a verdict:

- the **sign test**: `scipy.stats.binomtest(W, W + L, 0.5)`, two-sided, ties excluded; the win
  share W / (W + L) with its exact (Clopper-Pearson) interval at the rule's level;
- the **preference share** counts each tie as half a win: (W + T/2) / n. Its interval is the win
  share's, shrunk towards 0.5 by the share of decisive cases: 0.5 + (w - 0.5) (W + L) / n for each
  bound w (conditional on the number of decisive cases). Every case tied is the point 0.5.

The verdict, by the rule of `decision` (`stats.intervals.RULES`: 95%, 5 shared cases):

- fewer shared cases than the rule's minimum: `inconclusive`;
- sign test p < alpha: `regressed` when L > W, `improved` when W > L;
- else `unchanged` when the preference share's whole interval lies within 0.5 +- margin
  (`PAIRWISE_MARGIN`, 0.1: the new answer preferred in between 40% and 60% of the cases; an
  equivalence test, TOST-style, like the score gate's);
- else `inconclusive`, naming the preference it could not rule out and the power.

Power (`min_detectable_share`): the win share furthest from 0.5 that the sign test on the same
number of decisive cases still misses more than 20% of the time, i.e. the smallest departure
from 0.5 it detects with 80% power at the rule's alpha, exact on the binomial distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.stats.intervals import RULES, ComparisonOutcome, DecisionRule, RunComparison

PairOutcome = Literal["win", "loss", "tie"]
"""One case's pairwise outcome for the new answer."""
Preference = Literal["new", "old", "tie"]
"""What one judge call preferred, once its A/B labels are mapped back to the two runs."""
PAIRWISE_MARGIN = 0.1
"""`unchanged` needs the preference share's interval within 0.5 +- this."""
PAIRWISE_POWER = 0.8


def combine_orders(first: Preference, second: Preference) -> PairOutcome:
    """One case's outcome from its orders: both prefer new -> win, both old -> loss, else tie."""
    if first == second == "new":
        return "win"
    if first == second == "old":
        return "loss"
    return "tie"


@dataclass(frozen=True)
class PairwiseComparison:
    """The pairwise judge's verdicts on the shared cases of two runs, and what they support."""

    n_shared: int
    wins: int
    losses: int
    ties: int
    order_dependent: int
    """Ties where the two orders disagreed (one of them preferred an answer)."""
    p_value: float
    win_share: float | None
    share_ci: tuple[float, float] | None
    preference_ci: tuple[float, float]
    margin: float
    verdict: ComparisonOutcome
    reason: str = ""
    min_detectable_share: float | None = None
    """The win share below 0.5 the sign test detects with 80% power (the mirror above)."""
    loss_cases: tuple[str, ...] = ()
    level: float = 0.95

    @property
    def decisive(self) -> int:
        """Cases the two orders agreed on a winner."""
        return self.wins + self.losses

    @property
    def preference_share(self) -> float:
        """(wins + ties / 2) / cases: the share of cases the new answer is preferred in."""
        return (self.wins + self.ties / 2) / self.n_shared if self.n_shared else 0.5

    def power_note(self) -> str:
        """`detects a win share under 0.23 or over 0.77 (80% power, 17 decisive cases)`."""
        if self.min_detectable_share is None:
            return f"detects no win share ({self.decisive} decisive cases: too few for the test)"
        low = self.min_detectable_share
        return (
            f"detects a win share under {low:.2f} or over {1 - low:.2f} "
            f"({PAIRWISE_POWER:.0%} power, {self.decisive} decisive cases)"
        )

    def describe(self) -> str:
        """One line: verdict, wins/losses/ties, the sign test, the intervals, the power."""
        why = f" ({self.reason})" if self.reason else ""
        share = ""
        if self.win_share is not None and self.share_ci is not None:
            share = (
                f", win share {self.win_share:.2f} ({self.level:.0%} CI "
                f"{self.share_ci[0]:.2f} .. {self.share_ci[1]:.2f})"
            )
        low, high = self.preference_ci
        order = f" ({self.order_dependent} order-dependent)" if self.order_dependent else ""
        return (
            f"{self.verdict}{why}: pairwise judge on {self.n_shared} shared "
            f"case{'' if self.n_shared == 1 else 's'}, both orders; {self.wins} wins, "
            f"{self.losses} losses, {self.ties} ties{order}; sign test p={self.p_value:.3g} "
            f"(ties excluded){share}; preference {self.preference_share:.2f} "
            f"(CI {low:.2f} .. {high:.2f}), margin {self.margin:g}; {self.power_note()}"
        )


def sign_test(wins: int, losses: int, level: float) -> tuple[float, tuple[float, float] | None]:
    """The two-sided exact sign test's p of wins vs losses, and the win share's exact interval."""
    n = wins + losses
    if n == 0:
        return 1.0, None
    with long_lived_imports():
        from scipy.stats import binomtest

    test = binomtest(wins, n, 0.5)
    ci = test.proportion_ci(confidence_level=level, method="exact")
    return float(test.pvalue), (float(ci.low), float(ci.high))


@lru_cache(maxsize=256)
def min_detectable_share(
    decisive: int, alpha: float, power: float = PAIRWISE_POWER
) -> float | None:
    """The largest win share p < 0.5 that the two-sided sign test on `decisive` cases finds
    with `power` (exact binomial); None when no outcome of so few cases is significant.

    At 1/2 the binomial is symmetric, so the test's two-sided p of x wins is
    min(1, 2 P(X <= min(x, n - x))), as `scipy.stats.binomtest` gives it.
    """
    if decisive < 1:
        return None
    with long_lived_imports():
        import numpy as np
        from scipy.optimize import brentq
        from scipy.stats import binom

    x = np.arange(decisive + 1)
    p_values = np.minimum(1.0, 2 * binom.cdf(np.minimum(x, decisive - x), decisive, 0.5))
    region = x[p_values < alpha]
    if not len(region):
        return None

    def shortfall(p: float) -> float:
        return float(binom.pmf(region, decisive, p).sum()) - power

    if shortfall(0.0) < 0:  # even a share of 0 is not detected often enough
        return None
    return float(brentq(shortfall, 0.0, 0.5, xtol=1e-6))


def _shrunk(bound: float, decisive: int, n: int) -> float:
    """A win-share bound as a preference-share bound (ties counted as half a win)."""
    return 0.5 + (bound - 0.5) * decisive / n


def compare_pairs(
    outcomes: Mapping[str, PairOutcome],
    *,
    margin: float = PAIRWISE_MARGIN,
    decision: RunComparison = "baseline",
    order_dependent: int = 0,
) -> PairwiseComparison:
    """The verdict on per-case pairwise outcomes, by the rule in the module docstring."""
    rule = RULES[decision]
    keys = sorted(outcomes)
    n = len(keys)
    wins = sum(1 for k in keys if outcomes[k] == "win")
    losses = [k for k in keys if outcomes[k] == "loss"]
    ties = n - wins - len(losses)
    decisive = wins + len(losses)
    p, share_ci = sign_test(wins, len(losses), rule.level)
    if share_ci is None or n == 0:
        pref_ci = (0.5, 0.5)
    else:
        pref_ci = (_shrunk(share_ci[0], decisive, n), _shrunk(share_ci[1], decisive, n))
    mds = min_detectable_share(decisive, rule.alpha)
    verdict, reason = _verdict(n, wins, len(losses), p, pref_ci, margin, rule, mds)
    return PairwiseComparison(
        n_shared=n,
        wins=wins,
        losses=len(losses),
        ties=ties,
        order_dependent=order_dependent,
        p_value=p,
        win_share=wins / decisive if decisive else None,
        share_ci=share_ci,
        preference_ci=pref_ci,
        margin=margin,
        verdict=verdict,
        reason=reason,
        min_detectable_share=mds,
        loss_cases=tuple(losses),
        level=rule.level,
    )


def _verdict(
    n: int,
    wins: int,
    losses: int,
    p: float,
    pref_ci: tuple[float, float],
    margin: float,
    rule: DecisionRule,
    mds: float | None,
) -> tuple[ComparisonOutcome, str]:
    """The verdict and why (module docstring); a plain verdict needs no reason."""
    if n < rule.min_cases:
        return "inconclusive", f"fewer than the {rule.min_cases} shared cases this comparison needs"
    if p < rule.alpha and losses != wins:
        return ("regressed", "") if losses > wins else ("improved", "")
    if pref_ci[0] >= 0.5 - margin - 1e-12 and pref_ci[1] <= 0.5 + margin + 1e-12:
        return "unchanged", "" if wins + losses else "every case a tie"
    power = (
        f"; {wins + losses} decisive cases: a win share within {mds:.2f} .. {1 - mds:.2f} "
        "cannot be told from noise"
        if mds is not None
        else f"; {wins + losses} decisive cases are too few for the sign test"
    )
    return "inconclusive", (
        f"could not rule out the new answer preferred in as few as {pref_ci[0]:.0%} or as many "
        f"as {pref_ci[1]:.0%} of the cases{power}"
    )
