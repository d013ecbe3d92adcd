"""The simulated pairwise judge: prefers the answer its single-answer judge scores higher.

Each answer's quality is the simulated judge's noise-free mean score over the payload's rubric
(`judge.builtin_verdict` and `judge.rubric_score`, the same coverage of the expected behaviour).
Each call perceives each criterion's score with the judge's noise, as the single-answer judge
does (a Gaussian of the configured standard deviation, PROMPTOPT_SIMULATED_JUDGE_NOISE; unset:
a uniform jitter of at most 0.03; drawn per answer text, so two identical answers are seen
alike), averages them, adds a position bias (`POSITION_BIAS`) to the answer shown first, and
prefers the higher unless the two are within `TIE_BAND`: then a tie. So two identical answers
tie in both orders, whatever the noise, and with noise 0 a small difference is preferred in
one order only (an order-dependent verdict).
"""

from __future__ import annotations

import json
import random
from typing import Any

from pytest_promptopt.protocol import CRITERION_MEANINGS
from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.judge import DEFAULT_JITTER, builtin_verdict, rubric_score

POSITION_BIAS = 0.03
"""What the answer shown first gains in the simulated judge's eyes."""
TIE_BAND = 0.04
"""Perceived qualities closer than this are a tie."""


def criterion_scores(payload: dict[str, Any], side: str) -> list[float]:
    """Answer `side`'s (`a` or `b`) noise-free 0..1 score on each applicable rubric criterion."""
    single = {
        "user_input": payload.get("user_input") or "",
        "expected_behavior": payload.get("expected_behavior"),
        "response": payload.get(f"response_{side}") or "",
        "tool_calls": payload.get(f"tool_calls_{side}") or [],
        "task_description": payload.get("task_description") or "",
    }
    builtin, _ = builtin_verdict(single)
    own = tx.records(payload, "rubric") or [
        {"name": name, "description": meaning} for name, meaning in CRITERION_MEANINGS.items()
    ]
    values = [rubric_score(c, single, builtin)[0] for c in own]
    return [v for v in values if v is not None] or [0.5]


def answer_quality(payload: dict[str, Any], side: str) -> float:
    """The noise-free quality 0..1 of answer `side`: its mean applicable rubric score."""
    scores = criterion_scores(payload, side)
    return sum(scores) / len(scores)


def _perceived(scores: list[float], answer: str, seed: float, noise: float | None) -> float:
    """The quality as one call sees it: each criterion's score with the judge's noise (as the
    single-answer judge adds it), averaged. The noise is drawn for the answer's text within
    the call, so one call sees two identical answers alike."""
    rng = random.Random(f"{seed}:{answer}")
    if noise is None:
        seen = [s + rng.uniform(-DEFAULT_JITTER, DEFAULT_JITTER) for s in scores]
    else:
        seen = [s + rng.gauss(0.0, noise) for s in scores]
    return sum(seen) / len(seen)


def _shown(payload: dict[str, Any], side: str) -> str:
    """Answer `side` as the judge reads it: its text and its tool calls."""
    calls = payload.get(f"tool_calls_{side}") or []
    return json.dumps([payload.get(f"response_{side}") or "", calls], sort_keys=True)


def submit_preference(
    payload: dict[str, Any], rng: random.Random, noise: float | None = None
) -> dict[str, Any]:
    """The submit_preference tool input for one pairwise payload: reasoning, then A, B or tie."""
    a, b = criterion_scores(payload, "a"), criterion_scores(payload, "b")
    qa, qb = sum(a) / len(a), sum(b) / len(b)
    seed = rng.random()
    seen_a = _perceived(a, _shown(payload, "a"), seed, noise) + POSITION_BIAS
    seen_b = _perceived(b, _shown(payload, "b"), seed, noise)
    preferred = "A" if seen_a > seen_b else "B"
    if abs(seen_a - seen_b) < TIE_BAND:
        preferred = "tie"
    reasoning = (
        f"Answer A meets the expected behaviour and criteria at about {qa:.2f}, answer B at "
        f"about {qb:.2f}; preferred: {preferred}."
    )
    return {"reasoning": reasoning, "preferred": preferred}
