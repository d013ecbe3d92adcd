"""The one way the plugin calls a model: shared in-flight calls, cache, budget, limits, records.

The jobs live beside it: `completion.py` (the answer and its usage), `recording.py` (the call
store), `spending.py` (slot, budget and cost), `sending.py` (the SDK call and its refusals),
`profiles.py` (what each model accepts) and `structured.py` (validating structured answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from pytest_promptopt.errors import JudgeError, WriterError
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.clients import ClientPool, is_missing_credentials, missing_credentials
from pytest_promptopt.llm.completion import CallPurpose, Completion, UsageMeter
from pytest_promptopt.llm.limiter import AdaptiveLimiter, Permit, SharedLimit
from pytest_promptopt.llm.models import ModelRules, rules_for
from pytest_promptopt.llm.pricing import PriceTable
from pytest_promptopt.llm.profiles import ModelProfiles
from pytest_promptopt.llm.recording import CallRecorder
from pytest_promptopt.llm.requests import (
    build_schema_retry,
    build_structured_request,
    refusal_note,
    request_hash,
    response_parts,
)
from pytest_promptopt.llm.sending import RATE_LIMIT_PATIENCE_S, Sender
from pytest_promptopt.llm.spending import Spending, held_permit, holding
from pytest_promptopt.llm.structured import answer_of, validation_error
from pytest_promptopt.protocol import TOOL_MODELS
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from pytest_promptopt.llm.batches import BatchCollector
    from pytest_promptopt.llm.callstore import CallStore


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
        self._describe_first: tuple[str, ...] = tuple(describe_first)
        self.store = store
        self.batches = batches  # --promptopt-batch: evaluation calls go through batches
        self.budget = budget
        self.cache_mode = cache_mode
        self.run_id = run_id
        self.timeout_s = timeout_s
        self._clients = clients or ClientPool(timeout_s=timeout_s, max_retries=max_retries)
        self.prices = prices or PriceTable()
        self.limiter = AdaptiveLimiter(concurrency, shared=shared_limit)
        self.calls = 0
        self.cache_hits = 0
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self._profiles = ModelProfiles(store, self._clients, cache_mode=cache_mode)
        self._recorder = CallRecorder(store, cache_mode=cache_mode, run_id=run_id)
        self._spending = Spending(budget, self.limiter, self.prices)
        self._sender = Sender(
            self._clients,
            self.limiter,
            timeout_s=timeout_s,
            rate_limit_patience_s=rate_limit_patience_s,
        )

    async def send(
        self,
        request: dict[str, Any],
        sample: int,
        *,
        role: CallPurpose,
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
                if self.known_profile(other) is None:
                    self._profiles.start(other)
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
        self._recorder.count(completion)
        return completion

    async def _complete(
        self,
        request: dict[str, Any],
        key: str,
        *,
        role: CallPurpose,
        label: str,
        sample: int,
        requested: str | None,
    ) -> Completion:
        """The cache lookup, the budget reservation, the call and its record."""
        hit = await self._recorder.cached(key, role=role, label=label)
        if hit is not None:
            self.cache_hits += 1
            return hit
        # A beta request (`betas`, the `anthropic-beta` header) goes through the beta endpoint.
        batches = self.batches
        batched = batches is not None and role in _batched_roles() and "betas" not in request

        async def call(permit: Permit | None) -> dict[str, Any]:
            if batches is not None and batched:
                return await batches.send(request, key, what=f"{role} call for {label}")
            with holding(permit):
                return await self._send(request, role=role, label=label, sample=sample)

        response, spent = await self._spending.pay(request, call, batched=batched)
        self.calls += 1
        self._recorder.record(
            key, request, response, spent, role=role, sample=sample, requested=requested
        )
        return Completion.of(
            response,
            key,
            tokens=(spent.input_tokens, spent.output_tokens),
            cost=spent.cost_usd,
            latency_ms=spent.latency_ms,
            cached=False,
        )

    async def _send(
        self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
    ) -> dict[str, Any]:
        """Send through the SDK in the slot the call holds (`sending.py` retries refusals)."""
        model = str(request["model"])
        rules = self._profiles.read(model) or rules_for(model)
        return await self._sender.send(
            request, role=role, label=label, rules=rules, permit=held_permit(), sample=sample
        )

    def known_profile(self, model: str) -> ModelRules | None:
        """A model's rules when already known without a call: read this run, stored by an
        earlier one (`model_capabilities`), or, under replay, the table's; else None."""
        return self._profiles.known(model)

    async def profile(self, model: str) -> ModelRules:
        """A model's rules: the Models API's capabilities (asked once per model per run, and
        kept in the database) with the table's rules for the rest; the table's alone when
        the API cannot describe the model (a gateway alias, no credentials, replay)."""
        return await self._profiles.asked(model, self.known_profile(model))

    def structured_request(
        self, rules: ModelRules, *, role: CallPurpose, model: str, **call: Any
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
        role: CallPurpose,
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
        """A structured call validated against the tool's model; one retry, then JudgeError
        (the judge) or WriterError (a writer).

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
                self._recorder.forget([completion.request_hash])
                note = refusal_note(response_parts(completion.response).refusal)
                failure = JudgeError if role == "judge" else WriterError
                raise failure(f"{role} call for {label} was {note}; no {tool} answer")
            try:
                return model_cls.model_validate(answer_of(completion, tool, as_json)), completion
            except (ValidationError, ValueError) as exc:
                last_error = validation_error(exc)
                unusable.append(completion.request_hash)
                request = build_schema_retry(request, completion.content, last_error)
        self._recorder.forget(unusable)  # a later run asks again instead of erroring from cache
        first_line = last_error.splitlines()[0] if last_error else ""
        failure = JudgeError if role == "judge" else WriterError
        raise failure(
            f"{role} answer for {label} did not match the {tool} schema twice: {first_line}"
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


__all__ = ["LLMService", "request_hash"]
