"""The baseline gate on the simulator: false-alarm rate and detection rate under judge noise.

    python benchmarks/baseline_gate_bench.py            # 40 seeds each, noise 0.15
    python benchmarks/baseline_gate_bench.py --per-topic 4    # 12 cases
    python benchmarks/baseline_gate_bench.py --per-topic 8 --per-topic 4 --noise 0.15 \
        --noise 0 --output benchmarks/baseline_gate_results.json   # what docs/benchmarks.md shows

Each run judges the 24-case support suite of `tests/support/gate.py` (8 refund, 8 parcel,
8 cancel cases) through the simulator, with the plugin's own target and judge requests; a run's
judge requests carry its seed, so each run gets its own judge noise (the target's answers are
the same in every run). Per seed, a baseline run of the good prompt is compared
(`stats.compare_runs`, margin 0.02) with:

- a re-run of the same prompt: a `regressed` verdict is a false alarm;
- a run of the prompt without its refund directive (the refund cases lose what they need; the
  true drop, measured without noise, is printed): a `regressed` verdict is a detection.

Every verdict is counted (`unchanged` on the re-run needs the whole interval within the margin,
so a noisy suite too small for that says `inconclusive`), with the median detectable change the
comparisons stated and the power the t test predicts for the true drop (noncentral t at the
median spread of the per-case changes) beside the observed detection rate. `--noise 0` is the
deterministic judge: a re-run is identical.

Run from the repository root; no network, a few seconds per 10 seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_promptopt.stats import DEFAULT_MARGIN, RULES, compare_runs
from tests.support.gate import (
    CASES,
    GOOD_PROMPT,
    WORSE_PROMPT,
    judge_noise,
    simulated_run,
)


def true_drop(cases: list[tuple[str, str, str]]) -> float:
    """The worse prompt's mean score change without judge noise (the drop to detect)."""
    with judge_noise(0.0):
        good, worse = simulated_run(GOOD_PROMPT, 0, cases), simulated_run(WORSE_PROMPT, 0, cases)
    return statistics.fmean(worse[k].score - good[k].score for k in good)


def predicted_power(drop: float, sd: float, n: int, alpha: float) -> float:
    """The t test's power to find a mean change `drop` (noncentral t, two-sided)."""
    from scipy.stats import nct, t

    df, crit = n - 1, float(t.ppf(1 - alpha / 2, n - 1))
    nc = abs(drop) * math.sqrt(n) / sd
    return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc))


def measure(per_topic: int, seeds: int, noise: float, margin: float) -> dict[str, Any]:
    """The gate's verdicts over `seeds` runs of one suite size; print them, return the figures."""
    cases = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= per_topic]
    drop = true_drop(cases)
    same: Counter[str] = Counter()
    worse: Counter[str] = Counter()
    detectable: list[float] = []
    spreads: list[float] = []
    with judge_noise(noise):
        for seed in range(1, seeds + 1):
            base = simulated_run(GOOD_PROMPT, seed, cases)
            rerun = simulated_run(GOOD_PROMPT, 1000 + seed, cases)
            changed = simulated_run(WORSE_PROMPT, 2000 + seed, cases)
            same[compare_runs(base, rerun, margin=margin).verdict] += 1
            result = compare_runs(base, changed, margin=margin)
            worse[result.verdict] += 1
            if result.min_detectable_change is not None:
                detectable.append(result.min_detectable_change)
                spreads.append(statistics.stdev(d for _, d in result.deltas))
    alpha = RULES["baseline"].alpha
    mdc = statistics.median(detectable) if detectable else None
    power = predicted_power(drop, statistics.median(spreads), len(cases), alpha) if spreads else 1.0
    print(
        f"baseline gate on the simulator: {len(cases)} cases, judge noise {noise}, "
        f"margin {margin}, {seeds} seeds"
    )
    print(
        f"false alarms (same prompt re-run): {same['regressed']}/{seeds} = "
        f"{same['regressed'] / seeds:.1%}  verdicts {dict(sorted(same.items()))}"
    )
    print(
        f"detections (refund directive removed, true mean drop {drop:+.3f}): "
        f"{worse['regressed']}/{seeds} = {worse['regressed'] / seeds:.1%}  "
        f"verdicts {dict(sorted(worse.items()))}"
    )
    shown = "none (no spread)" if mdc is None else f"{mdc:.3f}"
    print(
        f"median detectable change (80% power) {shown}; predicted power for the true drop "
        f"{power:.0%}, observed detection {worse['regressed'] / seeds:.0%}"
    )
    return {
        "cases": len(cases),
        "noise": noise,
        "true_mean_drop": round(drop, 4),
        "false_alarms": same["regressed"],
        "detections": worse["regressed"],
        "rerun_verdicts": dict(sorted(same.items())),
        "changed_verdicts": dict(sorted(worse.items())),
        "median_detectable_change": None if mdc is None else round(mdc, 4),
        "predicted_power": round(power, 3),
    }


def main() -> int:
    """Print the false-alarm and detection rates (and write them with --output); exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument(
        "--noise", type=float, action="append", help="judge noise (repeatable; default 0.15)"
    )
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument(
        "--per-topic", type=int, action="append", help="cases per topic (1..8; repeatable)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    noises = args.noise or [0.15]
    sizes = [
        measure(per_topic, args.seeds, noise, args.margin)
        for noise in noises
        for per_topic in (args.per_topic or [8])
    ]
    if args.output is not None:
        results = {"seeds": args.seeds, "noise": noises[0], "margin": args.margin}
        args.output.write_text(json.dumps({**results, "sizes": sizes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
