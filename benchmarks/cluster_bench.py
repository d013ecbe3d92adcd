"""Clustered cases: the baseline gate's false alarms with and without the clustered tests.

    python benchmarks/cluster_bench.py                 # 40 seeds per setting, noise 0.15
    python benchmarks/cluster_bench.py --output benchmarks/cluster_results.json

10 clusters of 4 near-identical cases; per seed a baseline run is compared (`stats.compare_runs`,
the real gate, margin 0.02) with a re-run of the same prompt (a `regressed` verdict is a false
alarm) and with a worse run (a `regressed` verdict is a detection), once with every case its own
cluster (the unclustered gate) and once with the cases' clusters (`stats.clusters`). Two
settings:

- `simulator`: the 10 clusters are 10 cases of the support suite of `tests/support/gate.py`
  (4 refund, 3 parcel, 3 cancel), each sent 4 times under 4 case ids, through the simulator
  with judge noise 0.15. The simulated judge's noise is a function of its request, so the 4
  cases of a cluster share all of it (the simulator cannot make them share only part: two
  requests that differ at all get independent noise). The worse run drops the prompt's refund
  directive (it hits the 4 refund clusters).
- `synthetic`: runs made at the statistics level: case i of cluster g scores
  mu_i + u_g + e_i (clipped to 0..1, pass at 0.7) with judge noise 0.15 of which the cluster
  shares 80% of the variance (u_g ~ N(0, 0.8 * 0.15^2), e_i ~ N(0, 0.2 * 0.15^2)), fresh in
  every run; the worse run is 0.1 lower on every case. The outcomes go through the same
  `compare_runs`.

`--many` (default 1000) adds the synthetic setting over that many seeds, for a precise rate.
Run from the repository root; no network, about 20 seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_promptopt.stats import DEFAULT_MARGIN, CaseOutcome, compare_runs
from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT, judge_noise, simulated_run

CLUSTERS = 10
PER_CLUSTER = 4
NOISE = 0.15
SHARED = 0.8
"""The share of the judge noise's variance the cases of a cluster have in common (synthetic)."""
DROP = 0.1
THRESHOLD = 0.7
Run = dict[str, CaseOutcome]


def _pick() -> list[tuple[str, str, str]]:
    """The 10 cluster cases: refund 1-4, parcel 1-3, cancel 1-3."""
    wanted = {"refund": 4, "parcel": 3, "cancel": 3}
    return [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= wanted[c[0].rsplit("-", 1)[0]]]


SIM_CASES = [(f"{c}-{j}", text, exp) for c, text, exp in _pick() for j in range(PER_CLUSTER)]


def _clustered(run: Run) -> Run:
    """The run with each case's cluster set (its id without the copy number)."""
    return {k: v._replace(cluster=k.rsplit("-", 1)[0]) for k, v in run.items()}


def simulator_runs(seed: int) -> tuple[Run, Run, Run]:
    """Baseline, re-run and worse run of the clustered support suite on the simulator."""
    with judge_noise(NOISE):
        return (
            simulated_run(GOOD_PROMPT, seed, SIM_CASES),
            simulated_run(GOOD_PROMPT, 1000 + seed, SIM_CASES),
            simulated_run(WORSE_PROMPT, 2000 + seed, SIM_CASES),
        )


def synthetic_runs(seed: int) -> tuple[Run, Run, Run]:
    """Baseline, re-run and worse run with a cluster random effect in the judge noise."""
    rng = random.Random(seed)
    means = {
        f"c{g}-{j}": rng.uniform(0.6, 0.9) for g in range(CLUSTERS) for j in range(PER_CLUSTER)
    }

    def run(shift: float) -> Run:
        shared = {g: rng.gauss(0, NOISE * math.sqrt(SHARED)) for g in range(CLUSTERS)}
        out = {}
        for key, mu in means.items():
            g = int(key[1:].split("-")[0])
            own = rng.gauss(0, NOISE * math.sqrt(1 - SHARED))
            score = min(1.0, max(0.0, mu + shift + shared[g] + own))
            out[key] = CaseOutcome(score, score >= THRESHOLD, f"c{g}")
        return out

    return run(0.0), run(0.0), run(-DROP)


SETTINGS: dict[str, Callable[[int], tuple[Run, Run, Run]]] = {
    "simulator": simulator_runs,
    "synthetic": synthetic_runs,
}


def measure(setting: str, seeds: int, margin: float = DEFAULT_MARGIN) -> dict[str, Any]:
    """Both gates' verdicts over `seeds` seeds of one setting."""
    verdicts: dict[str, Counter[str]] = {
        f"{gate}_{which}": Counter()
        for gate in ("unclustered", "clustered")
        for which in ("rerun", "worse")
    }
    effects: list[float] = []
    for seed in range(1, seeds + 1):
        base, rerun, worse = SETTINGS[setting](seed)
        for which, other in (("rerun", rerun), ("worse", worse)):
            plain = compare_runs(base, other, margin=margin)
            verdicts[f"unclustered_{which}"][plain.verdict] += 1
            clustered = compare_runs(_clustered(base), _clustered(other), margin=margin)
            verdicts[f"clustered_{which}"][clustered.verdict] += 1
            design = clustered.clusters
            if which == "rerun" and design is not None and design.design_effect is not None:
                effects.append(design.design_effect)
    out: dict[str, Any] = {"setting": setting, "seeds": seeds}
    for gate in ("unclustered", "clustered"):
        out[gate] = {
            "false_alarms": verdicts[f"{gate}_rerun"]["regressed"],
            "false_alarm_rate": round(verdicts[f"{gate}_rerun"]["regressed"] / seeds, 4),
            "detections": verdicts[f"{gate}_worse"]["regressed"],
            "rerun_verdicts": dict(sorted(verdicts[f"{gate}_rerun"].items())),
            "worse_verdicts": dict(sorted(verdicts[f"{gate}_worse"].items())),
        }
    out["median_design_effect"] = round(sorted(effects)[len(effects) // 2], 3) if effects else None
    return out


def main() -> int:
    """Print both gates' false-alarm and detection rates (and write them with --output)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument(
        "--many", type=int, default=1000, help="seeds of the precise synthetic figure (0: none)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    results = []
    plan = [(setting, args.seeds) for setting in SETTINGS]
    plan += [("synthetic", args.many)] if args.many else []
    for setting, seeds in plan:
        found = measure(setting, seeds)
        results.append(found)
        print(
            f"{setting}: {CLUSTERS} clusters of {PER_CLUSTER}, judge noise {NOISE}, {seeds} seeds"
        )
        for gate in ("unclustered", "clustered"):
            g = found[gate]
            print(
                f"  {gate:11}: false alarms {g['false_alarms']}/{seeds} "
                f"({g['false_alarm_rate']:.1%}) {g['rerun_verdicts']}; detections "
                f"{g['detections']}/{seeds} {g['worse_verdicts']}"
            )
        print(f"  median design effect {found['median_design_effect']}")
    if args.output is not None:
        head = {"clusters": CLUSTERS, "per_cluster": PER_CLUSTER, "noise": NOISE}
        head |= {"shared": SHARED, "drop": DROP, "margin": DEFAULT_MARGIN}
        args.output.write_text(json.dumps({**head, "settings": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
