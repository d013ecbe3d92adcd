"""pytest-promptopt against `promptfoo eval` on the same loopback Messages API, side by side.

Run from the repository root:

    python benchmarks/promptfoo_bench.py            # 100 cases, 3 alternating runs each
    python benchmarks/promptfoo_bench.py --runs 1 --cases 20   # a smoke run

Installs the npm package `promptfoo` into a temporary folder (or uses `--promptfoo-dir`, a
folder where `npm install promptfoo` was run), starts `LoopbackMessagesServer(latency_s=0.4)`
and runs the same N cases, each with one model call and one judge call (`llm-rubric` there,
the `expected` judge here), with 16 calls in flight and both caches off, alternating the two
tools. Reports the whole-process wall ratio pytest / promptfoo (goal <= 1.0) and, from the
server's side, where the time goes: before the first request, the request phase, after the
last answer, and the per-call overhead (slot time not spent in the server's latency).
Skips, with the reason, where npm is missing or the install fails. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402  (a sibling script, not a package)
    BYTECODE,
    PROMPT,
    TOPICS,
    clean_env,
    request_phase,
    suite_yaml,
    timed_server,
    write_project,
)

MODEL = "claude-haiku-4-5"
LATENCY_S = 0.4
CONCURRENCY = 16
TIMEOUT_S = 900


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def skip(reason: str) -> None:
    """Say why the comparison cannot run here, and stop (exit 0: a skip is no failure)."""
    print(f"SKIPPED: {reason}")
    sys.exit(0)


def install_promptfoo(into: Path) -> Path:
    """`npm install promptfoo` into `into`; the path of its command-line entry point."""
    npm = shutil.which("npm")
    if npm is None:
        skip("npm is not on PATH (install Node.js 20+ to compare with promptfoo)")
    log(f"installing npm promptfoo into {into} (a few minutes the first time) ...")
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "promptfoo"],
        cwd=into,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    entry = into / "node_modules" / "promptfoo" / "dist" / "src" / "main.js"
    if proc.returncode != 0 or not entry.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-10:])
        skip(f"`npm install promptfoo` failed (exit {proc.returncode}):\n{tail}")
    return entry


def promptfoo_entry(folder: Path) -> Path:
    """The entry point of a promptfoo already installed in `folder`."""
    entry = folder / "node_modules" / "promptfoo" / "dist" / "src" / "main.js"
    if not entry.is_file():
        skip(f"--promptfoo-dir {folder}: no node_modules/promptfoo there")
    return entry


def promptfoo_config(n_cases: int) -> str:
    """The promptfoo twin of `suite_yaml(n_cases)`: same system prompt, inputs and rubric."""
    provider = {"id": f"anthropic:messages:{MODEL}", "config": {"max_tokens": 1024}}
    tests = []
    for i in range(n_cases):
        question = f"Question {i} about order {1000 + i}: {TOPICS[i % len(TOPICS)]}"
        expected = f"Asks for or uses order number {1000 + i} and answers the question helpfully"
        tests.append(
            {"vars": {"question": question}, "assert": [{"type": "llm-rubric", "value": expected}]}
        )
    prompt = json.dumps(
        [{"role": "system", "content": PROMPT}, {"role": "user", "content": "{{question}}"}]
    )
    config = {
        "description": "promptopt comparison",
        "prompts": [prompt],
        "providers": [provider],
        "defaultTest": {"options": {"provider": provider}},
        "tests": tests,
    }
    return json.dumps(config, indent=1)  # JSON is YAML


def run_timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one whole process, and its output (exit codes 0 and 1/100 are fine)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1, 100):  # pytest's failed items; promptfoo's failed asserts
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited {proc.returncode}:\n{tail}")
    return elapsed, proc.stdout + proc.stderr


def breakdown(
    server: Any, t0: float, wall_s: float, calls: int, latency_s: float
) -> dict[str, float]:
    """Where the time went, seen from the server; per-call overhead in slot milliseconds."""
    phases = request_phase(server.events, t0, t0 + wall_s)
    if phases:
        slot_s = phases["request_phase_s"] * CONCURRENCY / max(1, calls)
        phases["overhead_ms_per_call"] = round((slot_s - latency_s) * 1000, 1)
    phases["requests"] = server.request_count
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each tool")
    parser.add_argument("--promptfoo-dir", type=Path, help="reuse an `npm install promptfoo`")
    parser.add_argument("--output", type=Path, default=HERE / "promptfoo_results.json")
    args = parser.parse_args(argv)
    node = shutil.which("node")
    if node is None:
        skip("node is not on PATH (install Node.js 20+ to compare with promptfoo)")
    calls = args.cases * 2
    with ExitStack() as stack:
        if args.promptfoo_dir:
            entry = promptfoo_entry(args.promptfoo_dir.resolve())
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pf-npm-")))
            entry = install_promptfoo(folder)
        # Bytecode cached as a default Python install does (warmed by the untimed run), in a
        # private folder: PYTHONDONTWRITEBYTECODE=1 would make every pytest run recompile.
        BYTECODE["prefix"] = stack.enter_context(tempfile.TemporaryDirectory(prefix="pf-pyc-"))
        server = stack.enter_context(timed_server(LATENCY_S))
        py_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pf-bench-py-")))
        pf_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pf-bench-pf-")))
        write_project(py_root, {"bench.promptopt.yaml": suite_yaml(args.cases)})
        (pf_root / "promptfooconfig.yaml").write_text(promptfoo_config(args.cases))
        api = {"ANTHROPIC_BASE_URL": server.base_url, "ANTHROPIC_API_KEY": "bench-key"}
        # The package of this checkout, whichever one the virtualenv has installed.
        py_env = clean_env(**api, PYTHONPATH=str(HERE.parent))
        pf_env = clean_env(
            **api,
            PROMPTFOO_CONFIG_DIR=str(pf_root / ".promptfoo"),
            PROMPTFOO_DISABLE_TELEMETRY="1",
            PROMPTFOO_DISABLE_UPDATE="1",
            PROMPTFOO_CACHE_ENABLED="false",
            NO_COLOR="1",
        )
        py_cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            f"--promptopt-model={MODEL}", f"--promptopt-concurrency={CONCURRENCY}",
            "--promptopt-cache=off",
        ]  # fmt: skip
        pf_cmd = [
            node, str(entry), "eval", "-c", "promptfooconfig.yaml", "--no-cache",
            "--max-concurrency", str(CONCURRENCY), "--no-table", "--no-progress-bar", "--no-share",
        ]  # fmt: skip
        tools = {"pytest": (py_cmd, py_root, py_env), "promptfoo": (pf_cmd, pf_root, pf_env)}
        log(f"warm-up: one untimed run of each ({args.cases} cases, {calls} calls) ...")
        for name, (cmd, cwd, env) in tools.items():
            before = server.request_count
            _, output = run_timed(cmd, cwd, env)
            seen = server.request_count - before
            if seen != calls:
                log(f"    warning: {name} made {seen} requests, not {calls}:\n{output[-1500:]}")
        walls: dict[str, list[float]] = {name: [] for name in tools}
        phases: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
        for run in range(args.runs):
            order = list(tools) if run % 2 == 0 else list(reversed(tools))
            for name in order:
                cmd, cwd, env = tools[name]
                server.events.clear()
                server.request_count = 0
                t0 = time.perf_counter()
                wall, _ = run_timed(cmd, cwd, env)
                walls[name].append(wall)
                phases[name].append(breakdown(server, t0, wall, calls, LATENCY_S))
                log(f"  run {run + 1} {name}: {wall:.2f}s {phases[name][-1]}")
    medians = {name: statistics.median(w) for name, w in walls.items()}
    ratio = medians["pytest"] / medians["promptfoo"]
    result = {
        "cases": args.cases,
        "calls_per_run": calls,
        "latency_s": LATENCY_S,
        "concurrency": CONCURRENCY,
        "limit_s": calls * LATENCY_S / CONCURRENCY,
        "median_wall_s": {k: round(v, 3) for k, v in medians.items()},
        "ratio_pytest_over_promptfoo": round(ratio, 3),
        "goal": 1.0,
        "status": "PASS" if ratio <= 1.0 else "MISS",
        "walls_s": {k: [round(x, 3) for x in v] for k, v in walls.items()},
        "phases": phases,
        "promptfoo_version": promptfoo_version(entry),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"pytest {medians['pytest']:.2f}s vs promptfoo {medians['promptfoo']:.2f}s "
        f"(medians of {args.runs}): ratio {ratio:.3f} (goal <= 1.0) {result['status']}"
    )
    for name in tools:
        keys = ("before_first_request_s", "request_phase_s", "after_last_response_s")
        mids = {k: statistics.median(p.get(k, 0.0) for p in phases[name]) for k in keys}
        over = statistics.median(p.get("overhead_ms_per_call", 0.0) for p in phases[name])
        print(
            f"  {name:9s} before first request {mids[keys[0]]:.2f}s, requests "
            f"{mids[keys[1]]:.2f}s, after last answer {mids[keys[2]]:.2f}s, "
            f"overhead {over:.0f} ms per call"
        )
    print(f"written {args.output}")
    return 0


def promptfoo_version(entry: Path) -> str:
    """The installed promptfoo's version, from its package.json."""
    package = entry.parents[2] / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
