"""The model service against a loopback Messages API server (a scripted fake): credentials are
the SDK's, schema retries carry the validation error, samples differ without anything in
`metadata`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from pytest_promptopt.errors import JudgeError, LLMError, WriterError
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CallStore
from pytest_promptopt.llm.completion import CallPurpose
from pytest_promptopt.llm.requests import build_request
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.protocol import JUDGE_TOOL
from pytest_promptopt.testing import ScriptedCall, ScriptedModel

MODEL = "claude-haiku-4-5"
TOOL_MODEL = "claude-3-haiku"
"""A model with neither thinking nor structured outputs: its judge is asked with a forced tool."""
PAYLOAD = {"input": "I want a refund", "expected": "Apologises", "response": "Sorry! 30 days."}


class Served:
    """A scripted judge on a loopback server: every `bad_every`-th judge call out of schema."""

    def __init__(self, bad_every: int) -> None:
        self.judged = 0
        self.bad_every = bad_every
        self.model = ScriptedModel(verdicts=self._verdict)
        self.server = self.model.serve()

    def _verdict(self, call: ScriptedCall) -> dict[str, float]:
        self.judged += 1
        return {"functionality": 7.0 if self.judged % self.bad_every == 0 else 4}

    @property
    def bodies(self) -> list[Mapping[str, Any]]:
        """The Messages request bodies sent so far."""
        return [c.body for c in self.model.calls]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A loopback server answering every second judge call out of schema; no API key set."""
    served = Served(bad_every=2)
    with served.server as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "test-auth-token")
        yield served


class NoStore:
    """The cache is off: nothing is looked up or recorded."""

    def flush(self) -> None:
        """Nothing to write."""


def _service() -> LLMService:
    return LLMService(
        store=cast(CallStore, NoStore()),
        budget=Budget(),
        cache_mode="off",
        concurrency=2,
        timeout_s=5,
        max_retries=0,
    )


async def _judge(
    service: LLMService, sample: int = 0, model: str = TOOL_MODEL, role: CallPurpose = "judge"
) -> Any:
    try:
        return await service.structured(
            role=role,
            model=model,
            system="You are a strict judge.",
            instructions="Score the answer.",
            payload=PAYLOAD,
            tool=JUDGE_TOOL,
            label="support[refund]",
            sample=sample,
        )
    finally:
        await service.aclose()


def test_auth_token_is_accepted_and_sent_as_bearer(served: Served) -> None:
    server = served.server
    verdict, completion = asyncio.run(_judge(_service()))
    assert server.request_count == 1
    assert server.headers_seen[0]["authorization"] == "Bearer test-auth-token"
    assert "x-api-key" not in server.headers_seen[0]
    assert completion.cost_usd is not None and completion.cost_usd > 0
    assert verdict.functionality == 4


def test_a_schema_retry_answers_the_bad_call_with_the_validation_error(served: Served) -> None:
    service = _service()
    asyncio.run(_judge(service))  # judge call 1: in schema
    served.model.calls.clear()
    verdict, _ = asyncio.run(_judge(service, sample=1))  # call 2 is out of schema, 3 is fine
    first, retry = served.bodies
    assert first["messages"] == retry["messages"][: len(first["messages"])]
    bad_turn, error_turn = retry["messages"][len(first["messages"]) :]
    # The bad answer is the assistant's turn: its tool call, with the out-of-range score.
    assert bad_turn["role"] == "assistant"
    (bad_call,) = [b for b in bad_turn["content"] if b["type"] == "tool_use"]
    assert bad_call["name"] == JUDGE_TOOL and bad_call["input"]["functionality"] == 7.0
    # The user answers that call with an error result naming what was wrong.
    assert error_turn["role"] == "user"
    (result,) = error_turn["content"]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == bad_call["id"]
    assert result["is_error"] is True
    assert "functionality: Input should be less than or equal to 5" in result["content"]
    assert "(got 7.0)" in result["content"]
    assert verdict.functionality == 4  # the retry's answer
    # Nothing about the sample is sent.
    assert all("metadata" not in body for body in (first, retry))


@pytest.mark.parametrize(("role", "error"), [("judge", JudgeError), ("analyze", WriterError)])
def test_two_bad_answers_are_the_roles_error_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, role: CallPurpose, error: type[LLMError]
) -> None:
    served = Served(bad_every=1)
    with served.server as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        twice = "did not match the submit_verdict schema twice: 1 validation error"
        with pytest.raises(error, match=twice) as raised:
            asyncio.run(_judge(_service(), role=role))
        assert not isinstance(raised.value, WriterError if role == "judge" else JudgeError)
        assert len(served.bodies) == 2
        assert served.bodies[1]["messages"][-1]["content"][0]["is_error"] is True


def test_with_structured_outputs_the_retry_is_a_user_turn_with_the_error(served: Served) -> None:
    """Haiku 4.5 answers in JSON (output_config.format): no tool call to answer, so the
    validation error goes back as a plain user turn after the bad JSON answer."""
    service = _service()
    asyncio.run(_judge(service, model=MODEL))  # judge call 1: in schema
    served.model.calls.clear()
    verdict, _ = asyncio.run(_judge(service, sample=1, model=MODEL))  # 2 is bad, 3 is fine
    first, retry = served.bodies
    assert "tools" not in first and "tool_choice" not in first
    schema = first["output_config"]["format"]["schema"]
    assert first["output_config"]["format"]["type"] == "json_schema"
    assert schema["title"] == "JudgeVerdict" and schema["additionalProperties"] is False
    bad_turn, error_turn = retry["messages"][len(first["messages"]) :]
    assert bad_turn["role"] == "assistant"
    (bad,) = bad_turn["content"]
    assert bad["type"] == "text" and json.loads(bad["text"])["functionality"] == 7.0
    assert error_turn["role"] == "user" and error_turn["content"][0]["type"] == "text"
    note = error_turn["content"][0]["text"]
    assert "did not match the JSON schema" in note
    assert "functionality: Input should be less than or equal to 5" in note
    assert verdict.functionality == 4  # the retry's answer
    assert retry["output_config"] == first["output_config"]


def test_samples_send_one_body_and_differ_only_in_the_cache_key() -> None:
    """The simulator tells samples apart without `metadata`: answers differ, bodies do not."""
    from pytest_promptopt.llm.clients import ClientPool

    class Sent(LLMService):
        bodies: list[dict[str, Any]] = []

        async def _send(
            self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
        ) -> Any:
            self.bodies.append(request)
            return await super()._send(request, role=role, label=label, sample=sample)

    service = Sent(
        store=cast(CallStore, NoStore()),
        budget=Budget(),
        cache_mode="off",
        concurrency=4,
        timeout_s=5,
        max_retries=0,
        clients=ClientPool(timeout_s=5, max_retries=0),
    )
    request = build_request(
        model="simulated",
        system="You are a poet.",
        messages=[{"role": "user", "content": "Write a line about the sea."}],
    )

    async def answers() -> list[str]:
        try:
            done = await asyncio.gather(
                *(service.send(request, k, role="target", label=f"s{k}") for k in range(6))
            )
            return [c.text for c in done]
        finally:
            await service.aclose()

    texts = asyncio.run(answers())
    assert len(set(texts)) > 1, texts
    assert all(body == request for body in service.bodies) and "metadata" not in request
