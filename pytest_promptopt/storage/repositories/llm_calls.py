"""Rows of `llm_calls`, the response cache: lookups by request hash, writes, deletes, totals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from sqlalchemy import Connection, delete, func, select

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import LLMCall
from pytest_promptopt.storage.repositories.base import CHUNK, Repository


def cached_responses(
    connection: Connection, request_hashes: Iterable[str]
) -> dict[str, tuple[Any, int, int, float | None, float]]:
    """Hash -> (response, input tokens, output tokens, cost, latency ms) of the call that made
    it: the cache's hot path, no ORM objects."""
    hashes = sorted(set(request_hashes))
    found: dict[str, tuple[Any, int, int, float | None, float]] = {}
    cols = (
        LLMCall.request_hash,
        LLMCall.response,
        LLMCall.input_tokens,
        LLMCall.output_tokens,
        LLMCall.cost_usd,
        LLMCall.latency_ms,
    )
    for start in range(0, len(hashes), CHUNK):
        stmt = select(*cols).where(LLMCall.request_hash.in_(hashes[start : start + CHUNK]))
        for key, response, tokens_in, tokens_out, cost, latency in connection.execute(stmt):
            found[key] = (response, tokens_in, tokens_out, cost, float(latency or 0.0))
    return found


class CallStats(TypedDict):
    """Totals of the model calls recorded for one run."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


class LLMCallRepository(Repository):
    """Rows of `llm_calls`, the response cache."""

    def get(self, request_hash: str) -> LLMCall | None:
        """Return the cached call for a request hash."""
        stmt = select(LLMCall).where(LLMCall.request_hash == request_hash)
        return self.session.scalars(stmt).one_or_none()

    def get_many(self, request_hashes: Iterable[str]) -> dict[str, LLMCall]:
        """Return the cached calls for many hashes, by hash (looked up 500 at a time)."""
        hashes = sorted(set(request_hashes))
        found: dict[str, LLMCall] = {}
        for start in range(0, len(hashes), CHUNK):
            stmt = select(LLMCall).where(LLMCall.request_hash.in_(hashes[start : start + CHUNK]))
            found.update((call.request_hash, call) for call in self.session.scalars(stmt))
        return found

    def entries(self) -> list[dict[str, Any]]:
        """Every cache entry as a plain row (no id, run or timestamp), by request hash."""
        cols = (
            LLMCall.request_hash,
            LLMCall.model,
            LLMCall.requested_model,
            LLMCall.role,
            LLMCall.sample,
            LLMCall.request,
            LLMCall.response,
            LLMCall.input_tokens,
            LLMCall.output_tokens,
            LLMCall.cost_usd,
            LLMCall.latency_ms,
        )
        stmt = select(*cols).order_by(LLMCall.request_hash)
        return [dict(row._mapping) for row in self.session.execute(stmt)]

    def add_many(self, rows: list[dict[str, Any]]) -> int:
        """Record calls whose request hashes are not cached yet; returns how many were new."""
        known = set(self.get_many(row["request_hash"] for row in rows))
        new = [row for row in rows if row["request_hash"] not in known]
        insert_ignore(self.session, LLMCall, new, ["request_hash"])
        return len({row["request_hash"] for row in new})

    def add(self, row: dict[str, Any]) -> None:
        """Record a call unless its request hash is already cached."""
        insert_ignore(self.session, LLMCall, [row], ["request_hash"])

    def delete(self, request_hashes: Iterable[str]) -> None:
        """Drop the cached calls of these hashes (missing ones are no error)."""
        hashes = sorted(set(request_hashes))
        for start in range(0, len(hashes), CHUNK):
            chunk = hashes[start : start + CHUNK]
            self.session.execute(delete(LLMCall).where(LLMCall.request_hash.in_(chunk)))

    def stats(self, run_id: int) -> CallStats:
        """Return the number of calls, tokens and cost recorded by a run."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(LLMCall.input_tokens), 0),
            func.coalesce(func.sum(LLMCall.output_tokens), 0),
            func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
            func.count(LLMCall.cost_usd),
        ).where(LLMCall.run_id == run_id)
        calls, tokens_in, tokens_out, cost, priced = self.session.execute(stmt).one()
        return CallStats(
            calls=int(calls),
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            # unknown when any call was to a model without a known price (a NULL cost)
            cost_usd=float(cost or 0.0) if priced == calls else None,
        )

    def stats_by_role(self, run_id: int) -> list[tuple[str, int, float | None]]:
        """(role, calls, cost) of the calls a run sent; the cost None when any was unpriced."""
        stmt = (
            select(
                LLMCall.role,
                func.count(),
                func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
                func.count(LLMCall.cost_usd),
            )
            .where(LLMCall.run_id == run_id)
            .group_by(LLMCall.role)
            .order_by(LLMCall.role)
        )
        return [
            (str(role), int(calls), float(cost or 0.0) if priced == calls else None)
            for role, calls, cost, priced in self.session.execute(stmt)
        ]
