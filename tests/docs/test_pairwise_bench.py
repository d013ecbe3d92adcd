"""A smoke run of the pairwise benchmark's core: its gates on few seeds, figures well formed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pairwise_bench", ROOT / "benchmarks" / "pairwise_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gates_run_and_a_deterministic_judge_is_exact() -> None:
    bench = _bench()
    for gate, repeats in (("pairwise", 0), ("scores", 1)):
        figures = bench.one_gate(list(bench.CASES), 2, 0.0, gate, repeats)
        assert figures["false_alarms"] == 0 and figures["detections"] == 2
        assert figures["changed_verdicts"] == {"regressed": 2}
        assert 0 <= figures["predicted_power"] <= 1
    pairwise = bench.one_gate(list(bench.CASES), 2, 0.0, "pairwise", 0)
    assert pairwise["rerun_verdicts"] == {"unchanged": 2}
    assert pairwise["judge_calls_per_case"] == 3
    # The refund cases lose in both orders, the others tie.
    assert pairwise["changed_outcomes"] == {"win": 0.0, "loss": 0.333, "tie": 0.667}


def test_the_sign_tests_power_matches_the_exact_sum() -> None:
    bench = _bench()
    # Every case decisive and lost: the sign test rejects whenever it can (5 of 5 cannot).
    assert bench.sign_power(8, 0.0, 1.0, 0.05) == 1.0
    assert bench.sign_power(5, 0.0, 1.0, 0.05) == 0.0
    assert bench.sign_power(24, 0.0, 0.0, 0.05) == 0.0
