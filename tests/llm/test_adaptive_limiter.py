"""The adaptive limiter: AIMD on refusals, pauses from retry-after and ratelimit headers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_promptopt.llm.limiter import AdaptiveLimiter, Permit, describe_limit
from tests.support.llm import WatchedLimiter


async def _hold(
    limiter: AdaptiveLimiter, n: int
) -> tuple[list[Permit], list[asyncio.Event], list[asyncio.Task[None]]]:
    """Start `n` holders that keep their slot until released; their permits, gates and tasks."""
    permits: list[Permit] = []
    gates = [asyncio.Event() for _ in range(n)]
    started = asyncio.Event()

    async def hold(gate: asyncio.Event) -> None:
        async with limiter.slot() as permit:
            permits.append(permit)
            if len(permits) == n:
                started.set()
            await gate.wait()

    tasks = [asyncio.get_running_loop().create_task(hold(gate)) for gate in gates]
    await asyncio.wait_for(started.wait(), timeout=10)
    return permits, gates, tasks


def test_a_burst_of_refusals_halves_the_limit_once_and_a_later_one_halves_it_again() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(24)
        permits, gates, holders = await _hold(limiter, 10)
        for permit in permits:  # ten refusals of calls started in the same window
            limiter.refused(permit, None)
        seen = [limiter.limit]
        gates[0].set()
        await asyncio.wait_for(holders[0], timeout=10)  # its slot is given back
        async with limiter.slot() as late:  # started after the decrease: its refusal counts
            limiter.refused(late, None)
        seen.append(limiter.limit)
        for gate in gates:
            gate.set()
        await asyncio.wait_for(asyncio.gather(*holders), timeout=10)
        return [*seen, limiter.refused_count, limiter.lowest]

    assert asyncio.run(scenario()) == [12, 6, 11, 6]


def test_successes_grow_the_limit_by_one_per_window_up_to_the_ceiling() -> None:
    limiter = AdaptiveLimiter(5)
    limiter.refused(Permit(0.0, 0), None)  # 5 -> 2
    assert limiter.limit == 2
    growth = []
    for _ in range(20):
        limiter.succeeded()
        growth.append(limiter.limit)
    # One more slot after `limit` successes: 2 successes to 3, 3 more to 4, 4 more to 5.
    assert growth[:9] == [2, 3, 3, 3, 4, 4, 4, 4, 5]
    assert max(growth) == 5 == limiter.limit
    assert limiter.describe() == "concurrency 5 -> 2 after 1 refused requests (429/529), back to 5"


def test_retry_after_pauses_new_calls_until_it_has_passed() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        limiter = WatchedLimiter(4)
        limiter.refused(Permit(0.0, 0), retry_after_s=30)
        paused = limiter.paused_for > 0

        async def call() -> None:
            async with limiter.slot():
                pass

        task = asyncio.get_running_loop().create_task(call())
        await limiter.until_queued(1)  # the call runs up to its wait
        # A free slot, but the pause holds it back: queued, not started.
        waited = not task.done() and len(limiter._waiting) == 1 and limiter._in_use == 0
        limiter._paused_until = 0.0  # the pause is over (no wall-clock wait in the test)
        limiter._woken()  # what the wake-up scheduled for the pause's end does
        await asyncio.wait_for(task, timeout=10)
        return paused, waited, limiter.paused_for == 0, limiter._in_use == 0

    assert asyncio.run(scenario()) == (True, True, True, True)


def test_a_ratelimit_header_at_zero_pauses_until_its_reset() -> None:
    limiter = AdaptiveLimiter(4)
    soon = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat()
    limiter.succeeded({"anthropic-ratelimit-requests-remaining": "7",
                       "anthropic-ratelimit-requests-reset": soon})  # fmt: skip
    assert limiter.paused_for == 0
    limiter.succeeded({"anthropic-ratelimit-tokens-remaining": "0",
                       "anthropic-ratelimit-tokens-reset": soon})  # fmt: skip
    assert 0 < limiter.paused_for <= 30
    limiter.read_headers({"anthropic-ratelimit-requests-remaining": "0",
                          "anthropic-ratelimit-requests-reset": "not a date"})  # fmt: skip
    assert limiter.paused_for <= 30


def test_a_limit_that_never_shrank_is_not_described() -> None:
    assert describe_limit(8, 8, 8, 0) is None
    assert AdaptiveLimiter(8).describe() is None
    assert describe_limit(24, 6, 6, 18) == "concurrency 24 -> 6 after 18 refused requests (429/529)"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_share_one_limit_through_the_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from pytest_promptopt.llm.sharedlimit import DatabaseLimit, describe_session_limit
    from pytest_promptopt.storage.database import Database

    url = f"sqlite:///{tmp_path / 'limits.db'}"
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")  # skips without a server (fails in CI)
    db = Database(url)
    db.ensure_schema()
    first = AdaptiveLimiter(16, shared=DatabaseLimit(db, "uid", 16), sync_interval_s=0)
    second = AdaptiveLimiter(16, shared=DatabaseLimit(db, "uid", 16), sync_interval_s=0)
    first.refused(Permit(0.0, 0), retry_after_s=5)
    second.refused(Permit(0.0, 0), None)  # the same window: no second decrease
    assert (first.limit, second.limit) == (8, 8)
    assert second.paused_for > 0  # the first one's retry-after holds the second one too
    for _ in range(8):
        second.succeeded()
    first.succeeded()  # reads what the second one grew
    assert first.limit == 9
    assert describe_session_limit(db, "uid") == (
        "concurrency 16 -> 8 after 2 refused requests (429/529), back to 9"
    )
    assert describe_session_limit(db, "other") is None
    db.dispose()


def test_a_pause_left_pending_in_a_finished_loop_does_not_stall_the_next_loop() -> None:
    limiter = WatchedLimiter(2)

    async def call() -> None:
        async with limiter.slot():
            pass

    async def abandoned() -> None:
        limiter.refused(Permit(0.0, 0), retry_after_s=30)
        task = asyncio.get_running_loop().create_task(call())
        await limiter.until_queued(1)  # the call runs up to its wait
        assert len(limiter._waiting) == 1 and limiter._wake is not None
        task.cancel()  # this loop ends with its wake-up still scheduled

    async def next_loop() -> bool:
        limiter._paused_until = 0.0  # the pause is over (no wall-clock wait in the test)
        limiter.refused(Permit(0.0, 0), retry_after_s=0.05)
        await asyncio.wait_for(call(), timeout=10)
        return True

    asyncio.run(abandoned())
    assert asyncio.run(next_loop())
