"""A model answer with its usage and provenance, and the usage totals callers add up."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from pytest_promptopt.llm.requests import response_parts
from pytest_promptopt.llm.send_options import cache_tokens
from pytest_promptopt.records.totals import Usage

CallPurpose = Literal["target", "judge", "generate", "analyze", "user"]
"""What a model call is for (the `role` column of `llm_calls`, the label of its errors)."""


@dataclass(frozen=True)
class Completion:
    """A model answer with its usage, cost and provenance.

    `tool_calls` are the answer's tool_use blocks as {id, name, input}; `content` is the
    answer's whole content (what a conversation's next turn sends back as the assistant's).
    """

    text: str
    tool_input: dict[str, Any] | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_ms: float
    cached: bool
    request_hash: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = None
    content: tuple[dict[str, Any], ...] = ()
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    response: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    thinking: str = ""
    refusal: dict[str, Any] | None = None
    call_cost_usd: float | None = 0.0
    call_latency_ms: float = 0.0

    @classmethod
    def of(
        cls,
        response: dict[str, Any],
        key: str,
        *,
        tokens: tuple[int, int],
        cost: float | None,
        latency_ms: float,
        cached: bool,
        call: tuple[float | None, float] | None = None,
    ) -> Completion:
        """The completion of a Messages API response (fresh or from the cache).

        `call` is the cost and latency of the call that made a cached answer (a fresh one's
        are `cost` and `latency_ms`).
        """
        parts = response_parts(response)
        call_cost, call_latency = call if call is not None else (cost, latency_ms)
        cache_write, cache_read = cache_tokens(response.get("usage") or {})
        return cls(
            text=parts.text,
            tool_input=parts.tool_input,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cost_usd=cost,
            latency_ms=latency_ms,
            cached=cached,
            request_hash=key,
            tool_calls=parts.tool_calls,
            stop_reason=parts.stop_reason,
            content=parts.content,
            response=response,
            cache_write_tokens=cache_write,
            cache_read_tokens=cache_read,
            thinking=parts.thinking,
            refusal=parts.refusal,
            call_cost_usd=call_cost,
            call_latency_ms=call_latency,
        )

    def shared(self) -> Completion:
        """This answer handed to a second caller: a cache hit that spent nothing now."""
        return dataclasses.replace(self, cached=True, cost_usd=0.0, latency_ms=0.0)

    @property
    def usage(self) -> Usage:
        """This answer's usage: one call, or one cache hit."""
        return Usage(
            calls=int(not self.cached),
            cache_hits=int(self.cached),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
            call_cost_usd=self.call_cost_usd,
            call_latency_ms=self.call_latency_ms,
        )


class UsageMeter:
    """Adds up the usage of the answers handed to it, for a caller that makes several calls.

    `structured` adds every attempt to the meter it is given, so the usage of a call that
    ended in an error (a retried answer that never validated) is counted all the same.
    """

    def __init__(self) -> None:
        self.total = Usage()

    def add(self, completion: Completion) -> Completion:
        """Count an answer's usage; returns the answer."""
        self.total += completion.usage
        return completion
