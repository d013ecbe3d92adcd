"""`PROMPTOPT_SIMULATED_JUDGE_NOISE`: Gaussian noise on the simulated judge's scores."""

from __future__ import annotations

import random
import statistics

import pytest

from pytest_promptopt.simulator import judge as sim_judge

PAYLOAD = {
    "user_input": "I want a refund for order 123",
    "expected_behavior": "Apologises and states the 30-day policy",
    "response": "Sorry about that!",
    "task_description": "",
}


def _functionality(seed: int) -> float:
    return float(sim_judge.judge(PAYLOAD, random.Random(seed))["functionality"])


def test_without_the_variable_scores_only_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sim_judge.NOISE_ENV, raising=False)
    scores = [_functionality(seed) for seed in range(30)]
    assert max(scores) - min(scores) <= 0.06


def test_noise_has_the_standard_deviation_asked_and_is_seeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(sim_judge.NOISE_ENV, raising=False)
    plain = [_functionality(seed) for seed in range(400)]
    monkeypatch.setenv(sim_judge.NOISE_ENV, "0.15")
    noisy = [_functionality(seed) for seed in range(400)]
    assert 0.3 < statistics.fmean(plain) < 0.7  # half covered: the noise is rarely clamped
    changes = [n - p for n, p in zip(noisy, plain, strict=True)]
    assert statistics.stdev(changes) == pytest.approx(0.15, abs=0.015)
    assert _functionality(7) == _functionality(7)


@pytest.mark.parametrize("raw", ["-0.1", "lots", "nan"])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(sim_judge.NOISE_ENV, raw)
    with pytest.raises(ValueError, match="PROMPTOPT_SIMULATED_JUDGE_NOISE"):
        sim_judge.judge(PAYLOAD, random.Random(0))
