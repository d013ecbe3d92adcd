"""The one totals type: what some model calls spent, and a set of cases' outcomes with it.

`Spend` (calls, cache hits, tokens, cost) is what a case record, a call meter (`Usage`) and
the totals of a suite, a variant or a run have in common; `Totals` adds the cases by outcome.
A cost is None (unknown) once any part of it was spent on a model without a known price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


def sum_costs(costs: Iterable[float | None]) -> float | None:
    """The total of some costs: None (unknown) when any of them is unknown."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


def add_cost(a: float | None, b: float | None) -> float | None:
    """Two costs added; unknown when either is."""
    return None if a is None or b is None else a + b


class Spend(BaseModel):
    """Calls made, answers from the cache, tokens and dollars."""

    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class Usage(Spend):
    """What some calls took: the spend, and the time.

    `cost_usd` and `latency_ms` are what was spent now (nothing for a cache hit);
    `call_cost_usd` and `call_latency_ms` are those of the calls that made the answers, a
    cached answer's recorded with it (what `max_cost_usd` and `max_latency_ms` check).
    """

    model_config = ConfigDict(frozen=True)

    latency_ms: float = 0.0
    call_cost_usd: float | None = 0.0
    call_latency_ms: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        """The usage of both."""
        return Usage(
            calls=self.calls + other.calls,
            cache_hits=self.cache_hits + other.cache_hits,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=add_cost(self.cost_usd, other.cost_usd),
            latency_ms=self.latency_ms + other.latency_ms,
            call_cost_usd=add_cost(self.call_cost_usd, other.call_cost_usd),
            call_latency_ms=self.call_latency_ms + other.call_latency_ms,
        )


class Judged(Protocol):
    """What `Totals.of_cases` reads of a case: its outcome and its spend (a `CaseRecord`)."""

    @property
    def score(self) -> float: ...
    @property
    def passed(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def calls(self) -> int: ...
    @property
    def cache_hits(self) -> int: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cost_usd(self) -> float | None: ...


class Totals(Spend):
    """Cases by outcome, mean score and pass rate, with what they spent."""

    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    mean_score: float | None = Field(
        None, description="Over the cases that did not error; None when every case errored."
    )
    pass_rate: float = 0.0

    @classmethod
    def of_cases(cls, records: Sequence[Judged]) -> Totals:
        """Totals of some cases (the mean score is over the cases that did not error)."""
        judged = [r.score for r in records if r.error is None]
        passed = sum(r.passed for r in records)
        errors = sum(r.error is not None for r in records)
        return Totals(
            cases=len(records),
            passed=passed,
            failed=sum(r.error is None and not r.passed for r in records),
            errors=errors,
            mean_score=sum(judged) / len(judged) if judged else None,
            pass_rate=passed / len(records) if records else 0.0,
            calls=sum(r.calls for r in records),
            cache_hits=sum(r.cache_hits for r in records),
            input_tokens=sum(r.input_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
            cost_usd=sum_costs(r.cost_usd for r in records),
        )

    @classmethod
    def combined(cls, parts: Sequence[Totals]) -> Totals:
        """Totals over several (a run's over its suites): sums, and the mean over judged cases."""
        cases = sum(t.cases for t in parts)
        weighted = [(t.mean_score, t.cases - t.errors) for t in parts if t.mean_score is not None]
        judged = sum(n for _, n in weighted)
        return Totals(
            cases=cases,
            passed=sum(t.passed for t in parts),
            failed=sum(t.failed for t in parts),
            errors=sum(t.errors for t in parts),
            mean_score=sum(m * n for m, n in weighted) / judged if judged else None,
            pass_rate=sum(t.passed for t in parts) / cases if cases else 0.0,
            calls=sum(t.calls for t in parts),
            cache_hits=sum(t.cache_hits for t in parts),
            input_tokens=sum(t.input_tokens for t in parts),
            output_tokens=sum(t.output_tokens for t in parts),
            cost_usd=sum_costs(t.cost_usd for t in parts),
        )

    def totals(self) -> Totals:
        """Just the totals (a subclass's extra fields dropped)."""
        return Totals.model_validate(self.model_dump(include=set(Totals.model_fields)))
