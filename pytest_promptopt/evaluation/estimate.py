"""The calls, tokens and dollars a plain run of some cases would make, read from the cache.

Each sample's requests are rendered exactly as the run renders them and looked up by the
hash the model service uses; a cached answer costs nothing and lets the next request (a later
turn, the judge's) be rendered and looked up in turn. A call that is not cached is counted at
its estimated input (characters / 4) and at most its `max_tokens` of output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.judge_calls import JudgeCalls
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.batches import BATCHED_ROLES
from pytest_promptopt.llm.callstore import CachedCall
from pytest_promptopt.llm.completion import Completion
from pytest_promptopt.llm.models import rules_for
from pytest_promptopt.llm.pricing import PriceTable, TokenUsage
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.suites.agent import max_calls_per_sample, runs_tools
from pytest_promptopt.suites.spec import Case, Suite

CHARS_PER_TOKEN = 4
"""Input tokens of a call not in the cache: the request's characters / 4."""


@dataclass
class RoleTally:
    """One role's calls: made (expected, and at most), served by the cache, tokens, dollars.

    Tokens and dollars of uncached calls are bounds: output at `max_tokens`, input at
    characters / 4; a cached call adds its recorded tokens and no dollars.
    """

    calls: int = 0
    max_calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0

    def add_cost(self, dollars: float | None) -> None:
        """Add a call's dollars (None, an unpriced model, makes the total unknown)."""
        self.cost_usd = (
            None if dollars is None or self.cost_usd is None else self.cost_usd + dollars
        )

    def as_dict(self) -> dict[str, Any]:
        """The figures for JSON."""
        cost = None if self.cost_usd is None else round(self.cost_usd, 6)
        return {
            "calls": self.calls,
            "max_calls": self.max_calls,
            "cached": self.cached,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": cost,
        }


@dataclass
class RunEstimate:
    """Per role, the calls of a plain run; the cases whose calls cannot be known ahead."""

    roles: dict[str, RoleTally] = field(default_factory=dict)
    cases: int = 0
    unknown: list[str] = field(default_factory=list)

    def role(self, name: str) -> RoleTally:
        """The tally of one role (created empty)."""
        return self.roles.setdefault(name, RoleTally())


def _tokens(request: dict[str, Any]) -> int:
    """A cheap estimate of a request's input tokens: its text's characters / 4."""
    sent = {k: request.get(k) for k in ("system", "messages", "tools", "output_config")}
    return len(json.dumps(sent, ensure_ascii=False, default=str)) // CHARS_PER_TOKEN


class CallCounter:
    """Walks cases as the evaluator calls for them, looking each request up in the cache."""

    def __init__(self, llm: LLMService, judge: JudgeCalls, model: str, *, batch: bool) -> None:
        self.llm = llm
        self.judge = judge
        self.model = model
        self.batch = batch
        self.estimate = RunEstimate()
        self._seen: set[str] = set()  # keys the run makes once and then shares
        rules = llm.known_profile(judge.model)
        self._judge_rules = rules or rules_for(judge.model)
        self._prices: PriceTable = llm.prices

    def count(self, jobs: Sequence[tuple[Suite, str, Case]]) -> RunEstimate:
        """Count every sample of these (suite, prompt, case) jobs; returns the estimate."""
        for suite, prompt, case in jobs:
            self.estimate.cases += 1
            if suite.target is not None:
                self.estimate.unknown.append(f"{suite.name}[{case.id}]: a target function")
                continue
            if case.user is not None:
                most = max_calls_per_sample(suite, case) * suite.repeats_for(case)
                self.estimate.unknown.append(
                    f"{suite.name}[{case.id}]: a simulated user (up to {most} target calls, "
                    f"{(case.user.max_turns + 1) * suite.repeats_for(case)} user calls)"
                )
                continue
            if runs_tools(suite, case):
                most = max_calls_per_sample(suite, case) * suite.repeats_for(case)
                self.estimate.unknown.append(
                    f"{suite.name}[{case.id}]: a tool loop (up to {most} target calls)"
                )
                continue
            try:
                target = TargetCase.render(suite, case, prompt, self.model)
            except SuiteError:
                self.estimate.unknown.append(f"{suite.name}[{case.id}]: does not render")
                continue
            for k in range(suite.repeats_for(case)):
                self._sample(target, k)
        return self.estimate

    def _lookup(self, request: dict[str, Any], k: int) -> tuple[str, CachedCall | None]:
        """The request's key and its cached call (None when the run would make it)."""
        key = self.llm.key_of(request, k)
        if self.llm.cache_mode not in ("use", "replay") or key in self._seen:
            return key, None
        return key, self.llm.store.preload([key]).get(key)

    def _tally(
        self,
        role: str,
        request: dict[str, Any],
        key: str | None,
        hit: CachedCall | None,
        extra_input: int = 0,
        retries: int = 0,
    ) -> None:
        """Add one call: free when cached or already made this run, else its bounds."""
        tally = self.estimate.role(role)
        if hit is not None or (key is not None and key in self._seen):
            tally.cached += 1
            if hit is not None:
                tally.input_tokens += hit.input_tokens
                tally.output_tokens += hit.output_tokens
            return
        if key is not None:
            self._seen.add(key)
        tally.calls += 1
        tally.max_calls += 1 + retries
        prompt, output = _tokens(request) + extra_input, int(request.get("max_tokens") or 0)
        tally.input_tokens += prompt
        tally.output_tokens += output
        price = self._prices.price(str(self.llm.routed(request)[0]["model"]))
        batched = self.batch and role in BATCHED_ROLES and "betas" not in request
        dollars = None if price is None else price.bill(TokenUsage(prompt, output), batch=batched)
        # ...and a schema retry of a structured answer at most doubles it.
        tally.add_cost(None if dollars is None else dollars * (1 + retries))

    def _sample(self, target: TargetCase, k: int) -> None:
        """Sample k: the target's turns while cached, the rest uncached, then the judge."""
        exchange = target.opening()
        answer: Completion | None = None
        pending = 0  # output tokens of uncached earlier turns the next requests carry
        for turn in range(target.turn_count):
            if turn:
                if answer is None:  # the earlier answer is unknown: so is every later request
                    exchange = Exchange(
                        (*exchange.messages, {"role": "user", "content": ""}),
                        exchange.transcript,
                    )
                else:
                    exchange = target.next_turn(exchange, answer, turn)
            request = target.request(exchange, k)
            key, hit = self._lookup(request, k) if answer is not None or not turn else (None, None)
            self._tally("target", request, key, hit, extra_input=pending)
            if hit is None:
                pending += int(request.get("max_tokens") or 0)
                answer = None
                continue
            answer = Completion.of(
                hit.response,
                key or "",
                tokens=(hit.input_tokens, hit.output_tokens),
                cost=0.0,
                latency_ms=0.0,
                cached=True,
            )
            if answer.stop_reason == "refusal":
                return  # a refused turn ends the conversation, and is never judged
        if target.case.judge:
            self._judge(target, exchange, answer, k, pending)

    def _judge(
        self, target: TargetCase, exchange: Exchange, answer: Completion | None, k: int, extra: int
    ) -> None:
        """The judge's repeats: looked up when the answer is known, else counted uncached."""
        judged = Answer.of(answer) if answer is not None else Answer("")
        for repeat in range(self.judge.repeats):
            request = self.judge.request(target, exchange, judged, k, repeat, self._judge_rules)
            assert request is not None  # the rules are given
            key, hit = self._lookup(request, k) if answer is not None else (None, None)
            self._tally("judge", request, key, hit, extra_input=extra, retries=1)
