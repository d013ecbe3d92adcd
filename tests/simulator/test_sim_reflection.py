"""The simulated analyst and refiner on the reflective payload; the judge's noise setting."""

from __future__ import annotations

import random

from pytest_promptopt.simulator import analyst

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
