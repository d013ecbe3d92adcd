"""The baseline gate (`promptopt bless`/`baselines`, `--promptopt-baseline`, `diff
--fail-on-regression`) and the intervals of each suite in the summary and report.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pytest_promptopt.cli.main import main
from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT
from tests.support.plugin import default_db, query, run_ids, summary_lines, write_suite


def suite_yaml(prompt: str, threshold: float, cases: int = 12, gate: str | None = None) -> str:
    """The support suite of `tests.support.gate`: 4 refund, 4 parcel and 4 cancel cases."""
    picked = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= cases // 3]
    lines = ["name: support", f'prompt: "{prompt}"', f"threshold: {threshold}"]
    lines += [f"gate: {gate}"] if gate else []
    lines += ["cases:"]
    for case_id, text, expected in picked:
        lines += [f"  - id: {case_id}", f'    input: "{text}"', f'    expected: "{expected}"']
    return "\n".join(lines) + "\n"


def cli(pytester: pytest.Pytester, *args: str) -> Result:
    """`promptopt --db <the project's database> ARGS`."""
    return CliRunner().invoke(main, ["--db", str(default_db(pytester)), *args])


def bless_good_run(sim: pytest.Pytester, threshold: float, cases: int = 12) -> int:
    """Run the good prompt (every case passes) and bless that run; return its id."""
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, threshold, cases))
    sim.runpytest().assert_outcomes(passed=cases)
    blessed = cli(sim, "bless")
    assert blessed.exit_code == 0, blessed.output
    return run_ids(default_db(sim))[-1]


def report_json(sim: pytest.Pytester, run_id: int) -> dict[str, object]:
    """The run's report.json."""
    path = sim.path / ".promptopt" / "reports" / str(run_id) / "report.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_a_regression_that_thresholds_miss_fails_the_session(sim: pytest.Pytester) -> None:
    base = bless_good_run(sim, threshold=0.6, cases=24)
    # (24 cases: on 12 the paired t interval of this drop, -0.18..-0.004, reaches the margin.)
    # Without its refund directive (and with no functionality gate, which would catch it) the
    # prompt still passes every case at 0.6...
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.6, cases=24, gate="none"))
    result = sim.runpytest("--promptopt-baseline")
    result.assert_outcomes(passed=24)
    # ...but its refund answers lost what they had: the gate fails the session.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"FAILED baseline gate: support regressed against its baseline (run {base}): the "
            "session fails; regressed: 24 shared cases*",
            f"    baseline run {base}: regressed: 24 shared cases, mean 0.* -> 0.*, change -0.*",
        ]
    )
    run = run_ids(default_db(sim))[-1]
    assert query(default_db(sim), "SELECT status FROM optimization_runs WHERE id = ?", (run,)) == [
        ("failed",)
    ]
    suite = report_json(sim, run)["suites"][0]  # type: ignore[index]
    comparison = suite["baseline"]["comparison"]
    assert suite["baseline"]["baseline_run_id"] == base
    assert comparison["verdict"] == "regressed" and comparison["n_shared"] == 24
    assert comparison["delta_ci"][1] < -0.02
    assert len(comparison["deltas"]) == 24


def test_without_the_flag_the_same_runs_pass(sim: pytest.Pytester) -> None:
    bless_good_run(sim, threshold=0.6)
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.6, gate="none"))
    result = sim.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert "baseline" not in result.stdout.str()


def test_the_same_prompt_again_is_unchanged_with_the_ini_key(sim: pytest.Pytester) -> None:
    base = bless_good_run(sim, threshold=0.7)
    sim.makeini("[pytest]\npromptopt_model = simulated\npromptopt_baseline = true\n")
    result = sim.runpytest()
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"    baseline run {base}: unchanged: 12 shared cases, *"])


def test_cases_that_go_from_pass_to_fail_are_named(sim: pytest.Pytester) -> None:
    bless_good_run(sim, threshold=0.7)
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.7))
    result = sim.runpytest("--promptopt-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = next(x for x in result.outlines if x.startswith("    pass->fail: "))
    named = set(line.removeprefix("    pass->fail: ").split(", "))
    failed = {m.group(1) for x in result.outlines if (m := re.match(r"FAILED \S+\[(\S+)\]", x))}
    assert named == failed
    assert named <= {f"refund-{n}" for n in range(1, 5)}


def test_too_few_shared_cases_is_inconclusive_and_passes(sim: pytest.Pytester) -> None:
    base = bless_good_run(sim, threshold=0.6, cases=3)
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.6, cases=3, gate="none"))
    result = sim.runpytest("--promptopt-baseline")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            f"    baseline run {base}: inconclusive (fewer than the 5 shared cases this "
            "comparison needs): 3 shared cases, *"
        ]
    )


def test_a_suite_without_a_baseline_says_so(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, threshold=0.6, cases=3))
    result = sim.runpytest("--promptopt-baseline")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["    baseline: none for support (`promptopt bless` makes one)"])


