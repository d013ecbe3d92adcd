"""The absolute-score gate against the pairwise gate on the simulator, at the same judge calls.

    python benchmarks/pairwise_bench.py                  # 40 seeds, noise 0.15, 24 and 12 cases
    python benchmarks/pairwise_bench.py --output benchmarks/pairwise_results.json   # the docs'

The suite is the support suite of `tests/support/gate.py` (8 refund, 8 parcel, 8 cancel cases;
12 cases: 4 of each), sent through the simulator with the plugin's own target, judge and
pairwise-judge requests. Per seed a blessed baseline run of the good prompt is compared with a
re-run of the same prompt (a `regressed` verdict is a false alarm) and with the prompt without
its refund directive (a `regressed` verdict is a detection), by two gates:

- **scores** (`stats.compare_runs`, margin 0.02): every run, the baseline too, judged with
  `--promptopt-judge-repeats 3` (the median of 3 judge calls per answer), so the new run makes
  3 judge calls per case;
- **pairwise** (`stats.compare_pairs`): every run judged once per case (its items' own scores),
  then 2 pairwise calls per shared case (both orders): 3 judge calls per case as well.

The plain score gate (1 judge call per case) is shown beside them. The target's answers are the
same in every run (as in `baseline_gate_bench.py`), so a re-run differs only by the judge's
noise; each run's judge and pairwise requests carry the run's seed (a distinct sample), so each
has its own noise. Predicted power: for the score gates the t test's for the true mean drop
(noncentral t at the median spread of the per-case changes, as `baseline_gate_bench.py`); for
the pairwise gate the sign test's for the per-case win, loss and tie rates pooled over the seeds
(exact: the number of decisive cases is binomial, the wins among them too). The detectable
change is the median of what the comparisons stated (80% power): a mean score change for the
score gates, the win share below 0.5 for the pairwise gate.

Run from the repository root; no network, a few minutes on 2 cores (the gates run in 2
processes).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_promptopt.stats import DEFAULT_MARGIN, RULES, CaseOutcome, compare_runs
from pytest_promptopt.stats.pairwise import compare_pairs
from tests.support.gate import (
    CASES,
    judge_noise,
    pairwise_run,
    simulated_answers,
    simulated_run,
)
from tests.support.gate import (
    GOOD_PROMPT as GOOD,
)
from tests.support.gate import (
    WORSE_PROMPT as WORSE,
)

PAIRWISE_CALLS = 2
"""Pairwise calls per shared case (both orders); with the run's own judge call, 3 per case."""
SCORE_REPEATS = 3
"""The score gate's judge repeats at the same calls per case as the pairwise gate."""
WORKERS = 2
"""Processes the gates run in (one gate each)."""


def t_power(drop: float, sd: float, n: int, alpha: float) -> float:
    """The paired t test's power to find a mean change `drop` (noncentral t, two-sided)."""
    from scipy.stats import nct, t

    if not sd > 0:
        return 1.0
    df, crit = n - 1, float(t.ppf(1 - alpha / 2, n - 1))
    nc = abs(drop) * math.sqrt(n) / sd
    return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc))


def sign_power(n: int, p_win: float, p_loss: float, alpha: float) -> float:
    """The sign test's power on n cases with these per-case win and loss rates (exact)."""
    from scipy.stats import binom, binomtest

    decisive = p_win + p_loss
    if decisive <= 0:
        return 0.0
    share = p_win / decisive
    total = 0.0
    for k in range(1, n + 1):
        rejected = [x for x in range(k + 1) if binomtest(x, k, 0.5).pvalue < alpha]
        hit = sum(float(binom.pmf(x, k, share)) for x in rejected)
        total += float(binom.pmf(k, n, decisive)) * hit
    return total


def score_gate(cases: list[tuple[str, str, str]], seeds: int, repeats: int) -> dict[str, Any]:
    """The score gate's verdicts (baseline and runs judged `repeats` times per answer)."""
    same: Counter[str] = Counter()
    worse: Counter[str] = Counter()
    detectable: list[float] = []
    spreads: list[float] = []

    def run(prompt: str, seed: int) -> dict[str, CaseOutcome]:
        return simulated_run(prompt, seed, cases, repeats=repeats, answer_sample=seed)

    for seed in range(1, seeds + 1):
        base, rerun, changed = run(GOOD, seed), run(GOOD, 1000 + seed), run(WORSE, 2000 + seed)
        same[compare_runs(base, rerun).verdict] += 1
        result = compare_runs(base, changed)
        worse[result.verdict] += 1
        if result.min_detectable_change is not None:
            detectable.append(result.min_detectable_change)
            spreads.append(statistics.stdev(d for _, d in result.deltas))
    alpha = RULES["baseline"].alpha
    drop = true_drop(cases, min(seeds, 10))
    power = t_power(drop, statistics.median(spreads), len(cases), alpha) if spreads else 1.0
    return {
        "gate": "scores" if repeats == 1 else f"scores, {repeats} judge repeats",
        "judge_calls_per_case": repeats,
        "false_alarms": same["regressed"],
        "detections": worse["regressed"],
        "rerun_verdicts": dict(sorted(same.items())),
        "changed_verdicts": dict(sorted(worse.items())),
        "median_detectable": round(statistics.median(detectable), 4) if detectable else None,
        "detectable_is": "mean score change",
        "predicted_power": round(power, 3),
        "true_mean_drop": round(drop, 4),
    }


