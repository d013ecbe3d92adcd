"""The baseline comparison under judge noise 0.15, on runs judged by the real simulator judge.

Each run judges the support suite of `tests.support.gate` with its own judge requests (seeded
by the sample index), so a re-run of the same prompt differs only by the judge's noise.
"""

from __future__ import annotations

from collections import Counter

from pytest_promptopt.stats import compare_runs
from tests.support.gate import GOOD_PROMPT, WORSE_PROMPT, judge_noise, simulated_run

SEEDS = range(1, 21)


def test_the_same_prompt_again_rarely_flags_a_regression() -> None:
    with judge_noise(0.15):
        pairs = [
            (simulated_run(GOOD_PROMPT, seed), simulated_run(GOOD_PROMPT, 100 + seed))
            for seed in SEEDS
        ]
    changes = [b[k].score - a[k].score for a, b in pairs for k in a]
    assert max(changes) - min(changes) > 0.3  # the noise is there
    verdicts = Counter(compare_runs(a, b).verdict for a, b in pairs)
    assert verdicts["regressed"] <= 1, verdicts
    assert sum(verdicts.values()) == 20


def test_a_prompt_made_worse_is_mostly_caught() -> None:
    with judge_noise(0.15):
        verdicts = Counter(
            compare_runs(simulated_run(GOOD_PROMPT, s), simulated_run(WORSE_PROMPT, 50 + s)).verdict
            for s in range(1, 11)
        )
    assert verdicts["regressed"] >= 6, verdicts
    assert verdicts["improved"] == 0, verdicts
