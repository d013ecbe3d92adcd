"""The simulated analyst and refiner on the reflective payload; the judge's noise setting."""

from __future__ import annotations

import random
import statistics

import pytest

from pytest_promptopt.simulator import analyst, judge

FAILURE = {
    "case_key": "refund",
    "input": "I want a refund for my pan, it arrived scratched",
    "expected": "Apologises and states the 30-day refund policy",
    "response": "Sure, I can help.",
    "reasoning": "Missed: apologises, 30-day refund policy.",
    "failed_assertions": ["contains '30-day'"],
}
PROMPT = "You are the support assistant of a kitchenware shop."


def test_the_refiner_works_from_the_failures_when_there_are_no_suggestions() -> None:
    payload = {"prompt": PROMPT, "failures": [FAILURE], "passing": [], "history": []}
    child = analyst.submit_prompt(payload, random.Random(0))["prompt_text"]
    assert child.startswith(PROMPT) and child != PROMPT
    assert "30-day" in child


def test_the_refiner_does_not_repeat_a_rejected_attempt() -> None:
    report = analyst.submit_analysis({"failures": [FAILURE]}, random.Random(0))
    payload = {"prompt": PROMPT, "failures": [FAILURE], "suggestions": report["suggestions"]}
    first = analyst.submit_prompt(payload, random.Random(0))["prompt_text"]
    history = [{"iteration": 1, "prompt": first, "kept": False, "outcome": "rejected: ..."}]
    again = analyst.submit_prompt({**payload, "history": history}, random.Random(0))
    added = set(first.splitlines()) - set(PROMPT.splitlines())
    assert added and not added & set(again["prompt_text"].splitlines())


def spread(monkeypatch: pytest.MonkeyPatch, noise: str | None) -> float:
    """The std-dev of the functionality score over 60 judge calls on one answer."""
    if noise is None:
        monkeypatch.delenv(judge.NOISE_ENV, raising=False)
    else:
        monkeypatch.setenv(judge.NOISE_ENV, noise)
    payload = {
        "user_input": FAILURE["input"],
        "expected_behavior": FAILURE["expected"],
        "response": "I'm sorry. Our 30-day refund policy covers it.",
    }
    scores = [judge.judge(payload, random.Random(n))["functionality"] for n in range(60)]
    return statistics.pstdev(scores)


def test_the_judge_noise_setting_is_the_spread_of_each_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert spread(monkeypatch, None) < 0.03
    assert 0.08 < spread(monkeypatch, "0.15") < 0.2
