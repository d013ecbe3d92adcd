"""The benchmarks read figures out of the plugin's output: their patterns match today's lines."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pytest_promptopt.optimize.outcome import OptimizeOutcome

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_optimize_bench_reads_the_pipelines_calls_from_the_optimized_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("optimize_bench")
    outcome = OptimizeOutcome(
        suite="bench",
        run_id=1,
        original_prompt_id=1,
        best_prompt_id=1,
        best_prompt_text="p",
        calls=4877,
        cost_usd=0.19,
    )
    assert bench.SUMMARY_CALLS.findall(outcome.describe()) == ["4877"]
    assert bench.SUMMARY_CALLS.findall("spend: session total 12 calls, $0.0100") == []
