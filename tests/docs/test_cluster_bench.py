"""The clustered-cases benchmark's core on a few seeds: its runs cluster, both gates report."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("setting", ["simulator", "synthetic"])
def test_the_cluster_bench_measures_both_gates(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("cluster_bench")
    base, rerun, _ = bench.SETTINGS[setting](1)
    assert len(base) == len(rerun) == 40
    clustered = bench._clustered(base)
    assert len({o.cluster for o in clustered.values()}) == 10
    found = bench.measure(setting, seeds=3)
    for gate in ("unclustered", "clustered"):
        assert sum(found[gate]["rerun_verdicts"].values()) == 3
        assert sum(found[gate]["worse_verdicts"].values()) == 3
    assert found["median_design_effect"] > 1.5  # the cases of a cluster share their noise
