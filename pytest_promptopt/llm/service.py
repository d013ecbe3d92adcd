"""The one way the plugin calls a model: cache lookup, budget, bounded concurrency, recording."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from pytest_promptopt.errors import BudgetExceededError, CacheMissError, JudgeError, LLMError
from pytest_promptopt.llm import pricing
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.clients import ClientPool, has_credentials, missing_credentials
from pytest_promptopt.llm.limiter import PriorityLimiter
from pytest_promptopt.llm.pricing import cost_usd, price_for
from pytest_promptopt.llm.requests import (
    RETRY_SAMPLE_OFFSET,
    build_structured_request,
    request_hash,
    response_parts,
)
from pytest_promptopt.protocol import TOOL_MODELS
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from pytest_promptopt.llm.batches import BatchCollector
    from pytest_promptopt.llm.callstore import CallStore

Role = Literal["target", "judge", "generate", "analyze"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Usage:
    """What some calls took: calls made, answers from the cache, tokens, dollars and time."""

    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        """The usage of both."""
        return Usage(
            self.calls + other.calls,
            self.cache_hits + other.cache_hits,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_usd + other.cost_usd,
            self.latency_ms + other.latency_ms,
        )

    def as_dict(self) -> dict[str, float]:
        """The figures by name (a case result's `unscored`)."""
        return dataclasses.asdict(self)


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
    cost_usd: float
    latency_ms: float
    cached: bool
    request_hash: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = None
    content: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(
        cls,
        response: dict[str, Any],
        key: str,
        *,
        tokens: tuple[int, int],
        cost: float,
        latency_ms: float,
        cached: bool,
    ) -> Completion:
        """The completion of a Messages API response (fresh or from the cache)."""
        parts = response_parts(response)
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
        )

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


