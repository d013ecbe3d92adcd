"""Benchmark: a latency-bound suite with `-n 0` vs `-n 2` (xdist), against a slow loopback API.

Run from the repository root:

    python benchmarks/xdist_bench.py

120 judged cases (240 calls) against `LoopbackMessagesServer(latency_s=0.3)`, concurrency 4 per
process, cache off. Prints both wall times and the speed-up (-n 0 / -n 2; goal >= 1.8).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BYTECODE, calls_and_hits, clean_env, run_pytest, suite_yaml, write_project

N_CASES = 120
LATENCY_S = 0.3
CONCURRENCY = 4
GOAL = 1.8


def main() -> int:
    from pytest_promptopt.testing import LoopbackMessagesServer

    flags = [
        "--promptopt-model=claude-haiku-4-5",
        "--promptopt-cache=off",
        f"--promptopt-concurrency={CONCURRENCY}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    times: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="promptopt-xdist-bench-") as tmp,
        LoopbackMessagesServer(latency_s=LATENCY_S) as server,
    ):
        BYTECODE["prefix"] = str(Path(tmp) / "pycache")
        env = clean_env(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="bench")
        for workers in ("0", "2"):
            root = Path(tmp) / f"n{workers}"
            root.mkdir()
            write_project(root, {"bench.promptopt.yaml": suite_yaml(N_CASES)})
            # Warm the bytecode cache so neither run pays for compiling the imports (the SDK
            # included: collecting alone does not import it).
            run_pytest(root, ["--collect-only", "-q", "-p", "no:cacheprovider"], env)
            subprocess.run([sys.executable, "-c", "import anthropic"], env=env, check=True)
            elapsed, proc = run_pytest(root, [*flags, "-n", workers], env)
            calls, hits = calls_and_hits(proc.stdout)
            assert calls == 2 * N_CASES and hits == 0, (calls, hits)
            times[workers] = elapsed
            print(f"-n {workers}: {elapsed:6.2f} s  ({calls} calls at {LATENCY_S}s latency)")
    ratio = times["0"] / times["2"]
    status = "PASS" if ratio >= GOAL else "MISS"
    print(f"speed-up -n 0 / -n 2: {ratio:.2f}x (goal >= {GOAL}) {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
