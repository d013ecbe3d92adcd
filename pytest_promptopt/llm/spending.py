"""A call's slot and budget, claimed in priority order, and what the call cost."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_promptopt.llm.limiter import Permit
from pytest_promptopt.llm.pricing import BATCH_DISCOUNT, TokenUsage
from pytest_promptopt.llm.send_options import cache_tokens

if TYPE_CHECKING:
    from pytest_promptopt.llm.budget import Budget
    from pytest_promptopt.llm.limiter import AdaptiveLimiter
    from pytest_promptopt.llm.pricing import PriceTable

# The limiter slot the current task's call holds while it is sent (set by `holding`).
_held_permit: ContextVar[Permit | None] = ContextVar("promptopt_held_permit", default=None)


@contextlib.contextmanager
def holding(permit: Permit | None) -> Iterator[None]:
    """Mark `permit` as the slot the current task's call holds while the block runs."""
    token = _held_permit.set(permit)
    try:
        yield
    finally:
        _held_permit.reset(token)


def held_permit() -> Permit | None:
    """The slot the current task's call holds, or None when it was sent outside a slot."""
    return _held_permit.get()


@dataclass(frozen=True)
class Spent:
    """What one call took: its tokens, cache tokens, dollars (None: no known price) and time."""

    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost_usd: float | None
    latency_ms: float


class Spending:
    """Claims each call's limiter slot and budget, and settles the budget with its cost."""

    def __init__(self, budget: Budget, limiter: AdaptiveLimiter, prices: PriceTable) -> None:
        """The run's budget, its concurrency limiter and the price table that bills calls."""
        self.budget = budget
        self.limiter = limiter
        self.prices = prices

    async def pay(
        self,
        request: dict[str, Any],
        call: Callable[[Permit | None], Awaitable[dict[str, Any]]],
        *,
        batched: bool,
    ) -> tuple[dict[str, Any], Spent]:
        """The response of `call(permit)` and what it took, the budget reserved around it.

        The budget is claimed once a slot is free, so calls take it in priority order: a
        started case's judge call comes before the next case's first call, and a cap ends
        with finished cases rather than many half-done ones. Batched calls take no slot
        (their permit is None) and are estimated at the batch discount.
        """
        model = str(request["model"])
        estimate = self.prices.estimate(
            model, _estimate_tokens(request), int(request["max_tokens"])
        )
        async with contextlib.nullcontext() if batched else self.limiter.slot() as permit:
            reservation = self.budget.reserve(estimate * BATCH_DISCOUNT if batched else estimate)
            actual: float | None = None
            try:
                started = time.perf_counter()
                response = await call(permit)
                latency_ms = (time.perf_counter() - started) * 1000
                usage = TokenUsage.of(response.get("usage"))
                cache_write, cache_read = cache_tokens(response.get("usage") or {})
                actual = self.cost_of(model, response.get("usage"), batch=batched)
            finally:
                self.budget.settle(reservation, actual)
        if actual is None:
            self.budget.note_unpriced()
        spent = Spent(
            usage.input_tokens, usage.output_tokens, cache_write, cache_read, actual, latency_ms
        )
        return response, spent

    def cost_of(
        self, model: str, usage: dict[str, Any] | None, *, batch: bool = False
    ) -> float | None:
        """A call's cost from its response's `usage`, cache tokens included, as the API bills it.

        `batch` applies the Message Batches discount; None when the model has no known price.
        """
        return self.prices.bill(model, TokenUsage.of(usage), batch=batch)


def _estimate_tokens(request: dict[str, Any]) -> int:
    """A generous upper estimate of input tokens (4 characters per token, rounded up)."""
    return len(json.dumps(request, default=str)) // 3 + 16
