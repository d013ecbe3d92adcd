"""A suite with `cluster_by: category`: the baseline gate tests clusters, its line says so."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT
from tests.support.plugin import default_db, run_ids, write_suite


def clustered_suite(prompt: str) -> str:
    """12 support cases (4 refund, 4 parcel, 4 cancel) in 6 categories of 2, by category."""
    picked = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= 4]
    lines = ["name: support", f'prompt: "{prompt}"', "threshold: 0.6", "gate: none"]
    lines += ["cluster_by: category", "cases:"]
    for case_id, text, expected in picked:
        topic, n = case_id.rsplit("-", 1)
        lines += [f"  - id: {case_id}", f'    input: "{text}"', f'    expected: "{expected}"']
        lines += [f"    category: {topic}-{(int(n) + 1) // 2}"]
    return "\n".join(lines) + "\n"


def test_the_baseline_line_states_the_clusters_and_the_design_effect(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", clustered_suite(GOOD_PROMPT))
    sim.runpytest().assert_outcomes(passed=12)
    assert CliRunner().invoke(main, ["--db", str(default_db(sim)), "bless"]).exit_code == 0
    base = run_ids(default_db(sim))[-1]
    write_suite(sim, "support", clustered_suite(WORSE_PROMPT))
    result = sim.runpytest("--promptopt-baseline")
    line = next(x for x in result.outlines if x.startswith(f"    baseline run {base}: "))
    assert "12 shared cases" in line and "cluster flip test p=" in line
    assert "6 clusters of 12 cases, design effect " in line
    run = run_ids(default_db(sim))[-1]
    report = sim.path / ".promptopt" / "reports" / str(run) / "report.json"
    comparison = json.loads(report.read_text())["suites"][0]["baseline"]["comparison"]
    assert comparison["clusters"]["clusters"] == 6 and comparison["clusters"]["cases"] == 12
    assert comparison["clusters"]["design_effect"] > 0
    for name in ("report.md", "report.html"):
        text = (report.parent / name).read_text()
        assert "6 clusters of 12 cases, design effect" in text, name
