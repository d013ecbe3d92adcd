"""Benchmark: a latency-bound suite with `-n 0` vs `-n 2` (xdist), against a slow loopback API.

Run from the repository root:

    python benchmarks/xdist_bench.py                # 120 and 360 cases, about 2.5 minutes
    python benchmarks/xdist_bench.py --cases 120    # one size
    python benchmarks/xdist_bench.py --output benchmarks/xdist_results.json   # for the docs

Judged cases (2 calls each) against `LoopbackMessagesServer(latency_s=0.3)`, concurrency 4 per
process, cache off. For each size it prints both wall times and the speed-up (-n 0 / -n 2; goal
>= 1.8 on a 2-core machine). It also measures what xdist itself costs, on a one-test project
without suites, since that fixed cost (plus each worker's own start-up) weighs on short suites.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BYTECODE, calls_and_hits, clean_env, run_pytest, suite_yaml, write_project

DEFAULT_CASES = (120, 360)
LATENCY_S = 0.3
CONCURRENCY = 4
GOAL = 1.8
COMMON = ["-p", "no:cacheprovider", "-q"]


def xdist_fixed_cost(root: Path, env: dict[str, str]) -> tuple[float, float]:
    """Median wall time of a one-test project (no suite) with -n 0 and with -n 2."""
    root.mkdir()
    write_project(root, {"test_one.py": "def test_one():\n    assert True\n"})
    times: dict[str, list[float]] = {"0": [], "2": []}
    for _ in range(3):
        for workers in times:
            elapsed, _ = run_pytest(root, [*COMMON, "-n", workers], env)
            times[workers].append(elapsed)
    return sorted(times["0"])[1], sorted(times["2"])[1]


def speed_up(root: Path, env: dict[str, str], n_cases: int) -> dict[str, float]:
    """Wall times of one suite of `n_cases` with -n 0 and -n 2."""
    flags = [
        *COMMON,
        "--promptopt-model=claude-haiku-4-5",
        "--promptopt-cache=off",
        f"--promptopt-concurrency={CONCURRENCY}",
    ]
    times: dict[str, float] = {}
    for workers in ("0", "2"):
        project = root / f"cases{n_cases}-n{workers}"
        project.mkdir()
        write_project(project, {"bench.promptopt.yaml": suite_yaml(n_cases)})
        elapsed, proc = run_pytest(project, [*flags, "-n", workers], env)
        calls, hits = calls_and_hits(proc.stdout)
        assert calls == 2 * n_cases and hits == 0, (calls, hits)
        times[workers] = elapsed
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", type=int, action="append", help="suite size (repeatable; default 120 and 360)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    sizes = args.cases or list(DEFAULT_CASES)
    results: dict[str, object] = {"latency_s": LATENCY_S, "concurrency": CONCURRENCY, "goal": GOAL}
    measured: list[dict[str, object]] = []
    from pytest_promptopt.testing import LoopbackMessagesServer

    with (
        tempfile.TemporaryDirectory(prefix="promptopt-xdist-bench-") as tmp,
        LoopbackMessagesServer(latency_s=LATENCY_S) as server,
    ):
        BYTECODE["prefix"] = str(Path(tmp) / "pycache")
        env = clean_env(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="bench")
        # Compile the bytecode of every import (SDK, SQLAlchemy, reports, xdist) before any
        # timed run: an untimed small suite with the cache off, with and without workers.
        warm = Path(tmp) / "warm"
        warm.mkdir()
        write_project(warm, {"bench.promptopt.yaml": suite_yaml(4)})
        for workers in ("0", "2"):
            run_pytest(warm, [*COMMON, "--promptopt-cache=off", "-n", workers], env)
        plain0, plain2 = xdist_fixed_cost(Path(tmp) / "plain", env)
        print(
            f"xdist itself, one test and no suite: -n 0 {plain0:.2f} s, -n 2 {plain2:.2f} s "
            f"(+{plain2 - plain0:.2f} s to start and stop two workers)"
        )
        for n_cases in sizes:
            times = speed_up(Path(tmp), env, n_cases)
            ideal0 = 2 * n_cases * LATENCY_S / CONCURRENCY
            ratio = times["0"] / times["2"]
            status = "PASS" if ratio >= GOAL else "MISS"
            print(
                f"{n_cases} cases ({2 * n_cases} calls at {LATENCY_S}s, concurrency "
                f"{CONCURRENCY}/process; ideal {ideal0:.0f} s / {ideal0 / 2:.0f} s): "
                f"-n 0 {times['0']:.2f} s, -n 2 {times['2']:.2f} s, "
                f"speed-up {ratio:.2f}x (goal >= {GOAL}) {status}"
            )
            measured.append({
                "cases": n_cases, "ideal_s": round(ideal0 / 2, 2), "serial_s": round(times["0"], 2),
                "parallel_s": round(times["2"], 2), "speedup": round(ratio, 3), "status": status,
            })  # fmt: skip
    if args.output is not None:
        results["xdist_fixed_cost_s"] = {"n0": round(plain0, 3), "n2": round(plain2, 3)}
        results["sizes"] = measured
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