class LLMService:
    """Calls models through the SDK with the response cache, the budget and a concurrency bound."""

    def __init__(
        self,
        *,
        store: CallStore,
        budget: Budget,
        cache_mode: str,
        concurrency: int,
        timeout_s: float,
        max_retries: int,
        run_id: int | None = None,
        clients: ClientPool | None = None,
        batches: BatchCollector | None = None,
    ) -> None:
        self.store = store
        self.batches = batches  # --promptopt-batch: evaluation calls go through batches
        self.budget = budget
        self.cache_mode = cache_mode
        self.run_id = run_id
        self._clients = clients or ClientPool(timeout_s=timeout_s, max_retries=max_retries)
        self._limiter = PriorityLimiter(concurrency)
        self.calls = 0
        self.cache_hits = 0
        self._inflight: dict[str, asyncio.Future[Completion]] = {}

    async def send(
        self,
        request: dict[str, Any],
        sample: int,
        *,
        role: Role,
        label: str,
        key: str | None = None,
    ) -> Completion:
        """Send a built request (see `build_request`), sharing identical ones in flight.

        `key` is the request's `request_hash` when the caller has already computed it.
        """
        model = str(request["model"])
        key = key or request_hash(request, sample)
        shared = self._inflight.get(key)
        if shared is not None:
            # The same request is already on its way: wait for it instead of sending it twice.
            first = await asyncio.shield(shared)
            self.cache_hits += 1
            return dataclasses.replace(first, cached=True, cost_usd=0.0, latency_ms=0.0)
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            completion = await self._complete(request, key, role=role, label=label, model=model)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        else:
            future.set_result(completion)
            return completion
        finally:
            del self._inflight[key]

    async def _complete(
        self, request: dict[str, Any], key: str, *, role: Role, label: str, model: str
    ) -> Completion:
        """The cache lookup, the budget reservation, the call and its record."""
        max_tokens = int(request["max_tokens"])
        if self.cache_mode in ("use", "replay"):
            hit = await self.store.lookup(key)
            if hit is not None:
                self.cache_hits += 1
                return Completion.of(
                    hit.response,
                    key,
                    tokens=(hit.input_tokens, hit.output_tokens),
                    cost=0.0,
                    latency_ms=0.0,
                    cached=True,
                )
            if self.cache_mode == "replay":
                raise CacheMissError(
                    f"--promptopt-cache=replay: no recorded {role} response for {label}; "
                    "record it first with --promptopt-cache=use"
                )
        if model != SIMULATED_MODEL and not has_credentials():
            raise missing_credentials(label)
        batched = self.batches is not None and role in _batched_roles()
        estimate = price_for(model).cost(_estimate_tokens(request), max_tokens)
        # The budget is claimed once a slot is free, so calls take it in priority order: a
        # started case's judge call comes before the next case's first call, and a cap ends
        # with finished cases rather than many half-done ones. Batched calls take no slot.
        async with contextlib.nullcontext() if batched else self._limiter.slot():
            reservation = self.budget.reserve(pricing.batch(estimate) if batched else estimate)
            actual: float | None = None
            try:
                started = time.perf_counter()
                if self.batches is not None and batched:
                    what = f"{role} call for {label}"
                    response = await self.batches.send(request, key, what=what)
                else:
                    response = await self._send(request, role=role, label=label)
                latency_ms = (time.perf_counter() - started) * 1000
                usage = response.get("usage") or {}
                in_tok = int(usage.get("input_tokens") or 0)
                out_tok = int(usage.get("output_tokens") or 0)
                actual = cost_usd(model, in_tok, out_tok)
                actual = pricing.batch(actual) if batched else actual
            finally:
                self.budget.settle(reservation, actual)
        self.calls += 1
        if self.cache_mode != "off":
            self.store.record(
                {
                    "request_hash": key,
                    "model": model,
                    "role": role,
                    "request": request,
                    "response": response,
                    "input_tokens": in_tok,
                    "output_tokens": out_tok,
                    "cost_usd": actual,
                    "latency_ms": latency_ms,
                    "run_id": self.run_id,
                },
                overwrite=self.cache_mode == "refresh",
            )
        return Completion.of(
            response,
            key,
            tokens=(in_tok, out_tok),
            cost=actual,
            latency_ms=latency_ms,
            cached=False,
        )

    async def _send(self, request: dict[str, Any], *, role: str, label: str) -> dict[str, Any]:
        """Send through the SDK (which retries 429/5xx/connection errors with backoff)."""
        import anthropic

        client = self._clients.for_model(request["model"])
        try:
            message = await client.messages.create(**request)
        except anthropic.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = (body.get("error") or {}).get("message") if body else None
            raise LLMError(
                f"{role} call for {label} failed after retries: HTTP {exc.status_code}"
                f" {detail or exc.message} (request id {exc.request_id or 'unknown'})",
                status=exc.status_code,
                request_id=exc.request_id,
            ) from None
        except anthropic.APITimeoutError:
            raise LLMError(
                f"{role} call for {label} timed out after retries "
                "(raise --promptopt-timeout if the model is just slow)"
            ) from None
        except anthropic.APIConnectionError as exc:
            raise LLMError(
                f"{role} call for {label} could not connect after retries: {exc.__cause__ or exc}"
            ) from None
        dumped: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
        return dumped

    async def structured(
        self,
        *,
        role: Role,
        model: str,
        system: str,
        instructions: str,
        payload: dict[str, Any],
        tool: str,
        label: str,
        sample: int = 0,
        max_tokens: int = 2048,
        key: str | None = None,
        meter: UsageMeter | None = None,
        tool_model: type[BaseModel] | None = None,
    ) -> tuple[Any, Completion]:
        """A forced-tool call validated against the tool's model; one retry, then JudgeError.

        Returns the validated answer and the completion it came from. `key` is the first
        attempt's `request_hash` when the caller has already computed it; every attempt's
        usage is added to `meter` when one is given; `tool_model` replaces the model
        registered for `tool` (a judge schema built from a suite's criteria).
        """
        model_cls = tool_model or TOOL_MODELS[tool]
        last_error = ""
        unusable: list[str] = []
        for attempt in range(2):
            # A retry is a different request, so a bad cached answer is not served again.
            request = build_structured_request(
                model=model,
                system=system,
                instructions=instructions,
                payload=payload,
                tool=tool,
                max_tokens=max_tokens,
                sample=sample + attempt * RETRY_SAMPLE_OFFSET,
                tool_model=tool_model,
            )
            completion = await self.send(
                request,
                sample + attempt * RETRY_SAMPLE_OFFSET,
                role=role,
                label=label,
                key=None if attempt else key,
            )
            if meter is not None:
                meter.add(completion)
            try:
                if completion.tool_input is None:
                    raise ValueError("the answer has no tool call")
                return model_cls.model_validate(completion.tool_input), completion
            except (ValidationError, ValueError) as exc:
                last_error = str(exc).splitlines()[0]
                unusable.append(completion.request_hash)
        if self.cache_mode == "use":
            self.store.forget(unusable)  # a later run asks again instead of erroring from cache
        raise JudgeError(
            f"{role} answer for {label} did not match the {tool} schema twice: {last_error}"
        )

    async def aclose(self) -> None:
        """Close the SDK clients and flush recorded calls."""
        if self.batches is not None:
            await self.batches.aclose()
        await self._clients.aclose()
        self.store.flush()


def _batched_roles() -> frozenset[str]:
    """The roles `--promptopt-batch` sends through the Message Batches API."""
    from pytest_promptopt.llm.batches import BATCHED_ROLES

    return BATCHED_ROLES


def _estimate_tokens(request: dict[str, Any]) -> int:
    """A generous upper estimate of input tokens (4 characters per token, rounded up)."""
    return len(json.dumps(request, default=str)) // 3 + 16


__all__ = ["BudgetExceededError", "Completion", "LLMService", "Usage", "UsageMeter", "request_hash"]
