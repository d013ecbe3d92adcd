"""The priority limiter."""

from __future__ import annotations

import asyncio

from pytest_promptopt.llm.limiter import call_priority
from tests.support.llm import WatchedLimiter


def test_priority_limiter_bounds_concurrency_and_serves_lowest_priority_first() -> None:
    async def scenario() -> tuple[int, list[int]]:
        limiter = WatchedLimiter(2)
        release = asyncio.Event()
        running, peak, order = 0, 0, []

        async def call(priority: int) -> None:
            nonlocal running, peak
            call_priority.set(priority)
            async with limiter.slot():
                running += 1
                peak = max(peak, running)
                order.append(priority)
                await release.wait()  # the first two hold their slots until all others queue
                running -= 1

        # Two start at once; the rest queue in arrival order 9, 8, ..., 3 but run by priority.
        calls = [asyncio.ensure_future(call(p)) for p in (1, 2, 9, 8, 7, 6, 5, 4, 3)]
        await limiter.until_queued(7)
        assert order == [1, 2] and running == 2
        release.set()
        await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
        return peak, order

    peak, order = asyncio.run(scenario())
    assert peak == 2
    assert order[:2] == [1, 2] and order[2:] == [3, 4, 5, 6, 7, 8, 9]
