"""Benchmarks of pytest-promptopt, each a ratio against a reference measured in the same run.

Run from the repository root:

    python benchmarks/run.py           # full sizes (a few minutes)
    python benchmarks/run.py --quick   # small sizes, a smoke run for CI

Prints a table and writes `benchmarks/results.json`. See `benchmarks/README.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_PATH = HERE / "results.json"
SUBPROCESS_TIMEOUT_S = 900

PROMPT = (
    "You are the customer-support assistant of Northwind, an online kitchenware shop. "
    "Answer politely, ask for the order number when you need it, never invent order details."
)
SUMMARY_RE = re.compile(r"calls (\d+), cache hits (\d+)")
BYTECODE = {"prefix": ""}  # PYTHONPYCACHEPREFIX for the subprocesses; "" keeps the inherited env


# --- results -------------------------------------------------------------------------------
@dataclass
class Benchmark:
    """One ratio benchmark: measured / reference, against a goal (ratio must be <= goal)."""

    name: str
    measured_label: str
    measured_s: float
    reference_label: str
    reference_s: float
    goal: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured_s / self.reference_s

    @property
    def passed(self) -> bool:
        return self.ratio <= self.goal

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 4)
        data["status"] = "PASS" if self.passed else "MISS"
        return data


# --- helpers ---------------------------------------------------------------------------------
def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without anything that could change how pytest or the plugin run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROMPTOPT_", "ANTHROPIC_", "PYTEST_"))
        and k not in ("GITHUB_STEP_SUMMARY", "PYTHONPATH")
    }
    if BYTECODE["prefix"]:
        # Cache bytecode (and pytest's rewritten modules) like a default Python install does,
        # but in a private directory, so nothing is written next to the sources.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = BYTECODE["prefix"]
    env.update(extra)
    return env


def write_project(root: Path, files: dict[str, str]) -> None:
    """A minimal pytest project: an empty pytest.ini (so it is the rootdir) plus the files."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


TOPICS = (
    "where is my parcel?",
    "can I get a refund?",
    "is the pan oven-safe?",
    "why was I charged twice?",
    "can I change the address?",
)
"""The questions the benchmark suites cycle through (promptfoo_bench.py asks the same)."""


def suite_yaml(n_cases: int, name: str = "bench") -> str:
    """A suite of `n_cases` varied cases, each with an `expected`, threshold 0 (timing only)."""
    lines = [
        f"name: {name}",
        f"prompt: {json.dumps(PROMPT)}",
        "threshold: 0.0",
        "cases:",
    ]
    for i in range(n_cases):
        question = f"Question {i} about order {1000 + i}: {TOPICS[i % len(TOPICS)]}"
        expected = f"Asks for or uses order number {1000 + i} and answers the question helpfully"
        lines += [
            f"  - id: case-{i:05d}",
            f"    input: {json.dumps(question)}",
            f"    expected: {json.dumps(expected)}",
            f"    category: {('delivery', 'refund', 'product', 'billing', 'account')[i % 5]}",
        ]
    return "\n".join(lines) + "\n"


