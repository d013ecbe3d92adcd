"""`max_latency_ms: N`: the call that made the answer took at most N ms."""

from __future__ import annotations

from pytest_promptopt.checks.base import (
    Answered,
    Figures,
    LimitCheck,
    Outcome,
    cached_note,
)


class MaxLatencyMs(LimitCheck):
    """The model-under-test call was fast enough (a cached answer: as when it was made)."""

    name = "max_latency_ms"
    order = 140

    def check(self, value: float, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the call's latency is within the limit."""
        took = figures.call_latency_ms
        return Outcome(took <= value, f"the call took {took:.0f} ms{cached_note(figures)}")
