"""The scripted fake: it serves the test's answers and verdicts in the Messages API's shapes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import anthropic
import httpx2
import pytest

from pytest_promptopt import protocol
from pytest_promptopt.llm.requests import build_structured_request
from pytest_promptopt.testing import ScriptedCall, ScriptedModel

T = TypeVar("T")
QUESTION = "I want a refund for order 123"
ANSWER = "Sorry! Send your order e-mail."


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def judge_body(shape: Any, criteria: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """A judge request as the plugin builds it, for QUESTION answered with ANSWER."""
    payload = {
        "criteria": [name for name, _ in criteria],
        "user_input": QUESTION,
        "response": ANSWER,
    }
    return build_structured_request(
        model="claude-sonnet-4",
        system="You judge.",
        instructions="Score the response.",
        payload=payload,
        tool=protocol.JUDGE_TOOL,
        tool_model=protocol.judge_tool_model(criteria),
        shape=shape,
    )


async def send(model: ScriptedModel, body: dict[str, Any], **options: Any) -> Any:
    client = model.client()
    try:
        return await client.messages.create(**body, **options)
    finally:
        await client.close()


def test_a_target_call_gets_the_scripted_text_and_is_kept() -> None:
    model = ScriptedModel({QUESTION: ANSWER})
    body = {
        "model": "claude-sonnet-4",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    msg = run(send(model, body))
    assert [(b.type, b.text) for b in msg.content] == [("text", ANSWER)]
    assert msg.stop_reason == "end_turn" and msg.usage.input_tokens > 0
    (call,) = model.calls
    assert (call.role, call.question, call.sample, call.model) == (
        "target",
        QUESTION,
        0,
        "claude-sonnet-4",
    )


def test_a_forced_judge_tool_gets_the_levels_and_the_default_for_the_rest() -> None:
    criteria = (("functionality", "continuous"), ("email", "binary"), ("safety", "continuous"))
    model = ScriptedModel(verdicts={QUESTION: {"functionality": 2, "email": 1}})
    msg = run(send(model, judge_body("forced_tool", criteria)))
    (block,) = msg.content
    assert block.type == "tool_use" and block.name == protocol.JUDGE_TOOL
    assert msg.stop_reason == "tool_use"
    verdict = protocol.judge_tool_model(criteria).model_validate(block.input)
    assert verdict.model_dump() == {
        "reasoning": "Scripted verdict.",
        "functionality": 2,
        "email": 1,
        "safety": 5,
    }
    (call,) = model.of_role("judge")
    assert call.response == ANSWER and call.data["criteria"] == ["functionality", "email", "safety"]


def test_structured_outputs_get_the_verdict_as_json_text() -> None:
    criteria = (("functionality", "continuous"),)
    model = ScriptedModel(verdicts={QUESTION: {"functionality": None, "reasoning": "n/a"}})
    body = judge_body("output_format", criteria)
    msg = run(send(model, body))
    (block,) = msg.content
    assert block.type == "text"
    assert json.loads(block.text) == {"reasoning": "n/a", "functionality": None}


def test_callables_see_the_sample_header_and_the_judge_data() -> None:
    seen: list[ScriptedCall] = []

    def answer(call: ScriptedCall) -> str:
        seen.append(call)
        return f"answer {call.sample}"

    def verdict(call: ScriptedCall) -> dict[str, int]:
        seen.append(call)
        return {"functionality": 1 if "1" in call.response else 5}

    model = ScriptedModel(answer, verdict)
    body = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
    sampled = run(send(model, body, extra_headers={protocol.SAMPLE_HEADER: "1"}))
    assert sampled.content[0].text == "answer 1"
    judged = run(send(model, judge_body("forced_tool", (("functionality", "continuous"),))))
    assert judged.content[0].input["functionality"] == 5
    assert [(c.role, c.sample) for c in seen] == [("target", 1), ("judge", 0)]


def test_an_unscripted_question_is_a_400_naming_it() -> None:
    model = ScriptedModel({QUESTION: ANSWER})
    body = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "other"}]}
    with pytest.raises(anthropic.BadRequestError, match="no scripted answer for 'other'"):
        run(send(model, body))
    with pytest.raises(anthropic.BadRequestError, match="no scripted verdict for"):
        run(send(model, judge_body("forced_tool", (("functionality", "continuous"),))))


def test_served_over_loopback_it_answers_messages_streams_and_the_models_api() -> None:
    model = ScriptedModel({QUESTION: ANSWER})

    async def go(base_url: str) -> tuple[str, str, Any]:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=base_url, max_retries=0)
        body = {
            "model": "claude-sonnet-4",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        try:
            plain = await client.messages.create(**body)
            async with client.messages.stream(**body) as stream:
                streamed = await stream.get_final_message()
            info = await client.models.retrieve("claude-sonnet-4")
        finally:
            await client.close()
        return plain.content[0].text, streamed.content[0].text, info

    with model.serve() as server:
        plain, streamed, info = run(go(server.base_url))
        assert server.request_count == 2
    assert plain == streamed == ANSWER
    assert info.id == "claude-sonnet-4"
    assert len(model.of_role("target")) == 2


def test_the_transport_is_an_httpx2_mock_transport() -> None:
    assert isinstance(ScriptedModel().transport, httpx2.MockTransport)


def test_a_schema_retry_is_answered_from_the_data_of_the_first_turn() -> None:
    from pytest_promptopt.llm.requests import build_schema_retry

    criteria = (("functionality", "continuous"),)
    model = ScriptedModel(verdicts={QUESTION: {"functionality": 3}})
    first = judge_body("forced_tool", criteria)
    bad = {"type": "tool_use", "id": "toolu_1", "name": protocol.JUDGE_TOOL, "input": {}}
    retry = build_schema_retry(first, (bad,), "functionality: Field required")
    msg = run(send(model, retry))
    assert msg.content[0].input["functionality"] == 3
    (call,) = model.calls
    assert call.question == QUESTION and call.response == ANSWER
