"""The one way the plugin calls a model: cache lookup, budget, bounded concurrency, recording."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from pytest_promptopt.errors import BudgetExceededError, CacheMissError, JudgeError, LLMError
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.clients import ClientPool, is_missing_credentials, missing_credentials
from pytest_promptopt.llm.limiter import AdaptiveLimiter, Permit, SharedLimit
from pytest_promptopt.llm.models import Capabilities, ModelRules, profile, rules_for
from pytest_promptopt.llm.pricing import BATCH_DISCOUNT, PriceTable, TokenUsage, add_cost
from pytest_promptopt.llm.requests import (
    build_schema_retry,
    build_structured_request,
    refusal_note,
    request_hash,
    response_parts,
)
from pytest_promptopt.llm.send_options import (
    cache_tokens,
    request_timeout,
    with_prompt_cache,
    with_sample,
)
from pytest_promptopt.protocol import TOOL_MODELS
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from pytest_promptopt.llm.batches import BatchCollector
    from pytest_promptopt.llm.callstore import CallStore

Role = Literal["target", "judge", "generate", "analyze"]
M = TypeVar("M", bound=BaseModel)

RATE_LIMIT_PATIENCE_S = 600.0
"""How long one call keeps retrying 429/529 refusals before it is an item error."""
REFUSAL_BACKOFF_S = (0.5, 16.0)
"""First and longest wait before retrying a refusal that gave no `retry-after`."""

# The limiter slot the current task's call holds while `_send` runs (set by `_complete`).
_held_permit: ContextVar[Permit | None] = ContextVar("promptopt_held_permit", default=None)


@dataclass(frozen=True)
class Usage:
    """What some calls took: calls made, answers from the cache, tokens, dollars and time.

    `cost_usd` and `latency_ms` are what was spent now (nothing for a cache hit);
    `call_cost_usd` and `call_latency_ms` are those of the calls that made the answers, a
    cached answer's recorded with it (what `max_cost_usd` and `max_latency_ms` check). A cost
    is None (unknown) once any call was to a model without a known price.
    """

    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_ms: float = 0.0
    call_cost_usd: float | None = 0.0
    call_latency_ms: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        """The usage of both."""
        return Usage(
            self.calls + other.calls,
            self.cache_hits + other.cache_hits,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            add_cost(self.cost_usd, other.cost_usd),
            self.latency_ms + other.latency_ms,
            add_cost(self.call_cost_usd, other.call_cost_usd),
            self.call_latency_ms + other.call_latency_ms,
        )

    def as_dict(self) -> dict[str, float | None]:
        """The figures spent by name (a case result's `unscored`)."""
        data = dataclasses.asdict(self)
        del data["call_cost_usd"], data["call_latency_ms"]
        return data


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


class LLMService:
    """Calls models through the SDK with the response cache, the budget and a concurrency bound."""

    def __init__(
        self,
        *,
        store: CallStore,
        budget: Budget,
        cache_mode: str,
        concurrency: int,
        timeout_s: float | None,
        max_retries: int,
        run_id: int | None = None,
        clients: ClientPool | None = None,
        shared_limit: SharedLimit | None = None,
        rate_limit_patience_s: float = RATE_LIMIT_PATIENCE_S,
        prices: PriceTable | None = None,
        batches: BatchCollector | None = None,
        role_params: Mapping[str, Mapping[str, Any]] | None = None,
        offline: bool = False,
        describe_first: tuple[str, ...] = (),
    ) -> None:
        """`timeout_s` None sizes each request's timeout from its max_tokens (`send_options.py`).

        `role_params` are the structured roles' own parameters by role (`judge`: the judge's
        `--promptopt-judge-params`; `generate`, `analyze`: `--promptopt-optimizer-params`).
        `offline` (the model under test is `simulated`) sends every call to the simulator.
        `describe_first` names the structured roles' models: the first call of the run starts
        asking the Models API about them, so the first judge calls need not wait for it (and
        lose their place to the next cases' calls).
        """
        self.offline = offline
        self.role_params = {k: dict(v) for k, v in (role_params or {}).items()}
        self._profiles: dict[str, ModelRules] = {}
        self._profile_tasks: dict[str, asyncio.Future[ModelRules]] = {}
        self._unstored: set[str] = set()  # models with no stored capabilities (asked once)
        self._describe_first: tuple[str, ...] = tuple(describe_first)
        self.store = store
        self.batches = batches  # --promptopt-batch: evaluation calls go through batches
        self.budget = budget
        self.cache_mode = cache_mode
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.rate_limit_patience_s = rate_limit_patience_s
        self._clients = clients or ClientPool(timeout_s=timeout_s, max_retries=max_retries)
        self.prices = prices or PriceTable()
        self.limiter = AdaptiveLimiter(concurrency, shared=shared_limit)
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
        request, requested = self.routed(request)
        if requested is not None:
            key = None  # the caller's key was of the request as it named it
        if self._describe_first:  # the structured roles' models, asked while this call runs
            for other in self._describe_first:
                if self.known_profile(other) is None and other not in self._profile_tasks:
                    self._profile_tasks[other] = asyncio.ensure_future(self._describe(other))
            self._describe_first = ()
        key = key or request_hash(request, sample)
        shared = self._inflight.get(key)
        if shared is not None:
            # The same request is already on its way: wait for it instead of sending it twice.
            first = await asyncio.shield(shared)
            self.cache_hits += 1
            return self._counted(first.shared())
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            try:
                completion = await self._complete(
                    request, key, role=role, label=label, sample=sample, requested=requested
                )
            except Exception as exc:
                if is_missing_credentials(exc):  # the SDK found no key, token or profile
                    raise missing_credentials(label, exc) from None
                raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        else:
            future.set_result(completion)
            return self._counted(completion)
        finally:
            del self._inflight[key]

    def routed(self, request: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The request as sent, and the model it named when the simulator answers instead.

        Offline (`--promptopt-model=simulated`) every call goes to the simulator, whatever
        model a suite, variant, target or judge setting names.
        """
        model = str(request["model"])
        if not self.offline or model == SIMULATED_MODEL:
            return request, None
        return {**request, "model": SIMULATED_MODEL}, model

    def key_of(self, request: dict[str, Any], sample: int) -> str:
        """The cache key `send` will use for this request and sample."""
        return request_hash(self.routed(request)[0], sample)

    def _counted(self, completion: Completion) -> Completion:
        """Add an answer's usage to the run's own totals; returns the answer."""
        if self.run_id is not None:
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
        return completion

    async def _complete(
        self,
        request: dict[str, Any],
        key: str,
        *,
        role: Role,
        label: str,
        sample: int,
        requested: str | None,
    ) -> Completion:
        """The cache lookup, the budget reservation, the call and its record."""
        model = str(request["model"])
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
                    call=(hit.cost_usd, hit.latency_ms),
                )
            if self.cache_mode == "replay":
                raise CacheMissError(
                    f"--promptopt-cache=replay: no recorded {role} response for {label}; "
                    "record it first with --promptopt-cache=use"
                )
        # A beta request (`betas`, the `anthropic-beta` header) goes through the beta endpoint.
        batched = self.batches is not None and role in _batched_roles() and "betas" not in request
        estimate = self.prices.estimate(model, _estimate_tokens(request), max_tokens)
        # The budget is claimed once a slot is free, so calls take it in priority order: a
        # started case's judge call comes before the next case's first call, and a cap ends
        # with finished cases rather than many half-done ones. Batched calls take no slot.
        async with contextlib.nullcontext() if batched else self.limiter.slot() as permit:
            reservation = self.budget.reserve(estimate * BATCH_DISCOUNT if batched else estimate)
            actual: float | None = None
            try:
                started = time.perf_counter()
                if self.batches is not None and batched:
                    what = f"{role} call for {label}"
                    response = await self.batches.send(request, key, what=what)
                else:
                    held = _held_permit.set(permit)
                    try:
                        response = await self._send(request, role=role, label=label, sample=sample)
                    finally:
                        _held_permit.reset(held)
                latency_ms = (time.perf_counter() - started) * 1000
                usage = TokenUsage.of(response.get("usage"))
                in_tok, out_tok = usage.input_tokens, usage.output_tokens
                cache_write, cache_read = cache_tokens(response.get("usage") or {})
                actual = self.cost_of(model, response.get("usage"), batch=batched)
            finally:
                self.budget.settle(reservation, actual)
        if actual is None:
            self.budget.note_unpriced()
        self.calls += 1
        if self.cache_mode != "off":
            self.store.record(
                {
                    "request_hash": key,
                    "model": model,
                    "requested_model": requested,
                    "role": role,
                    "sample": sample,
                    "request": request,
                    "response": response,
                    "input_tokens": in_tok,
                    "output_tokens": out_tok,
                    "cache_write_tokens": cache_write,
                    "cache_read_tokens": cache_read,
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

    def cost_of(
        self, model: str, usage: dict[str, Any] | None, *, batch: bool = False
    ) -> float | None:
        """A call's cost from its response's `usage`, cache tokens included, as the API bills it.

        `batch` applies the Message Batches discount; None when the model has no known price.
        """
        return self.prices.bill(model, TokenUsage.of(usage), batch=batch)

    async def _send(
        self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
    ) -> dict[str, Any]:
        """Send through the SDK, retrying 429/529 refusals here so the limiter adapts to them.

        The SDK retries the other transient failures (5xx, timeouts, connection errors); a
        refusal gives the slot back, shrinks the limit, and queues the call again after any
        `retry-after`, until `rate_limit_patience_s` has passed since the first refusal.
        """
        import anthropic

        permit = _held_permit.get()

        client = self._clients.for_model(request["model"])
        wire = with_sample(with_prompt_cache(request), sample)
        # A suite's `params: {timeout: S}` is the SDK's keyword, not a body field: it wins over
        # the sized timeout (and `--promptopt-timeout`) for that suite's calls.
        own_timeout = wire.pop("timeout", None)
        max_tokens = int(request["max_tokens"])
        timeout = (
            float(own_timeout)
            if own_timeout is not None
            else request_timeout(max_tokens, self.timeout_s)
        )
        rules = self._profiles.get(str(request["model"])) or rules_for(str(request["model"]))
        # The SDK refuses a non-streaming request that could take over ten minutes: stream it,
        # and keep its final message as the answer (recorded, cached and replayed the same).
        streamed = max_tokens > rules.nonstreaming_max_tokens
        first_refusal: float | None = None
        refusals = 0
        while True:
            try:
                # A beta call goes with the `anthropic-beta` header the SDK builds from `betas`.
                api = client.beta.messages if "betas" in wire else client.messages
                if streamed:
                    async with api.stream(**wire, timeout=timeout) as stream:
                        message = await stream.get_final_message()
                    headers = stream.response.headers
                else:
                    raw = await api.with_raw_response.create(**wire, timeout=timeout)
                    message = await raw.parse()
                    headers = raw.headers
            except anthropic.APIStatusError as exc:
                if exc.status_code not in (429, 529):
                    raise _status_error(exc, role, label) from None
                now = time.monotonic()
                first_refusal = first_refusal if first_refusal is not None else now
                retry_after = _retry_after_s(exc.response.headers)
                self.limiter.refused(permit or Permit(0.0, -1), retry_after)
                self.limiter.read_headers(exc.response.headers)
                refusals += 1
                if now - first_refusal > self.rate_limit_patience_s:
                    raise _refused_error(exc, role, label, refusals, now - first_refusal) from None
                backoff = 0.0
                if not retry_after:  # no wait asked for: back off exponentially instead
                    first, longest = REFUSAL_BACKOFF_S
                    backoff = min(longest, first * 2 ** (refusals - 1)) * random.uniform(0.75, 1)
                if permit is not None:
                    await self.limiter.requeue(permit, backoff)
                else:  # sent outside a slot: wait out the refusal on our own
                    await asyncio.sleep(max(backoff, retry_after or 0.0))
                continue
            except anthropic.APITimeoutError:
                raise LLMError(
                    f"{role} call for {label} timed out after {timeout:g} s and retries "
                    "(raise --promptopt-timeout if the model is just slow)"
                ) from None
            except anthropic.APIConnectionError as exc:
                raise LLMError(
                    f"{role} call for {label} could not connect after retries: "
                    f"{exc.__cause__ or exc}"
                ) from None
            self.limiter.succeeded(headers)
            dumped: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
            if streamed:  # what the accumulated message adds to a plain one
                for block in dumped.get("content") or []:
                    if isinstance(block, dict):
                        block.pop("parsed_output", None)
            return dumped

    def known_profile(self, model: str) -> ModelRules | None:
        """A model's rules when already known without a call: read this run, stored by an
        earlier one (`model_capabilities`), or, under replay, the table's; else None."""
        known = self._profiles.get(model)
        if known is not None or model in self._unstored:
            return known
        if model == SIMULATED_MODEL:  # our own simulator: what it would answer is the table's
            known = self._profiles[model] = rules_for(model)
            return known
        try:
            stored = self.store.capabilities(model)
        except Exception:  # an unreadable row: ask the API again
            stored = None
        if stored is None and self.cache_mode != "replay":
            self._unstored.add(model)
        if stored is not None:
            known = profile(model, Capabilities.from_row(stored))
        elif self.cache_mode == "replay":
            known = rules_for(model)
        if known is not None:
            self._profiles[model] = known
        return known

    async def profile(self, model: str) -> ModelRules:
        """A model's rules: the Models API's capabilities (asked once per model per run, and
        kept in the database) with the table's rules for the rest; the table's alone when
        the API cannot describe the model (a gateway alias, no credentials, replay)."""
        known = self.known_profile(model)
        if known is not None:
            return known
        task = self._profile_tasks.get(model)
        if task is None:
            task = asyncio.ensure_future(self._describe(model))
            self._profile_tasks[model] = task
        return await asyncio.shield(task)

    async def _describe(self, model: str) -> ModelRules:
        """Ask the Models API what `model` supports; the table's rules when it cannot say."""
        try:
            client = self._clients.for_model(model)
            info = await client.models.retrieve(model, timeout=30.0)
            raw = info.capabilities.model_dump(mode="json") if info.capabilities else None
        except Exception:  # 404 for an alias, no credentials, no network: the table decides
            raw = None
        if raw is None:
            rules = rules_for(model)
        else:
            capabilities = Capabilities.of(raw)
            rules = profile(model, capabilities)
            with contextlib.suppress(Exception):  # a read-only database still runs
                self.store.record_capabilities(model, capabilities.as_row())
        self._profiles[model] = rules
        return rules

    def structured_request(
        self, rules: ModelRules, *, role: Role, model: str, **call: Any
    ) -> dict[str, Any]:
        """The first request of a structured call, shaped for what the model accepts."""
        params = self.role_params.get(role) or {}
        thinking = params.get("thinking")
        return build_structured_request(
            model=model,
            shape=rules.shape(thinking if isinstance(thinking, Mapping) else None),
            params=params,
            **call,
        )

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
        """A structured call validated against the tool's model; one retry, then JudgeError.

        The answer is asked for with structured outputs where the model has them, else with a
        tool (forced only when the model cannot think). An answer that fails validation is
        answered with the error: the retry sends the conversation on, the bad answer as the
        assistant's turn and the error as a `tool_result` with `is_error` (or, with no tool
        call to answer, a user turn), cached like any call. A refusal is the caller's error
        at once. Returns the validated answer and the completion it came from. `key` is the
        first attempt's `request_hash` when the caller has already computed it; every
        attempt's usage is added to `meter` when one is given; `tool_model` replaces the model
        registered for `tool` (a judge schema built from a suite's criteria).
        """
        model_cls = tool_model or TOOL_MODELS[tool]
        rules = await self.profile(model)
        request = self.structured_request(
            rules,
            role=role,
            model=model,
            system=system,
            instructions=instructions,
            payload=payload,
            tool=tool,
            max_tokens=max_tokens,
            tool_model=tool_model,
        )
        as_json = "format" in (request.get("output_config") or {})
        last_error = ""
        unusable: list[str] = []
        for attempt in range(2):
            completion = await self.send(
                request, sample, role=role, label=label, key=None if attempt else key
            )
            if meter is not None:
                meter.add(completion)
            if completion.stop_reason == "refusal":
                if self.cache_mode == "use":
                    self.store.forget([completion.request_hash])
                note = refusal_note(response_parts(completion.response).refusal)
                raise JudgeError(f"{role} call for {label} was {note}; no {tool} answer")
            try:
                return model_cls.model_validate(_answer_of(completion, tool, as_json)), completion
            except (ValidationError, ValueError) as exc:
                last_error = _validation_error(exc)
                unusable.append(completion.request_hash)
                request = build_schema_retry(request, completion.content, last_error)
        if self.cache_mode == "use":
            self.store.forget(unusable)  # a later run asks again instead of erroring from cache
        first_line = last_error.splitlines()[0] if last_error else ""
        raise JudgeError(
            f"{role} answer for {label} did not match the {tool} schema twice: {first_line}"
        )

    async def aclose(self) -> None:
        """Close the SDK clients and flush recorded calls."""
        if self.batches is not None:
            await self.batches.aclose()
        await self._clients.aclose()
        self.store.flush()


def _status_error(exc: Any, role: str, label: str) -> LLMError:
    """The item error of an HTTP error answer the SDK gave up on."""
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = (body.get("error") or {}).get("message") if body else None
    return LLMError(
        f"{role} call for {label} failed after retries: HTTP {exc.status_code}"
        f" {detail or exc.message} (request id {exc.request_id or 'unknown'})",
        status=exc.status_code,
        request_id=exc.request_id,
    )


def _refused_error(exc: Any, role: str, label: str, refusals: int, waited_s: float) -> LLMError:
    """The item error of a call refused (429/529) for longer than the service waits."""
    if exc.status_code == 429:
        cause, why = "rate limited (429)", "the account's limits left no room"
    else:
        cause, why = "overloaded (529)", "the API stayed overloaded"
    return LLMError(
        f"{role} call for {label} was {cause} {refusals} times over {waited_s:.0f} s: {why}; "
        f"lower --promptopt-concurrency or run later (request id {exc.request_id or 'unknown'})",
        status=exc.status_code,
        request_id=exc.request_id,
    )


def _retry_after_s(headers: Any) -> float | None:
    """The wait a refusal asks for (`retry-after-ms`, or `retry-after` in seconds), or None."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def _validation_error(exc: Exception) -> str:
    """What was wrong with a structured answer, one line per problem, as the model reads it."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            + (f" (got {repr(error['input'])[:120]})" if error["type"] != "missing" else "")
            for error in exc.errors(include_url=False)
        ]
        return f"{len(problems)} validation error(s): " + "; ".join(problems)
    return str(exc)


def _answer_of(completion: Completion, tool: str, as_json: bool) -> dict[str, Any]:
    """A structured answer's object: the JSON text (structured outputs) or the tool's input."""
    if as_json:
        try:
            value = json.loads(completion.text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(value, dict):
            raise ValueError("the answer is not a JSON object")
        return value
    calls = [c for c in completion.tool_calls if c.get("name") == tool]
    if not calls:
        raise ValueError("the answer has no tool call")
    answer: dict[str, Any] = calls[0]["input"]
    return answer


def _batched_roles() -> frozenset[str]:
    """The roles `--promptopt-batch` sends through the Message Batches API."""
    from pytest_promptopt.llm.batches import BATCHED_ROLES

    return BATCHED_ROLES


def _estimate_tokens(request: dict[str, Any]) -> int:
    """A generous upper estimate of input tokens (4 characters per token, rounded up)."""
    return len(json.dumps(request, default=str)) // 3 + 16


__all__ = ["BudgetExceededError", "Completion", "LLMService", "Usage", "UsageMeter", "request_hash"]
