"""What a request carries on the wire: a timeout sized per role, cache_control on long prompts."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CallStore
from pytest_promptopt.llm.clients import REFUSALS_NOT_RETRIED, ClientPool
from pytest_promptopt.llm.completion import Completion
from pytest_promptopt.llm.requests import build_request, request_hash
from pytest_promptopt.llm.send_options import (
    min_cacheable_tokens,
    request_timeout,
    with_prompt_cache,
)
from pytest_promptopt.llm.service import LLMService

MODEL = "claude-sonnet-4-5"
LONG_SYSTEM = "You are a careful support agent. Follow the policy below.\n" + "Rule. " * 1200
SHORT_SYSTEM = "You are a careful support agent."


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the environment, as a real run has (the mock transport never checks it)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-wire")


def test_the_timeout_grows_with_max_tokens_and_an_explicit_one_wins() -> None:
    target = request_timeout(1024, None)
    judge = request_timeout(2048, None)
    generate = request_timeout(8192, None)
    assert (target, judge, generate) == (124.0, 188.0, 572.0)
    assert request_timeout(64_000, None) == 600.0  # the SDK's non-streaming ceiling
    assert request_timeout(8192, 5.0) == request_timeout(1024, 5.0) == 5.0


def test_a_long_system_prompt_is_marked_for_the_prompt_cache_and_a_short_one_is_untouched() -> None:
    long_request = build_request(model=MODEL, system=LONG_SYSTEM, messages=[_user("hi")])
    short_request = build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("hi")])
    marked = with_prompt_cache(long_request)
    assert marked["system"] == [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert long_request["system"] == LONG_SYSTEM  # the built request (and its hash) unchanged
    assert with_prompt_cache(short_request) == short_request
    # Haiku 4.5 needs 4096 tokens: the same prompt (about 1.8k tokens) is not marked for it.
    haiku = {**long_request, "model": "claude-haiku-4-5"}
    assert min_cacheable_tokens("claude-haiku-4-5") == 4096
    assert with_prompt_cache(haiku) == haiku


class MockPool(ClientPool):
    """A client pool whose SDK client answers from `handler` through an httpx mock transport."""

    def __init__(self, handler: Any) -> None:
        super().__init__(timeout_s=None, max_retries=0)
        self._handler = handler
        self._client: Any = None

    def for_model(self, model: str) -> Any:
        """The mock-transport client, whatever the model."""
        if self._client is None:
            import anthropic
            import httpx2

            # SDK retries on, as in real use: refusals must still reach the service unretried.
            transport = httpx2.MockTransport(self._handler)
            self._client = anthropic.AsyncAnthropic(
                api_key="sk-test", max_retries=3,
                http_client=httpx2.AsyncClient(
                    transport=transport, event_hooks=REFUSALS_NOT_RETRIED
                ),
            )  # fmt: skip
        return self._client

    async def aclose(self) -> None:
        """Close the mock client."""
        if self._client is not None:
            await self._client.close()


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _answer(usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": "Hello."}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": usage,
    }  # fmt: skip


def _send_all(
    requests: list[dict[str, Any]], *, timeout_s: float | None
) -> tuple[list[Completion], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Send the requests through the service; returns the completions and (body, timeout)s."""
    import httpx2

    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append((body, dict(request.extensions.get("timeout") or {})))
        cached = isinstance(body.get("system"), list)
        usage = {"input_tokens": 20, "output_tokens": 3}
        if cached:
            first = sum(isinstance(b.get("system"), list) for b, _ in seen) == 1
            usage |= {"cache_creation_input_tokens": 1500 if first else 0,
                      "cache_read_input_tokens": 0 if first else 1500}  # fmt: skip
        return httpx2.Response(200, json=_answer(usage), headers={"request-id": "req_1"})

    pool = MockPool(handler)
    service = LLMService(
        store=cast(CallStore, None), budget=Budget(), cache_mode="off", concurrency=1,
        timeout_s=timeout_s, max_retries=0, clients=pool,
    )  # fmt: skip

    async def run() -> list[Completion]:
        done = []
        for n, request in enumerate(requests):
            done.append(await service.send(request, 0, role="target", label=f"case {n}"))
        await pool.aclose()
        return done

    return asyncio.run(run()), seen


