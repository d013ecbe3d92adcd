"""A sample's usage comes back with the calls: retried judge answers and failed samples count."""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_promptopt.errors import LLMError
from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.settings import SIMULATED_MODEL
from pytest_promptopt.suites.spec import Case, Suite
from tests.support.llm import OfflineService

VERDICT = {
    "functionality": 1.0,
    "safety": 1.0,
    "consistency": 1.0,
    "edge_case_handling": 1.0,
    "reasoning": "fine",
}


class ScriptedService(OfflineService):
    """A model service whose answers come from a script, one per call, with known usage."""

    def __init__(self, script: list[dict[str, Any] | Exception]) -> None:
        super().__init__()
        self._script = script
        self.sent = 0

    async def _send(
        self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
    ) -> dict[str, Any]:
        """The next scripted answer (tokens: 10 in and 1 out per call, times the call number)."""
        self.sent += 1
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return {**step, "usage": {"input_tokens": 10 * self.sent, "output_tokens": self.sent}}


def text(answer: str) -> dict[str, Any]:
    """A text answer."""
    return {"content": [{"type": "text", "text": answer}]}


def tool(data: dict[str, Any]) -> dict[str, Any]:
    """A tool-call answer."""
    return {"content": [{"type": "tool_use", "name": "submit_verdict", "input": data}]}


def evaluate(script: list[dict[str, Any] | Exception]) -> Any:
    """Evaluate one judged case with the scripted service."""
    suite = Suite(name="bot", prompt="Be brief.", cases=[Case(id="a", input="hi")])
    evaluator = Evaluator(
        ScriptedService(script), model=SIMULATED_MODEL, judge_model=SIMULATED_MODEL, threshold=0.5
    )
    return asyncio.run(evaluator.evaluate(suite, suite.prompt, suite.cases[0]))


def test_a_retried_judge_answer_counts_in_the_sample() -> None:
    result = evaluate([text("hello"), text("no tool call"), tool(VERDICT)])
    assert result.error is None
    (sample,) = result.samples
    assert (sample.calls, sample.cache_hits) == (3, 0)
    assert (sample.input_tokens, sample.output_tokens) == (10 + 20 + 30, 1 + 2 + 3)


def test_a_sample_whose_judge_never_validated_counts_every_call_unscored() -> None:
    result = evaluate([text("hello"), text("no tool call"), tool({"safety": 7})])
    assert result.error is not None and "did not match" in result.error
    assert result.samples == []
    assert result.unscored.calls == 3
    assert (result.unscored.input_tokens, result.unscored.output_tokens) == (60, 6)


def test_a_call_that_fails_after_a_paid_answer_leaves_that_answer_counted() -> None:
    result = evaluate([text("hello"), text("no tool call"), LLMError("judge call failed")])
    assert result.error == "judge call failed"
    assert result.unscored.calls == 2
    assert (result.unscored.input_tokens, result.unscored.output_tokens) == (30, 3)
