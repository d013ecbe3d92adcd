"""Producing the answer to judge: the model under test's calls, turn by turn, or the team's
`target` function with its calls counted."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.completion import Completion, UsageMeter
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.suites.agent import runs_tools

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.own_code import TargetRunner


@dataclass(frozen=True)
class Produced:
    """An answer to judge and how it came about: the conversation, the calls, their figures.

    `latency_ms` is the target function's own time when one produced the answer (None: the
    calls' latencies add up to it); `helpers` are the calls a simulated user made.
    """

    exchange: Exchange
    answer: Answer
    parts: list[Completion] = field(default_factory=list)
    max_tokens: int | None = None
    latency_ms: float | None = None
    helpers: list[Completion] = field(default_factory=list)  # a simulated user's calls


class Producer:
    """Gets sample k's answer to a case from the model under test or the suite's target."""

    def __init__(self, llm: LLMService, own_code: OwnCode, user_model: str = "") -> None:
        self.llm = llm
        self.own_code = own_code
        self.user_model = user_model
        self._runner: TargetRunner | None = None

    async def produce(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> Produced:
        """Sample k's answer, every call's usage counted in `meter`; `key`: the first call's
        prefetched hash."""
        if target.suite.target is not None:
            return await self._from_target(target, k, label, meter)
        if target.case.user is not None:
            from pytest_promptopt.evaluation.conversation import Conversation

            talk = Conversation(self.llm, self.own_code, self.user_model or target.model)
            exchange, answer, parts, max_tokens, said = await talk.run(target, k, label, key, meter)
            return Produced(exchange, answer, parts, max_tokens, helpers=said)
        if runs_tools(target.suite, target.case):
            from pytest_promptopt.evaluation.agent_loop import AgentLoop

            loop = AgentLoop(self.llm, self.own_code)
            exchange, answer, parts, max_tokens = await loop.run(target, k, label, key, meter)
            return Produced(exchange, answer, parts, max_tokens)
        return await self._converse(target, k, label, key, meter)

    async def _converse(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> Produced:
        """Every call of sample k: the last exchange, the answers and the last `max_tokens`."""
        exchange = target.opening()
        answers: list[Completion] = []
        request: dict[str, Any] = {}
        for turn in range(target.turn_count):
            if turn:
                exchange = target.next_turn(exchange, answers[-1], turn)
            request = target.request(exchange, k)
            answer = await self.llm.send(
                request,
                k,
                role="target",
                label=label + (f" turn {turn + 1}" if target.turn_count > 1 else ""),
                key=key if turn == 0 else None,
            )
            answers.append(meter.add(answer))
            if answer.stop_reason == "refusal":
                break  # a refused turn ends the conversation: it is the answer
        return Produced(exchange, Answer.of(answers[-1]), answers, int(request["max_tokens"]))

    def runner(self) -> TargetRunner:
        """The runner of `target` functions (wired to the model service on first use)."""
        if self._runner is None:
            import asyncio

            from pytest_promptopt.evaluation.own_code import TargetRunner
            from pytest_promptopt.llm.wired import WiredClients

            clients = WiredClients(self.llm, asyncio.get_running_loop())
            self._runner = TargetRunner(clients, code=self.own_code)
        return self._runner

    def close(self) -> None:
        """Let the sync targets' worker threads go."""
        if self._runner is not None:
            self._runner.close()

    async def _from_target(
        self, target: TargetCase, k: int, label: str, meter: UsageMeter
    ) -> Produced:
        """Sample k's answer from the suite's `target` function, its calls counted in `meter`."""
        from pytest_promptopt.evaluation.own_code import CaseInput, resolve_target
        from pytest_promptopt.llm.wired import CallScope

        suite, case = target.suite, target.case
        fn, where = resolve_target(suite.target)
        exchange = target.opening()
        given = CaseInput(
            id=case.id,
            input=exchange.user_input,
            messages=[dict(m) for m in exchange.messages],
            vars={**suite.vars, **case.vars},
            category=case.category,
            sample=k,
        )
        scope = CallScope(label=label, sample=k, meter=meter)
        started = time.perf_counter()
        answer = await self.runner().call(fn, where, target.rendered.system or "", given, scope)
        elapsed = (time.perf_counter() - started) * 1000
        # A target served wholly from the cache keeps the time its calls took when made.
        fresh = not scope.answers or any(not p.cached for p in scope.answers)
        recorded = sum(p.call_latency_ms for p in scope.answers)
        return Produced(exchange, answer, scope.answers, None, elapsed if fresh else recorded)