def run_pytest(
    cwd: Path, args: Sequence[str], env: dict[str, str], *, expect_rc: int = 0
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run `python -m pytest args` in cwd; returns (wall seconds, completed process)."""
    cmd = [sys.executable, "-m", "pytest", *args]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != expect_rc:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(
            f"pytest {' '.join(args)} in {cwd} exited {proc.returncode} "
            f"(expected {expect_rc}):\n{tail}"
        )
    return elapsed, proc


def calls_and_hits(output: str) -> tuple[int, int]:
    """API calls and cache hits from the plugin's terminal summary (summed over suites)."""
    found = SUMMARY_RE.findall(output)
    if not found:
        raise RuntimeError(f"no promptopt summary line in the output:\n{output[-2000:]}")
    return sum(int(c) for c, _ in found), sum(int(h) for _, h in found)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- (a) concurrency -----------------------------------------------------------------------
def timed_server(latency_s: float) -> Any:
    """A LoopbackMessagesServer that also notes when requests start and end (for the breakdown)."""
    from pytest_promptopt.testing import LoopbackMessagesServer

    class TimedServer(LoopbackMessagesServer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.events: list[tuple[float, int]] = []

        def _enter(self, headers: dict[str, str]) -> None:
            super()._enter(headers)
            self.events.append((time.perf_counter(), +1))

        def _leave(self) -> None:
            super()._leave()
            self.events.append((time.perf_counter(), -1))

    return TimedServer(latency_s=latency_s)


def request_phase(events: list[tuple[float, int]], t0: float, t1: float) -> dict[str, float]:
    """Time to the first request, the request phase with its mean in-flight count, the tail."""
    if not events:
        return {}
    events = sorted(events)
    first, last = events[0][0], events[-1][0]
    busy, in_flight, prev = 0.0, 0, first
    for t, delta in events:
        busy += in_flight * (t - prev)
        in_flight, prev = in_flight + delta, t
    return {
        "before_first_request_s": round(first - t0, 3),
        "request_phase_s": round(last - first, 3),
        "mean_in_flight": round(busy / (last - first), 2) if last > first else 0.0,
        "after_last_response_s": round(t1 - last, 3),
    }


def bench_concurrency(n_cases: int, latency_s: float = 0.4, concurrency: int = 16) -> Benchmark:
    """Wall time of a suite against a slow loopback API vs N x 2 x latency / concurrency."""
    calls = n_cases * 2
    limit_s = calls * latency_s / concurrency
    flags = [
        "--promptopt-model=claude-haiku-4-5",
        f"--promptopt-concurrency={concurrency}",
        "--promptopt-cache=off",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    with (
        tempfile.TemporaryDirectory(prefix="promptopt-bench-a-") as tmp,
        timed_server(latency_s) as server,
    ):
        root = Path(tmp)
        write_project(root, {"bench.promptopt.yaml": suite_yaml(n_cases)})
        env = clean_env(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="bench-key")
        # Fixed overhead, measured separately: start pytest, load the plugin, collect the suite.
        startup_s, _ = run_pytest(root, [*flags, "--collect-only"], env)
        log(f"(a) {n_cases} cases, {calls} calls at {latency_s}s, concurrency {concurrency} ...")
        server.events.clear()
        t0 = time.perf_counter()
        wall_s, proc = run_pytest(root, flags, env)
        phases = request_phase(server.events, t0, t0 + wall_s)
        api_calls, hits = calls_and_hits(proc.stdout)
        details = {
            "cases": n_cases,
            "latency_s": latency_s,
            "concurrency": concurrency,
            "startup_collect_only_s": round(startup_s, 3),
            "server_requests": server.request_count,
            "server_max_in_flight": server.max_in_flight,
            "plugin_reported_calls": api_calls,
            "plugin_reported_cache_hits": hits,
            **phases,
        }
    if server.request_count != calls:
        log(f"    warning: expected {calls} requests, the server saw {server.request_count}")
    return Benchmark(
        name="concurrency",
        measured_label=f"pytest wall, {n_cases} cases over HTTP",
        measured_s=wall_s,
        reference_label=f"limit {calls}x{latency_s}s/{concurrency}",
        reference_s=limit_s,
        goal=1.3,
        details=details,
    )


# --- (b) start-up --------------------------------------------------------------------------
TRIVIAL_TESTS = "".join(f"def test_{i}():\n    assert {i} >= 0\n\n\n" for i in range(50))
HEAVY_CHECK_CONFTEST = """
import sys
from pathlib import Path


def pytest_unconfigure(config):
    heavy = sorted(m for m in ("anthropic", "sqlalchemy", "alembic", "httpx") if m in sys.modules)
    Path("heavy_modules.txt").write_text(",".join(heavy))
"""


def bench_startup(runs: int) -> Benchmark:
    """Median wall of 50 trivial tests with the plugin installed but unused vs -p no:promptopt."""
    base = ["-p", "no:cacheprovider", "-q"]
    env = clean_env()
    with_plugin: list[float] = []
    without_plugin: list[float] = []
    with tempfile.TemporaryDirectory(prefix="promptopt-bench-b-") as tmp:
        root = Path(tmp)
        write_project(root, {"test_trivial.py": TRIVIAL_TESTS})
        run_pytest(root, base, env)  # warm-up: bytecode and OS caches, not timed
        run_pytest(root, [*base, "-p", "no:promptopt"], env)
        log(f"(b) start-up, {runs} alternating runs each ...")
        for _ in range(runs):
            with_plugin.append(run_pytest(root, base, env)[0])
            without_plugin.append(run_pytest(root, [*base, "-p", "no:promptopt"], env)[0])
        db_created = (root / ".promptopt").exists()
    # Untimed check of the contract: unused, the plugin imports nothing heavy.
    with tempfile.TemporaryDirectory(prefix="promptopt-bench-b2-") as tmp:
        root = Path(tmp)
        write_project(root, {"test_trivial.py": TRIVIAL_TESTS, "conftest.py": HEAVY_CHECK_CONFTEST})
        run_pytest(root, base, env)
        heavy = (root / "heavy_modules.txt").read_text().split(",")
    return Benchmark(
        name="startup",
        measured_label="50 trivial tests, plugin unused",
        measured_s=statistics.median(with_plugin),
        reference_label="same, -p no:promptopt",
        reference_s=statistics.median(without_plugin),
        goal=1.05,
        details={
            "runs_each": runs,
            "with_plugin_s": [round(t, 4) for t in with_plugin],
            "without_plugin_s": [round(t, 4) for t in without_plugin],
            "promptopt_dir_created": db_created,
            "heavy_modules_imported": [m for m in heavy if m],
        },
    )


# --- (c) cached run ------------------------------------------------------------------------
def bench_cached(n_cases: int, runs: int = 5) -> Benchmark:
    """Median wall of a fully cached simulated suite vs the same number of trivial tests."""
    base = ["-p", "no:cacheprovider", "-q"]
    flags = ["--promptopt-model=simulated", *base]
    plain = (
        "import pytest\n\n\n"
        f'@pytest.mark.parametrize("i", range({n_cases}))\n'
        "def test_x(i):\n    assert i >= 0\n"
    )
    env = clean_env()
    cached: list[float] = []
    reference: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="promptopt-bench-c-") as tmp_suite,
        tempfile.TemporaryDirectory(prefix="promptopt-bench-c-plain-") as tmp_plain,
    ):
        suite_root, plain_root = Path(tmp_suite), Path(tmp_plain)
        write_project(suite_root, {"bench.promptopt.yaml": suite_yaml(n_cases)})
        write_project(plain_root, {"test_plain.py": plain})
        log(f"(c) filling the cache with {n_cases} simulated cases (not timed) ...")
        fill_s, proc = run_pytest(suite_root, [*flags, "--promptopt-cache=use"], env)
        fill_calls, _ = calls_and_hits(proc.stdout)
        run_pytest(plain_root, base, env)  # warm-up of the reference, not timed
        log(f"(c) {runs} cached runs and {runs} plain runs, alternating ...")
        hits_seen: list[tuple[int, int]] = []
        for _ in range(runs):
            elapsed, proc = run_pytest(suite_root, [*flags, "--promptopt-cache=use"], env)
            cached.append(elapsed)
            hits_seen.append(calls_and_hits(proc.stdout))
            reference.append(run_pytest(plain_root, base, env)[0])
    if any(calls for calls, _ in hits_seen):
        log(f"    warning: cached runs still made API calls: {hits_seen}")
    return Benchmark(
        name="cached",
        measured_label=f"{n_cases} cases, fully cached",
        measured_s=statistics.median(cached),
        reference_label=f"{n_cases} trivial parametrized tests",
        reference_s=statistics.median(reference),
        goal=2.0,
        details={
            "cases": n_cases,
            "runs_each": runs,
            "fill_run_s": round(fill_s, 3),
            "fill_run_calls": fill_calls,
            "cached_s": [round(t, 4) for t in cached],
            "plain_s": [round(t, 4) for t in reference],
            "cached_runs_calls_and_hits": hits_seen,
        },
    )


# --- warm-up -------------------------------------------------------------------------------
def warm_up() -> None:
    """One untimed tiny run of every code path, so the bytecode cache holds what is imported."""
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="promptopt-bench-warm-") as tmp:
        root = Path(tmp)
        write_project(root, {"bench.promptopt.yaml": suite_yaml(3), "test_t.py": TRIVIAL_TESTS})
        run_pytest(root, ["--promptopt-model=simulated", "-p", "no:cacheprovider", "-q"], env)
        run_pytest(root, ["-p", "no:promptopt", "-p", "no:cacheprovider", "-q", "test_t.py"], env)


