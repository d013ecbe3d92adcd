"""The tool loop: the model's tool calls run (several at once), their results (errors too) go
back, until it answers or `max_steps`; canned results by input; the trajectory is kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.evaluation.judge_calls import judge_call
from pytest_promptopt.llm.completion import UsageMeter
from pytest_promptopt.settings import SIMULATED_MODEL
from pytest_promptopt.suites.agent import max_calls_per_sample
from pytest_promptopt.suites.spec import Case, Suite
from tests.support import agent_tools
from tests.support.llm import OfflineService

SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}}
TOOLS = (
    {"name": "lookup", "description": "Look an order up", "input_schema": SCHEMA,
     "python": "tests.support.agent_tools:slow_lookup"},
    {"name": "refund", "description": "Refund an order", "input_schema": SCHEMA,
     "python": "tests.support.agent_tools:refund"},
    {"name": "warehouse", "description": "Ask the warehouse", "input_schema": SCHEMA},
)  # fmt: skip


def use(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """An answer that calls tools."""
    blocks = [
        {"type": "tool_use", "id": f"toolu_{n}_{name}", "name": name, "input": given}
        for n, (name, given) in enumerate(calls)
    ]
    return {"content": [{"type": "text", "text": "Checking."}, *blocks], "stop_reason": "tool_use"}


def say(text: str) -> dict[str, Any]:
    """A final answer."""
    return {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}


class Scripted(OfflineService):
    """Answers from a script, one per call, keeping every request sent."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        super().__init__()
        self.script = script
        self.requests: list[dict[str, Any]] = []

    async def _send(
        self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
    ) -> dict[str, Any]:
        self.requests.append(request)
        return {**self.script.pop(0), "usage": {"input_tokens": 10, "output_tokens": 1}}


def run(script: list[dict[str, Any]], case: Case, **suite: Any) -> tuple[Any, Scripted]:
    """Evaluate one unjudged case of an agent suite; (its result, the service)."""
    agent_tools.EVENTS.clear()
    spec = Suite(name="agent", prompt="Help.", tools=TOOLS, cases=[case], **suite)
    service = Scripted(script)
    evaluator = Evaluator(
        service, model=SIMULATED_MODEL, judge_model=SIMULATED_MODEL, threshold=0.5,
        check_timeout_s=0.2,
    )  # fmt: skip
    try:
        return asyncio.run(evaluator.evaluate(spec, spec.prompt, spec.cases[0])), service
    finally:
        evaluator.close()


def unjudged(**fields: Any) -> Case:
    """A case checked by checks only (`no_tool_errors` unless `assert` is given)."""
    data = {"id": "c", "input": "Refund order 5001", "judge": False}
    return Case.model_validate({**data, "assert": [{"no_tool_errors": True}], **fields})


def results_sent(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a request's last user turn."""
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]


def test_parallel_calls_run_at_once_and_their_results_go_back_in_order() -> None:
    script = [use(("lookup", {"order_id": "1"}), ("lookup", {"order_id": "2"})), say("Done.")]
    result, service = run(script, unjudged())
    assert result.error is None and result.passed
    assert agent_tools.EVENTS[:2] == ["start lookup 1", "start lookup 2"]  # both in flight
    sent = results_sent(service.requests[1])
    assert [b["tool_use_id"] for b in sent] == ["toolu_0_lookup", "toolu_1_lookup"]
    assert json.loads(sent[1]["content"]) == {"order_id": "2", "status": "delivered"}
    (sample,) = result.samples
    assert sample.calls == 2 and sample.response == "Done."
    assert [s["step"] for s in sample.trajectory] == [1, 2]
    assert [c["name"] for c in sample.trajectory[0]["tool_calls"]] == ["lookup", "lookup"]


def test_the_tools_sent_leave_out_the_python_key() -> None:
    _, service = run([say("Hi.")], unjudged())
    assert [set(t) for t in service.requests[0]["tools"]] == [
        {"name", "description", "input_schema"}
    ] * 3


def test_a_tool_error_is_an_error_result_the_model_sees_and_is_recorded() -> None:
    script = [use(("refund", {"order_id": "bad"})), say("Sorry, the refund failed.")]
    result, service = run(script, unjudged())
    (sent,) = results_sent(service.requests[1])
    assert sent["is_error"] is True
    assert sent["content"] == "ValueError: payment service refused the refund"
    (sample,) = result.samples
    assert sample.trajectory[0]["results"][0]["is_error"] is True
    assert not result.passed  # no_tool_errors
    assert "tool errors: step 1 refund" in result.explain()


