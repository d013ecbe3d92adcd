"""Optimize-run benchmarks: peak memory of a big run over a small one, and calls with a warm cache.

    python benchmarks/optimize_bench.py            # 40 candidates x 200 tests vs 4 x 20
    python benchmarks/optimize_bench.py --quick    # 12 x 60 vs 4 x 20
    python benchmarks/optimize_bench.py --output benchmarks/optimize_results.json   # for the docs

Each pytest runs in its own subprocess on the simulator; peak memory is that child's max RSS
(`resource.getrusage(RUSAGE_CHILDREN)` read after each run, which only ever grows, so the small
run goes first). The ratio big/small shows whether memory grows with the run (goal <= 1.25).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import clean_env, suite_yaml, write_project

SUMMARY_CALLS = re.compile(r"pipeline (\d+) calls, \$")


def optimize(root: Path, candidates: int, tests: int) -> tuple[float, int, str]:
    """Run one optimize session; (seconds, model calls reported by the pipeline, output)."""
    half = max(1, tests // 2)
    args = [
        sys.executable, "-m", "pytest", str(root), "-p", "no:cacheprovider", "--optimize",
        "--promptopt-model=simulated", f"--promptopt-candidates={candidates}",
        f"--promptopt-quick-tests={half}", f"--promptopt-rigorous-tests={tests - half}",
        "--promptopt-top-k=3", "--promptopt-top-m=2", "--promptopt-iterations=2",
        "--promptopt-concurrency=16",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=clean_env(), cwd=root)
    elapsed = time.perf_counter() - started
    calls = SUMMARY_CALLS.findall(proc.stdout)
    return elapsed, int(calls[-1]) if calls else -1, proc.stdout


def peak_rss_mb() -> float:
    """Largest resident set of any finished child so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    """Measure and print both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    big = (12, 60) if args.quick else (40, 200)
    with tempfile.TemporaryDirectory() as small_dir, tempfile.TemporaryDirectory() as big_dir:
        for d in (small_dir, big_dir):
            write_project(Path(d), {"bench.promptopt.yaml": suite_yaml(8)})
        t_small, _calls_small, _ = optimize(Path(small_dir), 4, 20)
        rss_small = peak_rss_mb()
        t_big, calls_big, _ = optimize(Path(big_dir), *big)
        rss_big = peak_rss_mb()
        t_warm, calls_warm, _ = optimize(Path(big_dir), *big)
    print(f"memory: {big[0]} candidates x {big[1]} tests peak {rss_big:.0f} MiB "
          f"({t_big:.1f}s, {calls_big} calls) vs 4 x 20 peak {rss_small:.0f} MiB "
          f"({t_small:.1f}s) -> ratio {rss_big / rss_small:.2f} (goal <= 1.25)")  # fmt: skip
    print(f"warm cache: the same {big[0]} x {big[1]} run again made {calls_warm} calls "
          f"(cold: {calls_big}) in {t_warm:.1f}s")  # fmt: skip
    if args.output is not None:
        results = {
            "quick": args.quick,
            "small": {"candidates": 4, "tests": 20, "peak_rss_mib": round(rss_small, 1),
                      "seconds": round(t_small, 2)},
            "big": {"candidates": big[0], "tests": big[1], "peak_rss_mib": round(rss_big, 1),
                    "seconds": round(t_big, 2), "calls": calls_big},
            "memory_ratio": round(rss_big / rss_small, 3),
            "memory_goal": 1.25,
            "warm_calls": calls_warm,
            "warm_seconds": round(t_warm, 2),
        }  # fmt: skip
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