def test_each_request_carries_its_timeout() -> None:
    requests = [
        build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("a")], max_tokens=2048),
        build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("b")], max_tokens=8192),
    ]
    _, seen = _send_all(requests, timeout_s=None)
    assert [t["read"] for _, t in seen] == [188.0, 572.0]
    _, seen = _send_all(requests, timeout_s=7.5)
    assert [t["read"] for _, t in seen] == [7.5, 7.5]


def test_cache_control_goes_on_the_wire_for_long_prompts_and_cache_tokens_are_counted() -> None:
    requests = [
        build_request(model=MODEL, system=LONG_SYSTEM, messages=[_user(q)]) for q in ("a", "b")
    ]
    short = build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("c")])
    hashes = [request_hash(r, 0) for r in (*requests, short)]
    completions, seen = _send_all([*requests, short], timeout_s=None)
    bodies = [body for body, _ in seen]
    assert bodies[0]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert bodies[2]["system"] == SHORT_SYSTEM and "cache_control" not in json.dumps(bodies[2])
    assert [(c.cache_write_tokens, c.cache_read_tokens) for c in completions] == [
        (1500, 0),
        (0, 1500),
        (0, 0),
    ]
    assert [c.request_hash for c in completions] == hashes  # the hash is the built request's
    assert [c.stop_reason for c in completions] == ["end_turn"] * 3


@pytest.mark.parametrize("status", [429, 529])
def test_refusals_reach_the_service_and_give_up_after_its_patience(status: int) -> None:
    import httpx2

    from pytest_promptopt.errors import LLMError

    sent = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal sent
        sent += 1
        error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
        return httpx2.Response(
            status, json=error, headers={"retry-after-ms": "20", "request-id": "req_refused"}
        )

    pool = MockPool(handler)
    service = LLMService(
        store=cast(CallStore, None), budget=Budget(), cache_mode="off", concurrency=4,
        timeout_s=None, max_retries=0, clients=pool, rate_limit_patience_s=0.2,
    )  # fmt: skip
    request = build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("a")])

    async def run() -> str:
        try:
            await service.send(request, 0, role="judge", label="case c1")
        except LLMError as exc:
            return str(exc)
        finally:
            await pool.aclose()
        raise AssertionError("a call refused past the patience must be an error")

    message = asyncio.run(run())
    cause = "rate limited (429)" if status == 429 else "overloaded (529)"
    assert message.startswith(f"judge call for case c1 was {cause} {sent} times over ")
    why = "the account's limits left no room" if status == 429 else "the API stayed overloaded"
    assert why in message and "req_refused" in message
    assert sent >= 2 and service.limiter.refused_count == sent
    assert service.limiter.limit == 1  # halved once per window, down to one call in flight


def test_ratelimit_headers_of_an_answer_reach_the_limiter() -> None:
    from datetime import datetime, timedelta, timezone

    import httpx2

    reset = (datetime.now(timezone.utc) + timedelta(seconds=20)).isoformat()

    def handler(request: httpx2.Request) -> httpx2.Response:
        headers = {
            "request-id": "req_1",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset,
        }
        return httpx2.Response(200, json=_answer({"input_tokens": 5, "output_tokens": 2}),
                               headers=headers)  # fmt: skip

    pool = MockPool(handler)
    service = LLMService(
        store=cast(CallStore, None), budget=Budget(), cache_mode="off", concurrency=4,
        timeout_s=None, max_retries=0, clients=pool,
    )  # fmt: skip
    request = build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("a")])

    async def run() -> float:
        await service.send(request, 0, role="target", label="case c1")
        await pool.aclose()
        return service.limiter.paused_for

    assert 0 < asyncio.run(run()) <= 20  # no new call starts before the requests reset


def test_a_suites_params_timeout_wins_and_extra_keys_reach_the_sdk() -> None:
    # Issue 18, finding 8: `params: {timeout: 30}` errored every item with "got multiple values
    # for keyword argument 'timeout'".
    params = {
        "timeout": 30,
        "extra_headers": {"x-team": "a"},
        "extra_query": {"trace": "1"},
        "extra_body": {"temperature": 0},
        "max_tokens": 8192,
    }
    request = build_request(model=MODEL, system=SHORT_SYSTEM, messages=[_user("a")], params=params)
    completions, seen = _send_all([request], timeout_s=7.5)
    body, timeout = seen[0]
    assert timeout["read"] == 30.0  # the suite's own, over --promptopt-timeout and the sizing
    assert "timeout" not in body and "extra_body" not in body and body["temperature"] == 0
    assert body["max_tokens"] == 8192
    assert completions[0].stop_reason == "end_turn"
