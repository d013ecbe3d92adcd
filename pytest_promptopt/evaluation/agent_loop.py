"""The tool loop: call the model under test, run the tools it called (several at once), send
the results back, until it stops calling tools or `max_steps` calls were made.

Each step is one ordinary call through the model service (recorded, cached, budgeted): its
request holds every earlier step's results, so a replay sends the same bytes. Every step is
kept in the trajectory: {step, text, tool_calls, stop_reason, results}, and `turn` for a
`turns:` case; a loop cut at `max_steps` has `stopped: max_steps` on its last step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.evaluation.target import NO_ANSWER, Exchange, TargetCase
from pytest_promptopt.evaluation.tool_runs import ToolRunner
from pytest_promptopt.llm.completion import Completion, UsageMeter
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.suites.agent import max_steps_for

MAX_STEPS_STOP = "max_steps"
"""The `stopped` mark of a loop's last step when it reached `max_steps`."""


def step_of(number: int, answer: Completion, turn: int | None) -> dict[str, Any]:
    """The trajectory's record of one model call (its results added once run)."""
    step: dict[str, Any] = {
        "step": number,
        "text": answer.text,
        "tool_calls": [
            {"id": c.get("id"), "name": c.get("name"), "input": c.get("input")}
            for c in answer.tool_calls
        ],
        "stop_reason": answer.stop_reason,
        "results": [],
    }
    if turn is not None:
        step["turn"] = turn
    return step


def with_results(exchange: Exchange, answer: Completion, blocks: list[dict[str, Any]]) -> Exchange:
    """The conversation after a tool-calling answer and the results of its calls."""
    assistant = {"role": "assistant", "content": list(answer.content) or NO_ANSWER}
    user = {"role": "user", "content": blocks}
    return Exchange((*exchange.messages, assistant, user), exchange.transcript)


class AgentLoop:
    """Runs one sample of a case through the tool loop."""

    def __init__(self, llm: LLMService, code: OwnCode) -> None:
        self.llm = llm
        self.code = code

    async def run(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> tuple[Exchange, Answer, list[Completion], int]:
        """The last exchange, the final answer (with its trajectory), every call, and the last
        request's `max_tokens`."""
        exchange = target.opening()
        answers: list[Completion] = []
        steps: list[dict[str, Any]] = []
        max_tokens = 0
        many = target.turn_count > 1
        for turn in range(target.turn_count):
            if turn:
                exchange = target.next_turn(exchange, answers[-1], turn)
            exchange, made, max_tokens = await self.turn(
                target,
                exchange,
                k,
                f"{label} turn {turn + 1}" if many else label,
                key=key if not answers else None,
                meter=meter,
                steps=steps,
                turn=turn + 1 if many else None,
            )
            answers += made
            if answers[-1].stop_reason == "refusal":
                break
        final = Answer.of(answers[-1])
        return exchange, final.with_trajectory(tuple(steps)), answers, max_tokens

    async def turn(
        self,
        target: TargetCase,
        exchange: Exchange,
        k: int,
        label: str,
        *,
        key: str | None,
        meter: UsageMeter,
        steps: list[dict[str, Any]],
        turn: int | None,
    ) -> tuple[Exchange, list[Completion], int]:
        """One user turn answered through the loop: the exchange its last call answered, its
        calls, and the last request's `max_tokens`; its steps are appended to `steps`."""
        tools = ToolRunner(target.suite, target.case, self.code)
        limit = max_steps_for(target.suite, target.case)
        made: list[Completion] = []
        max_tokens = 0
        for n in range(limit):
            request = target.request(exchange, k)
            max_tokens = int(request["max_tokens"])
            number = model_steps(steps) + 1
            answer = await self.llm.send(
                request,
                k,
                role="target",
                label=f"{label} step {number}",
                key=key if not made else None,
            )
            made.append(meter.add(answer))
            step = step_of(number, answer, turn)
            steps.append(step)
            if answer.stop_reason != "tool_use" or not answer.tool_calls:
                break
            if n + 1 == limit:
                step["stopped"] = MAX_STEPS_STOP
                break
            results = await asyncio.gather(*(tools.run(c) for c in answer.tool_calls))
            step["results"] = [r.recorded() for r in results]
            exchange = with_results(exchange, answer, [r.block() for r in results])
        return exchange, made, max_tokens


def model_steps(steps: list[dict[str, Any]]) -> int:
    """How many of the trajectory's entries are model calls (not a simulated user's turns)."""
    return sum(1 for s in steps if s.get("speaker") != "user")
