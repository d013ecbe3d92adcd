"""The structured roles' requests on today's models: each model's rules hold for every role
(judge, prompt and case writers, analyst, refiner), and the judge's request is pinned per model."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.llm.models import broken_rule, rules_for
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.protocol import TOOL_MODELS
from pytest_promptopt.suites.spec import Suite
from tests.support.llm import OfflineService

TODAY = ("claude-fable-5-2", "claude-opus-4-8", "claude-sonnet-5-5", "claude-haiku-5-5")
PINNED = {
    "claude-fable-5-2": "3bab5253dbd5da93bcc53794c3552f75628c6aa1c416e27dce57ce6e34b1b768",
    "claude-opus-4-8": "88e3813c1f682e59b36c7d8d14a0feb7de57964e57aa228e8a8e02e9789c022c",
    "claude-sonnet-5-5": "6fc506a407d80f3aee7de8eaeaa478efe8ff732a23329ceb9d9cc864d38d4fd3",
    "claude-haiku-5-5": "c44d2e17aa34a093be3454e36f6f6ecb82bbd6b0e5c5075564635b7a344cbbcf",
}
"""The cache key of the first judge request for `Hello!` per judge model: a change to the
judge's request changes every cached verdict's key, so change it on purpose (the schema is
the installed SDK's `transform_schema` of the verdict model: an SDK upgrade may move it)."""

ROLE_PARAMS: list[dict[str, Any]] = [
    {},
    {"thinking": {"type": "adaptive", "display": "summarized"}, "output_config": {"effort": "low"}},
    {"max_tokens": 8000},
]


def suite() -> Suite:
    """A one-case suite with the built-in criteria."""
    return Suite.model_validate(
        {
            "name": "s",
            "prompt": "Be kind.",
            "description": "d",
            "cases": [{"id": "c", "input": "Hi", "expected": "Greets"}],
        }
    )


def judge_request(model: str) -> dict[str, Any]:
    """The first judge request for the answer `Hello!`, judged by `model`."""
    s = suite()
    evaluator = Evaluator(OfflineService(), model="m", judge_model=model, threshold=0.7)
    target = evaluator.target(s, s.system_template, s.cases[0])
    request = evaluator.judge_calls.request(target, target.opening(), Answer("Hello!"), 0)
    assert request is not None
    return request


@pytest.mark.parametrize("model", TODAY)
def test_the_judge_request_is_pinned_per_model(model: str) -> None:
    request = judge_request(model)
    assert request_hash(request, 0) == PINNED[model]
    assert request_hash(judge_request(model), 0) == PINNED[model]  # the same bytes every run
    assert request["output_config"]["format"]["type"] == "json_schema"
    assert "tools" not in request and "tool_choice" not in request
    assert request["messages"][-1]["role"] == "user"  # no prefill


@pytest.mark.parametrize("params", ROLE_PARAMS)
@pytest.mark.parametrize("tool", sorted(TOOL_MODELS))
@pytest.mark.parametrize(
    "model", [*TODAY, "claude-haiku-4-5", "claude-sonnet-4", "claude-3-haiku", "my-gateway"]
)
def test_every_role_asks_in_a_shape_its_model_accepts(
    model: str, tool: str, params: dict[str, Any]
) -> None:
    """The judge, the writers, the analyst and the refiner, with or without role params."""
    service = OfflineService()
    service.role_params = {"judge": params}
    rules = rules_for(model)
    if broken_rule(rules, {"model": model, "messages": [], **params}) is not None:
        pytest.skip("these params are a start-up error on this model")
    request = service.structured_request(
        rules,
        role="judge",
        model=model,
        system="You judge.",
        instructions="Score it.",
        payload={"a": 1},
        tool=tool,
    )
    assert broken_rule(rules, request) is None
    assert request["messages"][-1]["role"] == "user"
    forced = request.get("tool_choice", {}).get("type") == "tool"
    assert not forced or not rules.thinks(request.get("thinking"))
    assert request["max_tokens"] == params.get("max_tokens", 2048)
