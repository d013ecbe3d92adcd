"""An up-front estimate of the calls and dollars one suite's optimization can take."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_promptopt.llm.pricing import PriceTable
from pytest_promptopt.optimize.split import split_cases
from pytest_promptopt.settings import SIMULATED_MODEL, Settings
from pytest_promptopt.suites.spec import Suite

# Rough tokens per call (input, output) by kind of call.
TARGET_TOKENS = (600, 300)
JUDGE_TOKENS = (1100, 200)
GENERATE_TOKENS = (1500, 2500)
ANALYZE_TOKENS = (3500, 800)


@dataclass(frozen=True)
class Estimate:
    """Expected calls (without ties to re-sample), the worst case, and the expected cost."""

    calls: int
    max_calls: int
    cost_usd: float | None

    def describe(self) -> str:
        """One line for the terminal."""
        cost = "unknown cost" if self.cost_usd is None else f"~${self.cost_usd:.2f}"
        return (
            f"estimate ~{self.calls} model calls (up to {self.max_calls} when ties are "
            f"re-sampled), {cost} before cache hits"
        )


def estimate(suite: Suite, settings: Settings) -> Estimate:
    """Count the calls the knobs imply for this suite and price them."""
    k = settings.knobs
    per_sample = 1 + settings.judge_repeats  # the answer, then each judge repeat
    per_given = sum(
        max(k.samples, suite.repeats_for(c)) * (per_sample if c.judge else 1) for c in suite.cases
    )
    per_generated = max(k.samples, suite.repeats) * per_sample
    quick = per_given + k.quick_tests * per_generated
    rigorous = per_given + k.rigorous_tests * per_generated
    combined = per_given + (k.quick_tests + k.rigorous_tests) * per_generated
    evals = k.candidates * quick + k.top_k * rigorous + k.top_m * k.iterations * combined
    # select_best: the finalists on the selection cases, then two of them on the confirmation
    # cases, and the repeat probe (two feedback cases sampled again).
    pairs = [(c.id, c.category) for c in suite.cases]
    split = split_cases(pairs, settings.holdout, 0, confirm=settings.confirm)
    finalists = 1 + k.top_m * (1 + k.iterations)
    evals += len(split.holdout) * 2 * finalists * k.samples
    evals += len(split.confirm) * 2 * 2 * k.samples + 2 * 2
    generate = 3 + 2 * k.top_m * k.iterations
    resample = k.candidates * (quick // max(k.samples, 1)) + k.top_k * combined // max(k.samples, 1)
    offline = settings.model == SIMULATED_MODEL  # every call goes to the simulator then
    target = SIMULATED_MODEL if offline else suite.model or settings.model
    judge = SIMULATED_MODEL if offline else settings.effective_judge_model
    prices = PriceTable.from_settings(settings.prices)
    target_price, judge_price = prices.price(target), prices.price(judge)
    cost: float | None = None
    if target_price is not None and judge_price is not None:
        cost = evals / per_sample * target_price.cost(*TARGET_TOKENS)
        cost += evals * (1 - 1 / per_sample) * judge_price.cost(*JUDGE_TOKENS)
        cost += 3 * judge_price.cost(*GENERATE_TOKENS)
        cost += 2 * k.top_m * k.iterations * judge_price.cost(*ANALYZE_TOKENS)
    return Estimate(calls=evals + generate, max_calls=evals + generate + resample, cost_usd=cost)
