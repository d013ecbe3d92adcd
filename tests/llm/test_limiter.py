"""The priority limiter."""

from __future__ import annotations


def test_priority_limiter_bounds_concurrency_and_serves_lowest_priority_first() -> None:
    import asyncio

    from pytest_promptopt.llm.limiter import AdaptiveLimiter, call_priority

    async def scenario() -> tuple[int, list[int]]:
        limiter = AdaptiveLimiter(2)
        running, peak, order = 0, 0, []

        async def call(priority: int) -> None:
            nonlocal running, peak
            call_priority.set(priority)
            async with limiter.slot():
                running += 1
                peak = max(peak, running)
                order.append(priority)
                await asyncio.sleep(0.01)
                running -= 1

        # Two start at once; the rest queue in arrival order 9, 8, ..., 3 but run by priority.
        await asyncio.gather(*(call(p) for p in (1, 2, 9, 8, 7, 6, 5, 4, 3)))
        return peak, order

    peak, order = asyncio.run(scenario())
    assert peak == 2
    assert order[:2] == [1, 2] and order[2:] == [3, 4, 5, 6, 7, 8, 9]
