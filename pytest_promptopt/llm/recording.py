"""The calls' rows in the call store: cached answers, recorded answers, the run's totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import CacheMissError
from pytest_promptopt.llm.completion import CallPurpose, Completion

if TYPE_CHECKING:
    from pytest_promptopt.llm.callstore import CallStore
    from pytest_promptopt.llm.spending import Spent


class CallRecorder:
    """Reads and writes the response cache as `cache_mode` says; counts the run's usage."""

    def __init__(self, store: CallStore, *, cache_mode: str, run_id: int | None) -> None:
        """`cache_mode` is `--promptopt-cache`; `run_id` None counts no run totals."""
        self.store = store
        self.cache_mode = cache_mode
        self.run_id = run_id

    async def cached(self, key: str, *, role: CallPurpose, label: str) -> Completion | None:
        """The recorded answer to `key` when the cache is read, else None (replay: an error)."""
        if self.cache_mode not in ("use", "replay"):
            return None
        hit = await self.store.lookup(key)
        if hit is not None:
            return Completion.of(
                hit.response,
                key,
                tokens=(hit.input_tokens, hit.output_tokens),
                cost=0.0,
                latency_ms=0.0,
                cached=True,
                call=(hit.cost_usd, hit.latency_ms),
            )
        if self.cache_mode == "replay":
            raise CacheMissError(
                f"--promptopt-cache=replay: no recorded {role} response for {label}; "
                "record it first with --promptopt-cache=use"
            )
        return None

    def record(
        self,
        key: str,
        request: dict[str, Any],
        response: dict[str, Any],
        spent: Spent,
        *,
        role: CallPurpose,
        sample: int,
        requested: str | None,
    ) -> None:
        """Keep a fresh answer in `llm_calls` (unless the cache is off; refresh overwrites)."""
        if self.cache_mode == "off":
            return
        self.store.record(
            {
                "request_hash": key,
                "model": str(request["model"]),
                "requested_model": requested,
                "role": role,
                "sample": sample,
                "request": request,
                "response": response,
                "input_tokens": spent.input_tokens,
                "output_tokens": spent.output_tokens,
                "cache_write_tokens": spent.cache_write_tokens,
                "cache_read_tokens": spent.cache_read_tokens,
                "cost_usd": spent.cost_usd,
                "latency_ms": spent.latency_ms,
                "run_id": self.run_id,
            },
            overwrite=self.cache_mode == "refresh",
        )

    def count(self, completion: Completion) -> None:
        """Add an answer's usage to the run's own totals (when there is a run)."""
        if self.run_id is None:
            return
        used, priced = completion.usage, completion.cost_usd is not None
        self.store.count(
            self.run_id,
            {
                "calls": used.calls,
                "cache_hits": used.cache_hits,
                "input_tokens": used.input_tokens,  # as the summary counts them
                "output_tokens": used.output_tokens,
                "cost_usd": used.cost_usd or 0.0,
                "unpriced_calls": 0 if priced else used.calls,
            },
        )

    def forget(self, hashes: list[str]) -> None:
        """Drop unusable answers from the cache, so a later run asks again (cache mode use)."""
        if self.cache_mode == "use":
            self.store.forget(hashes)
