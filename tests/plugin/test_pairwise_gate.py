"""`comparison: pairwise` (and `--promptopt-compare pairwise`): the baseline gate and variants
judged by the pairwise judge, against the blessed run's stored answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT
from tests.support.plugin import default_db, query, run_ids, write_suite


def suite_yaml(prompt: str, *, pairwise: bool = True, cases: int = 24) -> str:
    """The support suite of `tests.support.gate` (threshold 0.3, no gate), compared pairwise."""
    picked = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= cases // 3]
    lines = ["name: support", f'prompt: "{prompt}"', "threshold: 0.3", "gate: none"]
    lines += ["comparison: pairwise"] if pairwise else []
    lines += ["cases:"]
    for case_id, text, expected in picked:
        lines += [f"  - id: {case_id}", f'    input: "{text}"', f'    expected: "{expected}"']
    return "\n".join(lines) + "\n"


def bless(sim: pytest.Pytester, cases: int = 24) -> int:
    """Run the good prompt, bless the run, return its id."""
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, cases=cases))
    sim.runpytest().assert_outcomes(passed=cases)
    blessed = CliRunner().invoke(main, ["--db", str(default_db(sim)), "bless"])
    assert blessed.exit_code == 0, blessed.output
    return run_ids(default_db(sim))[-1]


def baseline_line(lines: list[str], base: int) -> str:
    """The summary's line about the baseline run."""
    [line] = [ln for ln in lines if f"baseline run {base}: " in ln]
    return line


@pytest.fixture(params=["0", "0.15"], ids=["deterministic", "noisy"])
def noise(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The simulated judge's noise: 0 (a deterministic backend) or 0.15."""
    monkeypatch.setenv("PROMPTOPT_SIMULATED_JUDGE_NOISE", request.param)
    return str(request.param)


BROKEN = "You are a support assistant for an online shop."
"""The good prompt with every directive removed: every case loses what it needs."""


def test_a_broken_prompt_regresses_pairwise(sim: pytest.Pytester, noise: str) -> None:
    base = bless(sim)
    # Without noise even the subtle drop (the refund directive gone: 8 of 24 cases) is caught;
    # under noise 0.15 the sign test needs a drop in most cases (the benchmark's figures).
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT if noise == "0" else BROKEN))
    result = sim.runpytest("--promptopt-baseline")
    result.assert_outcomes(passed=24)  # every case still passes at 0.3...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ...the pairwise judge sees the drop
    line = baseline_line(result.outlines, base)
    assert line.lstrip().startswith(f"baseline run {base}: regressed: pairwise judge on 24 ")
    assert "compared pairwise" in line and "sign test p=" in line and "detects a win share" in line
    losses = [ln for ln in result.outlines if "judged worse in both orders: " in ln]
    [worse] = losses
    keys = worse.split(": ")[1].split(", ")
    if noise == "0":  # a deterministic judge: the 8 refund cases and only they
        assert keys == [f"refund-{n}" for n in range(1, 9)]
    else:
        assert len(keys) >= 12
    # Two judge calls per shared case, both orders, recorded as the judge's.
    run = run_ids(default_db(sim))[-1]
    pairwise = query(
        default_db(sim),
        "SELECT COUNT(*) FROM llm_calls WHERE run_id = ? AND role = 'judge' "
        "AND request LIKE '%submit_preference%'",
        (run,),
    )
    assert pairwise == [(48,)]
    report = json.loads(
        (Path(sim.path) / ".promptopt" / "reports" / str(run) / "report.json").read_text()
    )
    figures = report["suites"][0]["baseline"]["pairwise"]
    assert figures["verdict"] == "regressed" and figures["losses"] > figures["wins"]


def test_an_unchanged_prompt_is_not_a_regression(sim: pytest.Pytester, noise: str) -> None:
    base = bless(sim)
    result = sim.runpytest("--promptopt-baseline")
    result.assert_outcomes(passed=24)
    assert result.ret == pytest.ExitCode.OK
    line = baseline_line(result.outlines, base)
    verdict = line.split(": ")[1]
    assert verdict.startswith(("unchanged", "inconclusive")), line
    if noise == "0":  # identical answers, no noise: every case a tie in both orders
        assert "unchanged (every case a tie)" in line and "0 wins, 0 losses, 24 ties" in line


def test_the_flag_compares_pairwise_and_scores_say_so(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, pairwise=False, cases=12))
    sim.runpytest().assert_outcomes(passed=12)
    CliRunner().invoke(main, ["--db", str(default_db(sim)), "bless"])
    base = run_ids(default_db(sim))[-1]
    scores = sim.runpytest("--promptopt-baseline")
    assert baseline_line(scores.outlines, base).endswith("; compared by scores")
    pairwise = sim.runpytest("--promptopt-baseline", "--promptopt-compare", "pairwise")
    assert "compared pairwise" in baseline_line(pairwise.outlines, base)
    ini = sim.runpytest("--promptopt-baseline", "-o", "promptopt_compare=pairwise")
    assert "compared pairwise" in baseline_line(ini.outlines, base)
    bad = sim.runpytest("--promptopt-compare", "both")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--promptopt-compare must be one of scores, pairwise*"])


def test_variants_compared_pairwise(sim: pytest.Pytester) -> None:
    picked = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= 8]
    lines = [
        "name: support",
        "threshold: 0.3",
        "gate: none",
        "comparison: pairwise",
        "variants:",
        f'  good: {{prompt: "{GOOD_PROMPT}"}}',
        f'  worse: {{prompt: "{WORSE_PROMPT}"}}',
        "cases:",
    ]
    for case_id, text, expected in picked:
        lines += [f"  - id: {case_id}", f'    input: "{text}"', f'    expected: "{expected}"']
    write_suite(sim, "support", "\n".join(lines) + "\n")
    result = sim.runpytest()
    result.assert_outcomes(passed=48)
    [paired] = [ln for ln in result.outlines if ln.strip().startswith("paired: ")]
    assert "verdict regressed" in paired and "comparison pairwise" in paired
    assert "wins/losses/ties 0/" in paired


def test_under_xdist_the_controller_judges_the_pairs(sim: pytest.Pytester) -> None:
    base = bless(sim)
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT))
    result = sim.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--promptopt-baseline")
    result.assert_outcomes(passed=24)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = baseline_line(result.outlines, base)
    assert "regressed: pairwise judge on 24 shared cases" in line
    run = run_ids(default_db(sim))[-1]
    assert query(default_db(sim), "SELECT status FROM optimization_runs WHERE id = ?", (run,)) == [
        ("failed",)
    ]
