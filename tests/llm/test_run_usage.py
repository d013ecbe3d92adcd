"""Each run counts the calls it made itself, not the cache entries credited to it (finding 17).

Two sessions asking the same request at once both call the model; the cache keeps one entry,
credited to whichever wrote first, so counting `llm_calls.run_id` gave one run both calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytest_promptopt.llm.requests import build_request
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.storage import Database, transaction
from tests.support.llm import cached_service

REQUEST = build_request(
    model="simulated", system="Be brief.", messages=[{"role": "user", "content": "Hello"}]
)


def _service(db: Database, run_id: int) -> LLMService:
    return cached_service(db, run_id=run_id)


def test_two_sessions_asking_at_once_each_count_their_own_call(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.ensure_schema()
    with transaction(db) as repos:
        runs = [repos.runs.create(f"session-{n}", "evaluate", {}).id for n in (1, 2)]
    first, second = (_service(db, run_id) for run_id in runs)

    async def both() -> None:
        # Both look the request up before either records it: both call the model.
        await asyncio.gather(
            *(s.send(REQUEST, 0, role="target", label="c") for s in (first, second))
        )
        third = await second.send(REQUEST, 0, role="target", label="c")  # now a cache hit
        assert third.cached
        for service in (first, second):
            await service.aclose()

    asyncio.run(both())
    with transaction(db) as repos:
        usage = [repos.runs.usage(repos.runs.get(run_id)) for run_id in runs]
        credited = [repos.llm_calls.stats(run_id)["calls"] for run_id in runs]
    db.dispose()
    assert [u["calls"] if u else None for u in usage] == [first.calls, second.calls] == [1, 1]
    assert [u["cache_hits"] if u else None for u in usage] == [0, 1]
    assert all(u is not None and u["cost_usd"] > 0 for u in usage)
    assert sorted(credited) == [0, 1]  # the one cache entry is credited to one run only
