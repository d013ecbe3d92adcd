"""Prices by model and family; request hashes."""

from __future__ import annotations

import pytest

from pytest_promptopt.llm.pricing import cost_usd, price_for
from pytest_promptopt.llm.service import request_hash


def test_pricing_by_model_and_family() -> None:
    assert cost_usd("claude-haiku-4-5", 1_000_000, 0) == pytest.approx(1.0)
    assert price_for("claude-opus-4-5-20251101").output_per_mtok == 25.0
    assert price_for("my-haiku-gateway-alias").input_per_mtok == 1.0
    assert price_for("unknown").input_per_mtok == 3.0


def test_request_hash_is_stable_and_sample_sensitive() -> None:
    req = {"model": "m", "system": "s", "messages": [{"role": "user", "content": "x"}]}
    assert request_hash(req, 0) == request_hash(dict(reversed(list(req.items()))), 0)
    assert request_hash(req, 0) != request_hash(req, 1)
    assert request_hash(req, 0) != request_hash({**req, "system": "t"}, 0)
