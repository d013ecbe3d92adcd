"""The model service's parts on their own: the call store's cache modes, spending, refusals."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from pytest_promptopt.errors import CacheMissError
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CachedCall, CallStore
from pytest_promptopt.llm.limiter import AdaptiveLimiter, Permit
from pytest_promptopt.llm.pricing import PriceTable, UnknownPriceWarning
from pytest_promptopt.llm.recording import CallRecorder
from pytest_promptopt.llm.sending import _retry_after_s
from pytest_promptopt.llm.spending import Spending, Spent, held_permit, holding

RESPONSE: dict[str, Any] = {
    "content": [{"type": "text", "text": "Hello"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1000, "output_tokens": 100},
}


class Store:
    """A call store in memory: one recorded answer, and what was written or forgotten."""

    def __init__(self) -> None:
        self.rows: list[tuple[dict[str, Any], bool]] = []
        self.counted: list[dict[str, float]] = []
        self.forgotten: list[str] = []

    async def lookup(self, key: str) -> CachedCall | None:
        return CachedCall(RESPONSE, 1000, 100, 0.25, 80.0) if key == "known" else None

    def record(self, row: dict[str, Any], *, overwrite: bool = False) -> None:
        self.rows.append((row, overwrite))

    def count(self, run_id: int, figures: dict[str, float]) -> None:
        self.counted.append(figures)

    def forget(self, hashes: list[str]) -> None:
        self.forgotten.extend(hashes)


SPENT = Spent(1000, 100, 0, 0, 0.5, 12.0)


@pytest.mark.parametrize(
    ("mode", "hit", "recorded", "overwrite"),
    [("use", True, True, False), ("refresh", False, True, True), ("off", False, False, False)],
)
def test_the_cache_mode_decides_what_is_read_and_written(
    mode: str, hit: bool, recorded: bool, overwrite: bool
) -> None:
    store = Store()
    recorder = CallRecorder(cast(CallStore, store), cache_mode=mode, run_id=None)
    cached = asyncio.run(recorder.cached("known", role="judge", label="s[a]"))
    assert (cached is not None) is hit
    if cached is not None:  # a hit spends nothing now; the call that made it is remembered
        assert (cached.cached, cached.cost_usd, cached.call_cost_usd) == (True, 0.0, 0.25)
    request = {"model": "claude-haiku-4-5", "max_tokens": 10}
    recorder.record("k", request, RESPONSE, SPENT, role="judge", sample=2, requested=None)
    assert [(r["request_hash"], r["sample"], r["cost_usd"]) for r, _ in store.rows] == (
        [("k", 2, 0.5)] if recorded else []
    )
    assert all(o is overwrite for _, o in store.rows)
    recorder.forget(["k"])
    assert store.forgotten == (["k"] if mode == "use" else [])
    assert store.counted == []  # no run: no run totals


def test_replay_refuses_an_unrecorded_call_and_a_run_counts_its_usage() -> None:
    store = Store()
    recorder = CallRecorder(cast(CallStore, store), cache_mode="replay", run_id=7)
    with pytest.raises(CacheMissError, match="no recorded target response for s\\[b\\]"):
        asyncio.run(recorder.cached("unknown", role="target", label="s[b]"))
    hit = asyncio.run(recorder.cached("known", role="target", label="s[a]"))
    assert hit is not None
    recorder.count(hit)
    assert store.counted == [
        {
            "calls": 0,
            "cache_hits": 1,
            "input_tokens": 1000,
            "output_tokens": 100,
            "cost_usd": 0.0,
            "unpriced_calls": 0,
        }
    ]


def test_spending_holds_a_slot_and_settles_the_budget_with_the_cost() -> None:
    budget, limiter = Budget(max_calls=5), AdaptiveLimiter(2)
    spending = Spending(budget, limiter, PriceTable())
    seen: list[Permit | None] = []

    async def call(permit: Permit | None) -> dict[str, Any]:
        with holding(permit):
            seen.append(held_permit())
        return RESPONSE

    async def both() -> list[tuple[dict[str, Any], Spent]]:
        request = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": []}
        return [
            await spending.pay(request, call, batched=False),
            await spending.pay({**request, "model": "no-such-model"}, call, batched=True),
        ]

    with pytest.warns(UnknownPriceWarning, match="no-such-model"):
        (_, priced), (_, unpriced) = asyncio.run(both())
    assert isinstance(seen[0], Permit) and seen[1] is None  # a batched call takes no slot
    assert priced.cost_usd == pytest.approx(1000 * 1e-6 + 100 * 5e-6)  # Haiku 4.5's prices
    assert (priced.input_tokens, priced.output_tokens) == (1000, 100)
    assert unpriced.cost_usd is None and budget.unpriced_calls == 1
    assert budget.calls == 2 and budget.spent_usd == pytest.approx(priced.cost_usd)
    assert held_permit() is None


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "-1"}, 0.0),
        ({}, None),
    ],
)
def test_a_refusal_s_wait_comes_from_its_headers(headers: dict[str, str], wait: float) -> None:
    assert _retry_after_s(headers) == wait