def test_bless_and_baselines(sim: pytest.Pytester) -> None:
    empty = cli(sim, "baselines")
    assert empty.exit_code == 2 and "no promptopt database" in empty.output
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, threshold=0.6, cases=3))
    write_suite(sim, "other", suite_yaml(GOOD_PROMPT, threshold=0.6, cases=3).replace(
        "name: support", "name: other"))  # fmt: skip
    sim.runpytest().assert_outcomes(passed=6)
    sim.runpytest().assert_outcomes(passed=6)
    first, second = run_ids(default_db(sim))
    assert cli(sim, "baselines").output.strip() == (
        "no baselines yet: `promptopt bless [RUN]` makes one"
    )
    assert cli(sim, "bless").output.splitlines() == [
        f"blessed run {second} as the baseline of other",
        f"blessed run {second} as the baseline of support",
    ]
    assert cli(sim, "bless", str(first), "--suite", "support").exit_code == 0
    listed = json.loads(cli(sim, "baselines", "--json").output)
    assert [(b["suite"], b["run_id"]) for b in listed] == [("other", second), ("support", first)]
    rows = [line.split()[:2] for line in cli(sim, "baselines").output.splitlines()]
    assert rows == [["suite", "run"], ["other", str(second)], ["support", str(first)]]
    unknown = cli(sim, "bless", "--suite", "nope")
    assert unknown.exit_code == 1 and "has no suite 'nope'" in unknown.output
    missing = cli(sim, "bless", "99")
    assert missing.exit_code == 1 and "no run with id 99" in missing.output


def test_diff_fail_on_regression_exit_codes(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", suite_yaml(GOOD_PROMPT, threshold=0.7, cases=24))
    sim.runpytest()
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.7, cases=24))
    sim.runpytest()
    good, worse = (str(r) for r in run_ids(default_db(sim)))
    plain = cli(sim, "diff", good, worse)
    assert plain.exit_code == 0
    assert "support: REGRESSED: 24 shared cases" in plain.output
    assert "    pass->fail: refund-" in plain.output
    assert "(80% power)" in plain.output.split("support: REGRESSED:")[1].splitlines()[0]
    gated = cli(sim, "diff", good, worse, "--fail-on-regression")
    assert gated.exit_code == 1 and "regressed: support" in gated.output
    assert cli(sim, "diff", good, good, "--fail-on-regression").exit_code == 0
    assert cli(sim, "diff", worse, good, "--fail-on-regression").exit_code == 0
    data = json.loads(cli(sim, "diff", good, worse, "--json").output)
    assert data["regressed_suites"] == ["support"]
    (suite,) = data["suites"]
    assert suite["verdict"] == "regressed" and suite["comparison"]["n_shared"] == 24
    assert 0 < suite["comparison"]["min_detectable_change"] < 0.2
    assert sum(c["cases"] for c in suite["comparison"]["categories"]) == 24
    assert {c["case_key"] for c in data["cases"]} >= {"refund-1", "parcel-1"}  # unchanged part
    improved = json.loads(cli(sim, "diff", worse, good, "--json").output)
    assert improved["suites"][0]["verdict"] == "improved"


def test_intervals_in_the_summary_and_report_json(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.7))
    result = sim.runpytest()
    line = summary_lines(result)["support"]
    assert line["cases"] == "12"
    result.stdout.fnmatch_lines(
        ["    95% intervals: pass rate *%..*% (Wilson), mean score 0.*..0.* (bootstrap)"]
    )
    suite = report_json(sim, run_ids(default_db(sim))[-1])["suites"][0]  # type: ignore[index]
    low, high = suite["pass_rate_ci"]
    assert 0.0 <= low < suite["pass_rate"] < high <= 1.0
    low, high = suite["mean_score_ci"]
    assert low < suite["mean_score"] < high
    assert suite["baseline"] is None
    md = Path(sim.path) / ".promptopt" / "reports" / str(run_ids(default_db(sim))[-1])
    assert "In brackets: 95% intervals" in (md / "report.md").read_text()


def test_under_xdist_the_controller_decides(sim: pytest.Pytester) -> None:
    base = bless_good_run(sim, threshold=0.6, cases=24)
    write_suite(sim, "support", suite_yaml(WORSE_PROMPT, threshold=0.6, cases=24, gate="none"))
    result = sim.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--promptopt-baseline")
    result.assert_outcomes(passed=24)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = [line for line in result.outlines if f"baseline run {base}: " in line]
    assert len(verdicts) == 1 and "regressed: 24 shared cases" in verdicts[0]
    run = run_ids(default_db(sim))[-1]
    assert query(default_db(sim), "SELECT status FROM optimization_runs WHERE id = ?", (run,)) == [
        ("failed",)
    ]


def test_the_baseline_line_says_when_an_older_judge_scored_the_baseline(
    sim: pytest.Pytester,
) -> None:
    # Issue 28: after an upgrade the baseline line did not say its baseline was judged by an
    # older judge version (`promptopt diff` did).
    base = bless_good_run(sim, threshold=0.6)
    import sqlite3

    with sqlite3.connect(default_db(sim)) as con:
        con.execute("UPDATE evaluations SET judge_version = '1' WHERE run_id = ?", (base,))
    result = sim.runpytest("--promptopt-baseline")
    result.assert_outcomes(passed=12)
    [line] = [ln for ln in result.stdout.lines if f"baseline run {base}:" in ln]
    assert "note: the runs were judged by different judge versions (A: 1, B: " in line
    assert "score changes may come from the judge, not the prompt" in line
    run = run_ids(default_db(sim))[-1]
    baseline = report_json(sim, run)["suites"][0]["baseline"]  # type: ignore[index]
    assert baseline["judge_note"].startswith("note: the runs were judged by different")
