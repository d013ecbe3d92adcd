"""Today's models: each rule of the model table, the shape structured roles ask in, the strict
loopback server's 400s (the API's messages), and batch items' params (issue 18, finding 13)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.errors import LLMError
from pytest_promptopt.llm.batches import batch_params
from pytest_promptopt.llm.models import (
    FORCED_TOOL_WITH_THINKING,
    Capabilities,
    broken_rule,
    capabilities_of,
    profile,
    rules_for,
)
from pytest_promptopt.testing import LoopbackMessagesServer

USER = [{"role": "user", "content": "hi"}]
FORCED = {"type": "tool", "name": "submit_verdict"}


def body(model: str, **extra: Any) -> dict[str, Any]:
    """A minimal request body for `model` with these fields."""
    return {"model": model, "max_tokens": 64, "messages": USER, **extra}


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("claude-fable-5-2", {"temperature": 0}, "`temperature` is deprecated for this model."),
        (
            "claude-fable-5-2",
            {"extra_body": {"top_p": 0.9}},
            "`top_p` is deprecated for this model.",
        ),
        ("claude-opus-4-8", {"top_k": 5}, "`top_k` is deprecated for this model."),
        (
            "claude-sonnet-5",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            "thinking.type.enabled is not supported for this model.",
        ),
        (
            "claude-fable-5-2",
            {"thinking": {"type": "disabled"}},
            "thinking.type.disabled is not supported for this model.",
        ),
        ("claude-fable-5-2", {"tool_choice": FORCED}, FORCED_TOOL_WITH_THINKING),
        ("claude-sonnet-5-5", {"tool_choice": {"type": "any"}}, FORCED_TOOL_WITH_THINKING),
        (
            "claude-haiku-4-5",
            {"tool_choice": FORCED, "thinking": {"type": "enabled", "budget_tokens": 1024}},
            FORCED_TOOL_WITH_THINKING,
        ),
        (
            "claude-opus-4-6",
            {"messages": [*USER, {"role": "assistant", "content": "{"}]},
            "This model does not support assistant message prefill.",
        ),
        (
            "claude-3-haiku",
            {"output_config": {"format": {"type": "json_schema", "schema": {}}}},
            "output_config.format is not supported for this model.",
        ),
        (
            "claude-haiku-4-5",
            {"output_config": {"effort": "max"}},
            "output_config.effort: 'max' is not supported for this model.",
        ),
    ],
)
def test_each_rule_is_the_apis_400_on_its_model(
    model: str, extra: dict[str, Any], message: str
) -> None:
    broken = broken_rule(rules_for(model), body(model, **extra))
    assert broken is not None and broken.message.startswith(message)
    assert broken.fix


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("claude-haiku-4-5", {"temperature": 0, "tool_choice": FORCED}),
        ("claude-sonnet-5-5", {"tool_choice": FORCED, "thinking": {"type": "disabled"}}),
        ("claude-haiku-4-5", {"messages": [*USER, {"role": "assistant", "content": "{"}]}),
        ("claude-fable-5-2", {"output_config": {"effort": "xhigh", "format": {"type": "x"}}}),
        ("my-gateway-alias", {"temperature": 0, "tool_choice": FORCED}),  # not ours to guess
    ],
)
def test_what_a_model_accepts_passes(model: str, extra: dict[str, Any]) -> None:
    assert broken_rule(rules_for(model), body(model, **extra)) is None


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        ("claude-fable-5-2", "output_format"),
        ("claude-opus-4-8", "output_format"),
        ("claude-sonnet-5-5", "output_format"),
        ("claude-haiku-5-5", "output_format"),
        ("claude-haiku-4-5", "output_format"),
        ("claude-3-haiku", "forced_tool"),
        ("claude-sonnet-4", "forced_tool"),  # thinks only when asked
        ("my-gateway-alias", "offered_tool"),  # unknown: never a forced tool
        ("simulated", "forced_tool"),
    ],
)
def test_structured_roles_never_force_a_tool_on_a_thinking_model(model: str, shape: str) -> None:
    rules = rules_for(model)
    assert rules.shape() == shape
    thinking = {"type": "enabled", "budget_tokens": 1024}
    assert rules.shape(thinking) != "forced_tool" or not rules.thinks(thinking)
    assert rules_for("claude-sonnet-4").shape(thinking) == "offered_tool"


def test_the_apis_capabilities_win_over_the_table_and_round_trip() -> None:
    api = capabilities_of(rules_for("claude-fable-5-2")).as_api()
    caps = Capabilities.of(api)
    assert caps.structured_outputs and caps.adaptive and not caps.disabled and not caps.enabled
    assert Capabilities.from_row(caps.as_row()) == caps
    # A gateway alias the table does not know, described by the API: structured outputs.
    alias = profile("my-gateway-alias", caps)
    assert alias.known and alias.shape() == "output_format" and alias.always_thinks()
    # An API that says "no structured outputs" for a known model is believed.
    older = profile("claude-haiku-4-5", Capabilities.of({**api, "structured_outputs": {}}))
    assert older.shape() == "offered_tool"  # it always thinks per the API: no forced tool


def test_the_strict_loopback_server_answers_each_rule_with_a_400() -> None:
    import anthropic

    with LoopbackMessagesServer(enforce_model_rules=True) as srv:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=srv.base_url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="deprecated for this model"):
            client.messages.create(
                model="claude-fable-5-2",
                max_tokens=64,
                messages=USER,
                extra_body={"temperature": 0},
            )
        with pytest.raises(anthropic.BadRequestError, match="forces tool use"):
            client.messages.create(
                model="claude-fable-5-2",
                max_tokens=64,
                messages=USER,
                tools=[{"name": "t", "input_schema": {"type": "object"}}],
                tool_choice={"type": "tool", "name": "t"},
            )
        # A model that thinks by default answers with a thinking block first.
        message = client.messages.create(model="claude-fable-5-2", max_tokens=64, messages=USER)
        assert message.content[0].type == "thinking"
        info = client.models.retrieve("claude-sonnet-5-5")
        assert info.capabilities is not None
        assert info.capabilities.structured_outputs.supported
        assert not info.capabilities.thinking.types.enabled.supported
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("my-gateway-alias")
        assert len(srv.rejected) == 2 and srv.model_lookups[0] == "claude-sonnet-5-5"


def test_a_batch_item_carries_extra_body_in_its_params_and_no_transport_option() -> None:
    request = body(
        "claude-haiku-4-5", extra_body={"temperature": 0, "metadata": {"a": 1}}, timeout=30
    )
    params = batch_params(request)
    assert "extra_body" not in params and "timeout" not in params
    assert params["temperature"] == 0 and params["metadata"] == {"a": 1}
    assert request["extra_body"] == {"temperature": 0, "metadata": {"a": 1}}  # not changed
    for key in ("extra_headers", "extra_query"):
        with pytest.raises(LLMError, match=f"'{key}', which a batch item cannot carry"):
            batch_params(body("claude-haiku-4-5", **{key: {"x": "1"}}))


def test_the_simulator_describes_itself_as_the_table_does() -> None:
    import asyncio

    from pytest_promptopt.testing import simulated_client

    async def describe() -> Any:
        client = simulated_client()
        try:
            return await client.models.retrieve("simulated")
        finally:
            await client.close()

    info = asyncio.run(describe())
    assert info.capabilities is not None
    said = Capabilities.of(info.capabilities.model_dump(mode="json"))
    assert said == capabilities_of(rules_for("simulated"))
    assert profile("simulated", said).shape() == rules_for("simulated").shape() == "forced_tool"
