"""Prices by exact model name, cache tokens, overrides and unknown models; request hashes."""

from __future__ import annotations

import pytest

from pytest_promptopt.llm.pricing import (
    Price,
    PriceTable,
    TokenUsage,
    UnknownPriceWarning,
    cost_usd,
    price_for,
)
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.records.totals import sum_costs


def test_sdk_model_names_have_their_published_prices() -> None:
    assert cost_usd("claude-haiku-4-5", 1_000_000, 0) == pytest.approx(1.0)
    assert price_for("claude-opus-4-5-20251101") == price_for("claude-opus-4-5")
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    opus_46 = price_for("claude-opus-4-6")
    assert opus_46 is not None
    assert (opus_46.input_per_mtok, opus_46.output_per_mtok) == (5.0, 25.0)
    sonnet = price_for("claude-sonnet-4-6")
    assert sonnet is not None and (sonnet.input_per_mtok, sonnet.output_per_mtok) == (3.0, 15.0)
    opus_55 = price_for("claude-opus-5-5")
    assert opus_55 is not None and (opus_55.cache_read, opus_55.output_per_mtok) == (0.20, 20.0)


def test_every_model_the_sdk_names_is_priced_or_knowingly_unknown() -> None:
    import typing

    from anthropic.types import Model

    names = [a for arg in typing.get_args(Model) for a in typing.get_args(arg)]
    assert "claude-opus-4-6" in names
    unpriced = {name for name in names if price_for(name) is None}
    assert unpriced <= {"claude-mythos-preview"}  # no published price


def test_no_prefix_or_family_guessing() -> None:
    # claude-opus-4-6 is not priced at the claude-opus-4 rate by its prefix...
    assert price_for("claude-opus-4-6") != price_for("claude-opus-4")
    # ...and names that only look like a known model have no price at all.
    for name in ("claude-opus-4-9", "my-haiku-gateway-alias", "unknown", "claude-opus-4-5x"):
        assert price_for(name) is None, name
    assert cost_usd("unknown", 1000, 1000) is None


def test_cache_tokens_are_priced_as_billed() -> None:
    haiku = PriceTable().price("claude-haiku-4-5")
    assert haiku is not None
    usage = TokenUsage.of(
        {
            "input_tokens": 1_000_000,
            "output_tokens": 1_000_000,
            "cache_creation_input_tokens": 1_000_000,
            "cache_read_input_tokens": 1_000_000,
        }
    )
    # $1 input + $5 output + $1.25 cache write (1.25x) + $0.10 cache read (0.1x)
    assert haiku.bill(usage) == pytest.approx(7.35)
    assert haiku.bill(usage, batch=True) == pytest.approx(7.35 / 2)
    # A price given without cache rates takes the standard multipliers.
    plain = Price(2.0, 10.0)
    assert (plain.cache_write, plain.cache_read) == (2.5, pytest.approx(0.2))


def test_long_prompts_are_billed_at_their_tier() -> None:
    table = PriceTable()
    short = table.bill("claude-haiku-5-5", TokenUsage(100_000, 1_000_000))
    long = table.bill("claude-haiku-5-5", TokenUsage(100_001, 1_000_000))
    assert short == pytest.approx(0.01 + 0.50)
    assert long == pytest.approx(100_001 * 0.50 / 1e6 + 2.50)


def test_unknown_model_warns_once_and_costs_nothing_invented() -> None:
    table = PriceTable()
    with pytest.warns(UnknownPriceWarning, match="'claude-next-1'.*promptopt_prices") as record:
        assert table.bill("claude-next-1", TokenUsage(10, 10)) is None
        assert table.bill("claude-next-1", TokenUsage(10, 10)) is None
        assert table.estimate("claude-next-1", 10, 10) == 0.0
    assert len(record) == 1
    assert table.warned == {"claude-next-1"}


def test_overrides_set_and_replace_prices() -> None:
    table = PriceTable.from_settings(
        [("claude-next-1", (2.0, 8.0)), ("claude-haiku-4-5", (2.0, 10.0, 3.0, 0.5))]
    )
    assert table.bill("claude-next-1", TokenUsage(1_000_000, 0)) == pytest.approx(2.0)
    haiku = table.price("claude-haiku-4-5-20251001")  # a snapshot takes its name's override
    assert haiku == Price(2.0, 10.0, 3.0, 0.5)


def test_costs_add_up_to_unknown_when_any_is_unknown() -> None:
    assert sum_costs([0.5, 0.25]) == pytest.approx(0.75)
    assert sum_costs([0.5, None]) is None
    assert sum_costs([]) == 0.0


def test_request_hash_is_stable_and_sample_sensitive() -> None:
    req = {"model": "m", "system": "s", "messages": [{"role": "user", "content": "x"}]}
    assert request_hash(req, 0) == request_hash(dict(reversed(list(req.items()))), 0)
    assert request_hash(req, 0) != request_hash(req, 1)
    assert request_hash(req, 0) != request_hash({**req, "system": "t"}, 0)


def test_a_schema_retry_answers_every_tool_call_or_says_so_in_text() -> None:
    from pytest_promptopt.llm.requests import build_schema_retry

    request = {"model": "m", "messages": [{"role": "user", "content": "score it"}]}
    two = (
        {"type": "tool_use", "id": "t1", "name": "submit_verdict", "input": {}},
        {"type": "tool_use", "id": "t2", "name": "submit_verdict", "input": {}},
    )
    retry = build_schema_retry(request, two, "functionality: Field required")
    assert retry["messages"][:1] == request["messages"]
    assert retry["messages"][1] == {"role": "assistant", "content": list(two)}
    results = retry["messages"][2]["content"]
    assert [(r["tool_use_id"], r["is_error"]) for r in results] == [("t1", True), ("t2", True)]
    assert all("functionality: Field required" in r["content"] for r in results)
    prose = build_schema_retry(request, ({"type": "text", "text": "I think 0.8"},), "no tool call")
    assert prose["messages"][2]["content"][0]["type"] == "text"
    assert "no tool call" in prose["messages"][2]["content"][0]["text"]
    assert request["messages"] == [{"role": "user", "content": "score it"}]  # not changed
