"""`max_cost_usd: X`: the call that made the answer cost at most X dollars."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    LimitCheck,
    Outcome,
    cached_note,
)


class MaxCostUsd(LimitCheck):
    """The model-under-test call was cheap enough (a cached answer: as when it was made)."""

    name = "max_cost_usd"
    order = 150

    def check(self, value: float, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the call's cost is known and within the limit."""
        cost = figures.call_cost_usd
        if cost is None:
            detail = "the call's cost is unknown (no price for its model: set promptopt_prices)"
            return Outcome(False, detail)
        return Outcome(cost <= value, f"the call cost ${cost:.6f}{cached_note(figures)}")