def test_results_that_are_blocks_or_not_json_and_a_tool_past_its_timeout() -> None:
    tools = (
        {"name": "b", "input_schema": SCHEMA, "python": "tests.support.agent_tools:blocks"},
        {"name": "u", "input_schema": SCHEMA, "python": "tests.support.agent_tools:unserializable"},
        {"name": "s", "input_schema": SCHEMA, "python": "tests.support.agent_tools:sleeper"},
    )
    script = [use(("b", {}), ("u", {}), ("s", {})), say("ok")]
    spec = Suite(name="agent", prompt="Help.", tools=tools, cases=[unjudged()])
    service = Scripted(script)
    evaluator = Evaluator(
        service, model=SIMULATED_MODEL, judge_model=SIMULATED_MODEL, threshold=0.5,
        check_timeout_s=0.05,
    )  # fmt: skip
    asyncio.run(evaluator.evaluate(spec, spec.prompt, spec.cases[0]))
    b, u, s = results_sent(service.requests[1])
    assert b["content"] == [{"type": "text", "text": "from blocks"}] and "is_error" not in b
    assert u["is_error"] and "neither text, content blocks nor JSON" in u["content"]
    assert s["is_error"] and "did not return within 0.05 s" in s["content"]


def test_max_steps_stops_the_loop_and_is_recorded_not_an_error() -> None:
    script = [use(("lookup", {"order_id": "1"}))] * 5
    case = unjudged(max_steps=2, **{"assert": [{"max_steps": 2}]})
    result, service = run(script, case, max_steps=4)  # the case's bound wins
    assert len(service.requests) == 2 and result.error is None
    (sample,) = result.samples
    assert sample.trajectory[-1]["stopped"] == "max_steps"
    assert sample.trajectory[-1]["results"] == []
    assert not result.passed
    assert "cut at the loop's max_steps after 2 step(s)" in result.explain()
    assert "stopped at max_steps" in result.explain()


def test_canned_results_match_by_input_and_a_miss_is_an_error_result() -> None:
    canned = {
        "warehouse": [
            {"input": {"order_id": "1"}, "result": "in aisle 4"},
            {"input": {"order_id": "2"}, "result": {"lost": True}},
        ],
        "refund": "canned refund",
    }
    script = [
        use(("warehouse", {"order_id": "2"}), ("warehouse", {"order_id": "3"})),
        use(("refund", {"order_id": "bad"})),
        say("ok"),
    ]
    result, service = run(script, unjudged(tool_results=canned))
    found, missed = results_sent(service.requests[1])
    assert found["content"] == '{"lost": true}'
    assert missed["is_error"] and "no canned result of warehouse" in missed["content"]
    (refund,) = results_sent(service.requests[2])
    assert refund["content"] == "canned refund"  # the case's result, not the function
    assert result.samples[0].calls == 3


def test_a_tool_with_no_implementation_is_an_error_result() -> None:
    script = [use(("warehouse", {"order_id": "1"})), say("ok")]
    _, service = run(script, unjudged())
    (sent,) = results_sent(service.requests[1])
    assert sent["is_error"] and "has no implementation" in sent["content"]


def test_each_step_sends_the_earlier_results_and_the_judge_gets_the_trajectory() -> None:
    script = [use(("lookup", {"order_id": "1"})), use(("refund", {"order_id": "1"})), say("Done")]
    case = Case(id="c", input="Refund order 1", expected="Refunds the order")
    spec = Suite(name="agent", prompt="Help.", tools=TOOLS, cases=[case])
    service = Scripted([*script, {"content": [], "stop_reason": "end_turn"}])
    evaluator = Evaluator(service, model=SIMULATED_MODEL, judge_model=SIMULATED_MODEL,
                          threshold=0.5)  # fmt: skip
    target = evaluator.target(spec, spec.prompt, case)
    produced = asyncio.run(evaluator.producer.produce(target, 0, "agent[c]", None, UsageMeter()))
    assert [m["role"] for m in service.requests[2]["messages"]] == [
        "user", "assistant", "user", "assistant", "user",
    ]  # fmt: skip
    call = judge_call(target, produced.exchange, produced.answer)
    payload = call["payload"]
    assert payload["user_input"] == "Refund order 1" and payload["response"] == "Done"
    assert [s["step"] for s in payload["trajectory"]] == [1, 2, 3]
    assert payload["trajectory"][1]["results"] == [{"name": "refund", "content": "refunded 1"}]
    assert "`trajectory` lists the steps" in call["instructions"]


def test_the_calls_a_case_can_make_are_bounded_by_max_steps_per_turn() -> None:
    agent = Suite(name="a", prompt="x", tools=TOOLS, max_steps=3,
                  cases=[Case(id="c", input="x"), Case(id="t", turns=("a", "b"))])  # fmt: skip
    assert [max_calls_per_sample(agent, c) for c in agent.cases] == [3, 6]
    plain = Suite(name="p", prompt="x", cases=[Case(id="c", input="x")])
    assert max_calls_per_sample(plain, plain.cases[0]) == 1


def test_a_turns_case_runs_the_loop_on_each_turn() -> None:
    script = [use(("refund", {"order_id": "1"})), say("Refunded 1."), say("You're welcome.")]
    case = Case.model_validate(
        {"id": "c", "turns": ["Refund order 1", "Thanks!"], "judge": False,
         "assert": [{"tool_sequence": ["refund"]}, {"final": {"contains": "welcome"}}]}
    )  # fmt: skip
    result, service = run(script, case)
    assert result.passed and len(service.requests) == 3
    (sample,) = result.samples
    assert [(s["turn"], s["step"]) for s in sample.trajectory] == [(1, 1), (1, 2), (2, 3)]
    last = service.requests[2]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert last[-1]["content"] == "Thanks!"