# --- report --------------------------------------------------------------------------------
def render_table(results: Sequence[Benchmark]) -> str:
    header = (
        f"{'benchmark':<12} {'measured':<40} {'s':>8}   {'reference':<34} {'s':>8}"
        f"   {'ratio':>6} {'goal':>7}  status"
    )
    rows = [header, "-" * len(header)]
    for b in results:
        rows.append(
            f"{b.name:<12} {b.measured_label:<40} {b.measured_s:>8.3f}   "
            f"{b.reference_label:<34} {b.reference_s:>8.3f}   {b.ratio:>6.3f} "
            f"{'<= ' + format(b.goal, 'g'):>7}  {'PASS' if b.passed else 'MISS'}"
        )
    return "\n".join(rows)


def render_notes(results: Sequence[Benchmark]) -> str:
    notes = []
    for b in results:
        d = b.details
        if b.name == "concurrency":
            notes.append(
                f"concurrency: pytest start-up + collection alone (--collect-only) "
                f"{d['startup_collect_only_s']:.3f}s (included, not subtracted); "
                f"server saw {d['server_requests']} requests, max {d['server_max_in_flight']} "
                f"in flight (limit {d['concurrency']})"
            )
            if "request_phase_s" in d:
                notes.append(
                    f"concurrency breakdown: {d['before_first_request_s']:.2f}s before the first "
                    f"request, {d['request_phase_s']:.2f}s of requests (mean "
                    f"{d['mean_in_flight']:.1f} in flight), {d['after_last_response_s']:.2f}s "
                    "after the last response"
                )
        elif b.name == "startup":
            notes.append(
                f"startup: medians of {d['runs_each']} alternating runs each; "
                f".promptopt created: {d['promptopt_dir_created']}; heavy modules imported: "
                f"{', '.join(d['heavy_modules_imported']) or 'none'}"
            )
        elif b.name == "cached":
            notes.append(
                f"cached: fill run {d['fill_run_s']:.2f}s ({d['fill_run_calls']} calls); "
                f"cached runs (calls, hits): {d['cached_runs_calls_and_hits']}"
            )
    return "\n".join(notes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a CI smoke run")
    parser.add_argument(
        "--only",
        choices=("concurrency", "startup", "cached"),
        action="append",
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where to write JSON")
    parser.add_argument(
        "--bytecode",
        choices=("cached", "inherit"),
        default="cached",
        help="cached (default): the pytest subprocesses cache bytecode in a private temporary "
        "PYTHONPYCACHEPREFIX, like a default Python install; inherit: keep this environment's "
        "settings (e.g. PYTHONDONTWRITEBYTECODE=1, which makes every run recompile)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any benchmark misses its goal"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="promptopt-bench-pycache-") as pycache:
        if args.bytecode == "cached":
            BYTECODE["prefix"] = pycache
        return run_all(args)


def run_all(args: argparse.Namespace) -> int:

    sizes = {
        "concurrency_cases": 40 if args.quick else 200,
        "startup_runs": 10,
        "cached_cases": 300 if args.quick else 2000,
        "cached_runs": 5,
    }
    selected = args.only or ["concurrency", "startup", "cached"]
    started = time.perf_counter()
    log("warm-up (not timed) ...")
    warm_up()
    results: list[Benchmark] = []
    if "concurrency" in selected:
        results.append(bench_concurrency(sizes["concurrency_cases"]))
    if "startup" in selected:
        results.append(bench_startup(sizes["startup_runs"]))
    if "cached" in selected:
        results.append(bench_cached(sizes["cached_cases"], sizes["cached_runs"]))
    total_s = time.perf_counter() - started

    print(render_table(results))
    print()
    print(render_notes(results))
    print(
        f"\nbytecode: {args.bytecode}; total benchmark time {total_s:.1f}s; "
        f"results in {args.output}"
    )

    args.output.write_text(
        json.dumps(
            {
                "quick": args.quick,
                "bytecode": args.bytecode,
                "inherited_dontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
                "sizes": sizes,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "total_s": round(total_s, 2),
                "all_passed": all(b.passed for b in results),
                "benchmarks": [b.as_json() for b in results],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 1 if args.strict and not all(b.passed for b in results) else 0


if __name__ == "__main__":
    sys.exit(main())
