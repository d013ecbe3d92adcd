"""The simulated pairwise judge: quality, noise, position bias and ties."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from pytest_promptopt import protocol
from pytest_promptopt.evaluation.pairwise import PairCase, Reply, pairwise_call
from pytest_promptopt.llm.requests import build_structured_request, response_parts
from pytest_promptopt.simulator.core import Simulator
from pytest_promptopt.simulator.pairwise import (
    POSITION_BIAS,
    TIE_BAND,
    answer_quality,
    submit_preference,
)

REFUND = "Apologises, asks for the order e-mail, states the 30-day policy"
GOOD = "I'm sorry, I apologise. Could you share the order e-mail? Refunds: the 30-day policy."
PART = "I'm sorry, I apologise. Could you share the order e-mail?"
BAD = "Sure, it depends on the details."


def payload(a: str, b: str) -> dict[str, Any]:
    """A pairwise payload on the refund case, judged on functionality."""
    meaning = protocol.CRITERION_MEANINGS["functionality"]
    return {
        "criteria": ["functionality"],
        "rubric": [{"name": "functionality", "description": meaning}],
        "user_input": "I want a refund",
        "expected_behavior": REFUND,
        "response_a": a,
        "response_b": b,
    }


def preferred(a: str, b: str, noise: float | None, seeds: int = 200) -> Counter[str]:
    """How often each of A, B and tie is preferred over `seeds` calls."""
    return Counter(
        submit_preference(payload(a, b), random.Random(s), noise)["preferred"] for s in range(seeds)
    )


def test_quality_follows_the_coverage_of_the_expected_behaviour() -> None:
    p = payload(GOOD, BAD)
    assert answer_quality(p, "a") > answer_quality(payload(PART, BAD), "a") > answer_quality(p, "b")


def test_without_noise_the_better_answer_wins_in_either_order() -> None:
    assert preferred(GOOD, BAD, 0.0, 5) == {"A": 5}
    assert preferred(BAD, GOOD, 0.0, 5) == {"B": 5}


def test_identical_answers_tie_whatever_the_noise_and_the_position() -> None:
    assert POSITION_BIAS < TIE_BAND
    assert preferred(GOOD, GOOD, 0.0) == {"tie": 200}
    assert preferred(GOOD, GOOD, 0.3) == {"tie": 200}


def test_noise_makes_close_answers_a_coin_toss_and_the_first_favoured() -> None:
    close = "I'm sorry, I apologise. Could you share the order e-mail? Refunds: a 30-day rule."
    noisy = preferred(GOOD, close, 0.15, 400)
    assert noisy["A"] > 0 and noisy["B"] > 0 and noisy["tie"] > 0
    swapped = preferred(close, GOOD, 0.15, 400)
    # Position bias: each answer is preferred more often when shown first.
    assert noisy["A"] > swapped["B"] and swapped["A"] > noisy["B"]
    # A clear difference survives noise most of the time.
    clear = preferred(GOOD, BAD, 0.15, 400)
    assert clear["A"] > 0.9 * 400


def test_the_simulator_answers_the_pairwise_tool_with_the_configured_noise() -> None:
    pair = PairCase("c", "I want a refund", REFUND, ("functionality",), Reply(BAD), Reply(GOOD))
    body = build_structured_request(model="simulated", **pairwise_call(pair, new_first=False))
    sim = Simulator(judge_noise=0.0)
    status, _, raw = sim.respond("POST", "/v1/messages", json.dumps(body).encode())
    assert status == 200
    answer = protocol.PairwisePreference.model_validate(response_parts(json.loads(raw)).tool_input)
    assert answer.preferred == "B" and answer.reasoning
    assert sim.calls["pairwise"] == 1
