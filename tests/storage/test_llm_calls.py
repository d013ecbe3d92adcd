"""LLMCallRepository and cached_responses: the response cache by request hash."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from pytest_promptopt.storage import Database, LLMCall, LLMCallRepository, transaction
from pytest_promptopt.storage.repositories import cached_responses


def test_llm_call_repository(db: Database, seeded: tuple[int, int, int]) -> None:
    run_id, _, _ = seeded
    with db.session_scope() as s:
        calls = LLMCallRepository(s)
        for i in range(1203):
            calls.add(
                {
                    "request_hash": f"{i:064d}",
                    "model": "claude",
                    "role": "judge" if i % 2 else "target",
                    "request": {"messages": [{"role": "user", "content": str(i)}]},
                    "response": {"text": f"r{i}"},
                    "input_tokens": 10,
                    "output_tokens": 5,
                    "cost_usd": 0.5,
                    "latency_ms": 3.0,
                    "run_id": run_id if i < 3 else None,
                }
            )
        calls.add({"request_hash": f"{0:064d}", "model": "x", "role": "target", "request": {},
                   "response": {"text": "changed"}})  # fmt: skip
    with db.session_scope() as s:
        calls = LLMCallRepository(s)
        hit = calls.get(f"{0:064d}")
        assert hit is not None and hit.response == {"text": "r0"} and hit.model == "claude"
        assert calls.get("missing") is None
        wanted = [f"{i:064d}" for i in range(0, 1203, 1)] + ["absent"]
        found = calls.get_many(wanted)
        assert len(found) == 1203 and found[f"{1202:064d}"].response == {"text": "r1202"}
        assert calls.get_many([]) == {}
        stats = calls.stats(run_id)
        assert stats == {"calls": 3, "input_tokens": 30, "output_tokens": 15, "cost_usd": 1.5}
        assert calls.stats(run_id + 1) == {
            "calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
        }
    # The cache outlives its run: no foreign key from llm_calls.run_id.
    with db.session_scope() as s:
        s.execute(text("DELETE FROM optimization_runs"))
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(LLMCall)) == 1203


COST, LATENCY = 0.004, 1250.0  # of the call that made an entry: a cache hit keeps them


def _call(i: int, run_id: int | None = None) -> dict[str, Any]:
    """A cached call row whose request hash is `i` written out to 64 digits."""
    return {
        "request_hash": f"{i:064d}",
        "model": "claude",
        "role": "target",
        "request": {"n": i},
        "response": {"text": f"r{i}"},
        "input_tokens": i,
        "output_tokens": 2 * i,
        "cost_usd": COST,
        "latency_ms": LATENCY,
        "run_id": run_id,
    }


def test_delete_drops_only_the_given_hashes_in_batches(db: Database) -> None:
    with transaction(db) as repos:
        for i in range(1205):
            repos.llm_calls.add(_call(i))
    doomed = [f"{i:064d}" for i in range(0, 1205, 2)] + ["not cached"]
    with transaction(db) as repos:
        repos.llm_calls.delete(doomed)
        repos.llm_calls.delete([])
    with transaction(db) as repos:
        left = repos.llm_calls.get_many(f"{i:064d}" for i in range(1205))
    assert sorted(left) == [f"{i:064d}" for i in range(1, 1205, 2)]


def test_delete_then_add_replaces_a_cached_answer(db: Database) -> None:
    with transaction(db) as repos:
        repos.llm_calls.add(_call(7))
    with transaction(db) as repos:
        repos.llm_calls.delete([f"{7:064d}"])
        repos.llm_calls.add({**_call(7), "response": {"text": "fresh"}})
    with transaction(db) as repos:
        hit = repos.llm_calls.get(f"{7:064d}")
        assert hit is not None and hit.response == {"text": "fresh"}


def test_cached_responses_reads_response_and_tokens_without_orm_objects(db: Database) -> None:
    with transaction(db) as repos:
        for i in range(1, 604):
            repos.llm_calls.add(_call(i))
    wanted = [f"{i:064d}" for i in (1, 2, 603, 603)] + ["missing"]
    with db.read_scope() as connection:
        found = cached_responses(connection, wanted)
        assert cached_responses(connection, []) == {}
    assert found == {
        f"{1:064d}": ({"text": "r1"}, 1, 2, COST, LATENCY),
        f"{2:064d}": ({"text": "r2"}, 2, 4, COST, LATENCY),
        f"{603:064d}": ({"text": "r603"}, 603, 1206, COST, LATENCY),
    }