def true_drop(cases: list[tuple[str, str, str]], seeds: int) -> float:
    """The mean score change of the drop's runs without judge noise (their answers sampled)."""
    with judge_noise(0.0):
        changes = [
            statistics.fmean(
                simulated_run(WORSE, 0, cases, answer_sample=2000 + seed)[k].score
                - simulated_run(GOOD, 0, cases, answer_sample=seed)[k].score
                for k in (c[0] for c in cases)
            )
            for seed in range(1, seeds + 1)
        ]
    return statistics.fmean(changes)


def pairwise_gate(cases: list[tuple[str, str, str]], seeds: int) -> dict[str, Any]:
    """The pairwise gate's verdicts on the same runs' answers, 2 pairwise calls per case."""
    same: Counter[str] = Counter()
    worse: Counter[str] = Counter()
    detectable: list[float] = []
    outcomes: Counter[str] = Counter()
    order_dependent = 0
    for seed in range(1, seeds + 1):
        base = simulated_answers(GOOD, cases, seed)
        rerun = pairwise_run(base, simulated_answers(GOOD, cases, 1000 + seed), 3000 + seed)
        changed = pairwise_run(base, simulated_answers(WORSE, cases, 2000 + seed), 4000 + seed)
        same[compare_pairs({k: j.outcome for k, j in rerun.items()}).verdict] += 1
        result = compare_pairs({k: j.outcome for k, j in changed.items()})
        worse[result.verdict] += 1
        outcomes.update(j.outcome for j in changed.values())
        order_dependent += sum(1 for j in changed.values() if j.order_dependent)
        if result.min_detectable_share is not None:
            detectable.append(result.min_detectable_share)
    total = sum(outcomes.values())
    alpha = RULES["baseline"].alpha
    power = sign_power(len(cases), outcomes["win"] / total, outcomes["loss"] / total, alpha)
    return {
        "gate": "pairwise",
        "judge_calls_per_case": 1 + PAIRWISE_CALLS,
        "false_alarms": same["regressed"],
        "detections": worse["regressed"],
        "rerun_verdicts": dict(sorted(same.items())),
        "changed_verdicts": dict(sorted(worse.items())),
        "changed_outcomes": {k: round(outcomes[k] / total, 3) for k in ("win", "loss", "tie")},
        "changed_order_dependent": round(order_dependent / total, 3),
        "median_detectable": round(statistics.median(detectable), 4) if detectable else None,
        "detectable_is": "win share",
        "predicted_power": round(power, 3),
    }


def one_gate(
    cases: list[tuple[str, str, str]], seeds: int, noise: float, gate: str, repeats: int
) -> dict[str, Any]:
    """One gate's figures under this judge noise (run in a worker process)."""
    with judge_noise(noise):
        if gate == "pairwise":
            return pairwise_gate(cases, seeds)
        return score_gate(cases, seeds, repeats)


def measure(per_topic: int, seeds: int, noise: float) -> dict[str, Any]:
    """Every gate on one suite size and noise; print them, return the figures."""
    cases = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= per_topic]
    jobs = [("scores", 1), ("scores", SCORE_REPEATS), ("pairwise", 0)]
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(one_gate, cases, seeds, noise, *job) for job in jobs]
        gates = [f.result() for f in futures]
    print(f"{len(cases)} cases, judge noise {noise}, {seeds} seeds:")
    for g in gates:
        shown = "none" if g["median_detectable"] is None else f"{g['median_detectable']:.3f}"
        print(
            f"  {g['gate']:<26} {g['judge_calls_per_case']} calls/case: false alarms "
            f"{g['false_alarms']}/{seeds}, detections {g['detections']}/{seeds} "
            f"(predicted power {g['predicted_power']:.0%}); detectable {g['detectable_is']} "
            f"{shown}; re-run {g['rerun_verdicts']}, drop {g['changed_verdicts']}"
        )
    return {
        "cases": len(cases),
        "noise": noise,
        "true_mean_drop": next(g["true_mean_drop"] for g in gates if "true_mean_drop" in g),
        "gates": gates,
    }


def main() -> int:
    """Print every gate's false-alarm and detection rates (and write them with --output)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--noise", type=float, action="append", help="default 0.15 and 0")
    parser.add_argument("--per-topic", type=int, action="append", help="default 8 and 4")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    noises = args.noise or [0.15, 0.0]
    settings = [
        measure(per_topic, args.seeds, noise)
        for noise in noises
        for per_topic in (args.per_topic or [8, 4])
        if noise > 0 or per_topic == (args.per_topic or [8])[0]
    ]
    if args.output is not None:
        results = {"seeds": args.seeds, "noise": noises[0], "margin": DEFAULT_MARGIN}
        results |= {"pairwise_calls_per_case": PAIRWISE_CALLS, "score_repeats": SCORE_REPEATS}
        args.output.write_text(json.dumps({**results, "settings": settings}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
