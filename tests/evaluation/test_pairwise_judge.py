"""The pairwise judge's request, its answer's parsing, and both orders through the service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pytest_promptopt.evaluation.pairwise import (
    PAIRWISE_SYSTEM,
    PairCase,
    PairwiseJudge,
    Reply,
    pairwise_call,
    preference,
)
from pytest_promptopt.llm.requests import build_structured_request, request_hash
from pytest_promptopt.protocol import (
    CRITERION_MEANINGS,
    PAIRWISE_TOOL,
    PairwisePreference,
    decode_data,
)
from pytest_promptopt.storage.database import Database
from tests.support.llm import cached_service

REFUND = "Apologises, asks for the order e-mail, states the 30-day policy"
GOOD = "I'm sorry. Could you share the order e-mail? Refunds follow our 30-day policy."
BAD = "Sure, it depends on the details."
CALL = {"name": "lookup_order", "input": {"order": "123"}}


def case(old: Reply, new: Reply) -> PairCase:
    """The refund case with these two answers, judged on two built-ins and one own criterion."""
    return PairCase(
        "refund-1", "I want a refund", REFUND, ("functionality", "safety", "tone"), old, new
    )


def test_the_payload_shows_old_then_new_and_then_swapped() -> None:
    pair = case(Reply(BAD), Reply(GOOD))
    first, second = pairwise_call(pair, new_first=False), pairwise_call(pair, new_first=True)
    assert first["tool"] == second["tool"] == PAIRWISE_TOOL
    assert first["system"] == PAIRWISE_SYSTEM and "order in which" in PAIRWISE_SYSTEM
    assert (first["payload"]["response_a"], first["payload"]["response_b"]) == (BAD, GOOD)
    assert (second["payload"]["response_a"], second["payload"]["response_b"]) == (GOOD, BAD)
    payload = first["payload"]
    assert payload["criteria"] == ["functionality", "safety", "tone"]
    assert payload["rubric"][0]["description"] == CRITERION_MEANINGS["functionality"]
    assert payload["rubric"][2]["description"] == "the suite's own criterion `tone`"
    assert payload["expected_behavior"] == REFUND and payload["user_input"] == "I want a refund"
    assert "tool_calls_a" not in payload and "tool_calls" not in first["instructions"]


def test_tool_calls_travel_with_their_answer() -> None:
    pair = case(Reply(BAD), Reply(GOOD, (CALL,)))
    payload = pairwise_call(pair, new_first=True)["payload"]
    assert payload["tool_calls_a"] == [CALL] and payload["tool_calls_b"] == []
    assert "tool_calls_a" in pairwise_call(pair, new_first=True)["instructions"]


def test_the_request_carries_the_schema_and_the_data_block() -> None:
    body = build_structured_request(
        model="simulated", **pairwise_call(case(Reply(BAD), Reply(GOOD)), new_first=False)
    )
    [tool] = body["tools"]
    assert tool["name"] == PAIRWISE_TOOL
    assert tool["input_schema"]["properties"]["preferred"]["enum"] == ["A", "B", "tie"]
    content = body["messages"][-1]["content"]
    data = decode_data(content if isinstance(content, str) else content[-1]["text"])
    assert data is not None and data["response_a"] == BAD
    # The same call is the same bytes (its cache key), and the orders are two requests.
    again = build_structured_request(
        model="simulated", **pairwise_call(case(Reply(BAD), Reply(GOOD)), new_first=False)
    )
    assert request_hash(body, 0) == request_hash(again, 0)
    swapped = build_structured_request(
        model="simulated", **pairwise_call(case(Reply(BAD), Reply(GOOD)), new_first=True)
    )
    assert request_hash(body, 0) != request_hash(swapped, 0)


def test_a_and_b_map_back_to_old_and_new() -> None:
    def said(letter: str) -> PairwisePreference:
        return PairwisePreference(reasoning="because", preferred=letter)  # type: ignore[arg-type]

    assert preference(said("A"), new_first=False) == "old"
    assert preference(said("B"), new_first=False) == "new"
    assert preference(said("A"), new_first=True) == "new"
    assert preference(said("B"), new_first=True) == "old"
    assert preference(said("tie"), new_first=True) == "tie"


def test_both_orders_go_through_the_cached_service(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.ensure_schema()

    async def go() -> tuple[list[str], int, int]:
        service = cached_service(db)
        judge = PairwiseJudge(service, model="simulated")
        same = PairCase(
            "same", "I want a refund", REFUND, ("functionality",), Reply(GOOD), Reply(GOOD)
        )
        pairs = [case(Reply(GOOD), Reply(BAD)), same]
        judged = await judge.judge_cases(pairs, "support")
        calls = service.calls
        await judge.judge_cases(pairs, "support")  # the same pairs again: from the cache
        hits = service.cache_hits
        await service.aclose()
        return [judged["refund-1"].outcome, judged["same"].outcome], calls, hits

    outcomes, calls, hits = asyncio.run(go())
    assert outcomes == ["loss", "tie"]  # the worse new answer loses; identical answers tie
    # 2 orders x 2 cases, but two identical answers swapped are the same request: 3 calls,
    # then every one from the cache.
    assert calls == 3 and hits >= 3
    with db.engine.connect() as con:
        rows = con.exec_driver_sql("SELECT role, request FROM llm_calls").fetchall()
    db.dispose()
    assert len(rows) == 3 and {r[0] for r in rows} == {"judge"}
    assert all(PAIRWISE_TOOL in json.dumps(json.loads(r[1])) for r in rows)
