"""An up-front estimate of the calls and dollars one suite's optimization can take."""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_promptopt.llm.pricing import PriceTable
from pytest_promptopt.optimize.split import split_cases
from pytest_promptopt.settings import SIMULATED_MODEL, Settings
from pytest_promptopt.suites.spec import Case, Suite

# Tokens per call (input, output) by kind of call, beyond the suite's own text: the judge's and
# the writers' instructions are about this long; a real model's answers about this long.
JUDGE_INSTRUCTIONS = 900
GENERATE_INPUT, ANALYZE_INPUT = 1100, 1400
OUTPUT = {"target": 300, "judge": 200, "generate": 2500, "analyze": 800}
# The offline simulator answers briefly (measured on the example project).
SIMULATED_OUTPUT = {"target": 40, "judge": 45, "generate": 310, "analyze": 210}
# Expected shares measured on the example project: ties re-sampled after the quick and the
# rigorous rounds, and refinement tracks that end after one evaluated child (the refiner then
# returns a prompt it wrote before); the worst case assumes every re-sample and iteration.
RESAMPLE_QUICK, RESAMPLE_RIGOROUS = 0.5, 0.2
EXPECTED_ITERATIONS = 1


@dataclass(frozen=True)
class Estimate:
    """Expected calls (without ties to re-sample), the worst case, and the expected cost."""

    calls: int
    max_calls: int
    cost_usd: float | None
    roles: dict[str, int] = field(default_factory=dict)
    """The expected calls by role (target, judge, generate, analyze)."""

    def describe(self) -> str:
        """One line for the terminal."""
        cost = "unknown cost" if self.cost_usd is None else f"~${self.cost_usd:.2f}"
        return (
            f"estimate ~{self.calls} model calls (up to {self.max_calls} when every tie is "
            f"re-sampled and every refinement iteration runs), {cost} before cache hits"
        )


def _chars(suite: Suite) -> tuple[float, float]:
    """Mean tokens (characters / 4) of the prompt and of a case's input and expected text."""
    prompt = len(suite.system_template or "") / 4
    texts = [len(c.input or "") + len(c.expected or "") for c in suite.cases] or [0]
    return prompt, sum(texts) / len(texts) / 4


def estimate(suite: Suite, settings: Settings) -> Estimate:
    """Count the calls the knobs imply for this suite, as the pipeline makes them, and price them.

    Evaluations run on the feedback cases (the selection and confirmation cases only in
    `select_best`) plus the generated ones; each is the answer plus the judge's repeats. Cache
    hits are not subtracted.
    """
    k = settings.knobs
    per_sample = 1 + settings.judge_repeats  # the answer, then each judge repeat
    pairs = [(c.id, c.category) for c in suite.cases]
    split = split_cases(pairs, settings.holdout, 0, confirm=settings.confirm)
    unseen = set(split.holdout) | set(split.confirm)
    feedback = [c for c in suite.cases if c.id not in unseen]
    held, confirm = len(split.holdout), len(split.confirm)

    def given(cases: list[Case]) -> int:
        return sum(max(k.samples, suite.repeats_for(c)) * (per_sample if c.judge else 1)
                   for c in cases)  # fmt: skip

    per_generated = max(k.samples, suite.repeats) * per_sample
    quick = k.candidates * (given(feedback) + k.quick_tests * per_generated)
    rigorous = k.top_k * k.rigorous_tests * per_generated
    combined = given(feedback) + (k.quick_tests + k.rigorous_tests) * per_generated
    writers_per_step = 2  # the analyst, then the refiner
    evaluated_steps = k.top_m * min(k.iterations, EXPECTED_ITERATIONS)
    # ...and the step after the last evaluated one still asks the analyst and the refiner.
    writer_steps = evaluated_steps + k.top_m * int(k.iterations > EXPECTED_ITERATIONS)
    writers = writer_steps * writers_per_step
    refine_max = k.top_m * k.iterations * (writers_per_step + combined)
    # select_best: the finalists on the selection cases, then the original and the winner on
    # the confirmation cases, and the repeat probe (two feedback cases sampled again).
    finalists = 1 + k.top_m + (k.top_m + 1) // 2
    finalists_max = 1 + k.top_m * (1 + k.iterations)
    decide = confirm * 2 * k.samples * per_sample + 2 * per_sample
    best = held * finalists * k.samples * per_sample + decide
    best_max = held * finalists_max * k.samples * per_sample + decide
    resample = int(RESAMPLE_QUICK * quick + RESAMPLE_RIGOROUS * rigorous)
    generate = 3
    evals = quick + rigorous + evaluated_steps * combined + best + resample
    expected = generate + writers + evals
    worst = generate + 2 * quick + 2 * rigorous + refine_max + best_max
    offline = settings.model == SIMULATED_MODEL  # every call goes to the simulator then
    target = SIMULATED_MODEL if offline else suite.model or settings.model
    judge = SIMULATED_MODEL if offline else settings.effective_judge_model
    writer = SIMULATED_MODEL if offline else settings.effective_optimizer_model
    prices = PriceTable.from_settings(settings.prices)
    target_price, judge_price = prices.price(target), prices.price(judge)
    writer_price = prices.price(writer)
    cost: float | None = None
    if target_price is not None and judge_price is not None and writer_price is not None:
        prompt, case = _chars(suite)
        t_out = (SIMULATED_OUTPUT if target == SIMULATED_MODEL else OUTPUT)["target"]
        j_out = (SIMULATED_OUTPUT if judge == SIMULATED_MODEL else OUTPUT)["judge"]
        w_out = SIMULATED_OUTPUT if writer == SIMULATED_MODEL else OUTPUT
        answers = evals / per_sample
        cost = answers * target_price.cost(int(prompt + case), t_out)
        judge_in = int(JUDGE_INSTRUCTIONS + prompt + case + t_out)
        cost += (evals - answers) * judge_price.cost(judge_in, j_out)
        cost += generate * writer_price.cost(GENERATE_INPUT + int(prompt), w_out["generate"])
        cost += writer_steps * writer_price.cost(ANALYZE_INPUT + int(prompt), w_out["analyze"])
        cost += writer_steps * writer_price.cost(GENERATE_INPUT + int(prompt), w_out["generate"])
    answers = evals // per_sample
    roles = {
        "target": answers,
        "judge": evals - answers,
        "generate": generate + writer_steps,
        "analyze": writer_steps,
    }
    return Estimate(calls=expected, max_calls=max(worst, expected), cost_usd=cost, roles=roles)
