"""Helpers of the tests that drive the model service without a network or a cache."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CallStore
from pytest_promptopt.llm.clients import ClientPool
from pytest_promptopt.llm.limiter import AdaptiveLimiter
from pytest_promptopt.llm.models import ModelRules, rules_for
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.storage.database import Database

LOOKUP: dict[str, Any] = {
    "name": "lookup_order",
    "description": "Find an order by its number",
    "input_schema": {
        "type": "object",
        "properties": {"order": {"type": "string"}},
        "required": ["order"],
    },
}
"""A client tool definition, as the Messages API takes it."""


class OfflineService(LLMService):
    """The model service with the cache off, one call at a time and no retries; subclasses send."""

    def __init__(self) -> None:
        super().__init__(
            store=cast(CallStore, None),  # cache off: the store is never used
            budget=Budget(),
            cache_mode="off",
            concurrency=1,
            timeout_s=5,
            max_retries=0,
        )

    def known_profile(self, model: str) -> ModelRules:
        """The table's rules: no Models API call and no stored capabilities offline."""
        return rules_for(model)


def cached_service(db: Database, **options: Any) -> LLMService:
    """The model service over `db` with the cache on, two in flight, no retries, 5 s timeouts.

    `options` are further `LLMService` arguments (`run_id`, `batches`, `clients`, ...).
    """
    options.setdefault("clients", ClientPool(timeout_s=5, max_retries=0))
    return LLMService(
        store=CallStore(db),
        budget=Budget(),
        cache_mode="use",
        concurrency=2,
        timeout_s=5,
        max_retries=0,
        **options,
    )


class WatchedLimiter(AdaptiveLimiter):
    """The adaptive limiter, counting the calls that had to queue, so a test can wait for them.

    A call that must wait bumps `queued` and sets an event just before it suspends on its
    turn, so a test awaiting `until_queued(n)` resumes only once the n-th call is in the queue.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.queued = 0
        self._changed = asyncio.Event()

    async def _acquire(self, priority: float) -> None:
        if self._waiting or not self._can_start():  # what `_acquire` queues (no shared limit)
            self.queued += 1
            self._changed.set()
        await super()._acquire(priority)

    async def until_queued(self, calls: int, timeout_s: float = 10.0) -> None:
        """Return once `calls` calls have queued in all (a TimeoutError after `timeout_s`)."""

        async def wait() -> None:
            while self.queued < calls:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout_s)
