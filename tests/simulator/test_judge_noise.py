"""The simulated judge's noise: PROMPTOPT_SIMULATED_JUDGE_NOISE, seeded per request."""

from __future__ import annotations

import random
import statistics

import pytest

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.protocol import Verdict, VerdictInput
from pytest_promptopt.simulator import judge as sim_judge
from pytest_promptopt.simulator.core import Simulator

PAYLOAD = {
    "criteria": ["functionality", "safety", "consistency", "edge_case_handling"],
    "user_input": "I want a refund for order 123",
    "expected_behavior": "Apologises, asks for the order e-mail, states the 30-day policy",
    "response": "Sorry to hear that! Please send the order e-mail; refunds follow our policy.",
    "task_description": "Support",
}


def functionality(noise: float | None, seed: int) -> float:
    """The simulated judge's functionality score for PAYLOAD under `noise` and one seed."""
    verdict = sim_judge.judge(PAYLOAD, random.Random(seed), noise)
    return Verdict.of(VerdictInput.model_validate(verdict)).scores["functionality"]


def test_noise_spreads_the_levels_and_the_default_barely_moves_them() -> None:
    default = [functionality(None, seed) for seed in range(60)]
    noisy = [functionality(0.15, seed) for seed in range(60)]
    assert len(set(default)) <= 2  # a jitter of 0.03 moves a score by one level at most
    assert len(set(noisy)) >= 3
    assert statistics.pstdev(noisy) > statistics.pstdev(default)
    assert [functionality(0.0, seed) for seed in range(5)] == [functionality(0.0, 0)] * 5


def test_the_same_request_gives_the_same_noisy_verdict() -> None:
    assert [functionality(0.15, 7) for _ in range(3)] == [functionality(0.15, 7)] * 3


@pytest.mark.parametrize("raw", ["loud", "-0.1", "nan", "inf"])
def test_a_bad_noise_is_a_config_error_naming_the_variable(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sim_judge.NOISE_ENV, raw)
    with pytest.raises(ConfigError, match=r"PROMPTOPT_SIMULATED_JUDGE_NOISE must be a number >= 0"):
        Simulator()


def test_the_noise_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sim_judge.NOISE_ENV, raising=False)
    assert Simulator().judge_noise is None
    monkeypatch.setenv(sim_judge.NOISE_ENV, "0.15")
    assert Simulator().judge_noise == 0.15
    assert Simulator(judge_noise=0.3).judge_noise == 0.3
