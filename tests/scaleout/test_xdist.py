"""Scale-out under pytest-xdist: same outcomes as one process, one run row, no double work."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.plugin import SIM_INI, query
from tests.support.scaleout import (
    finish,
    judged_suite,
    outcomes,
    start_pytest,
    summary_calls,
    write_project,
)

N_CASES = 24
PLAIN_TEST = "def test_plain():\n    assert 1 + 1 == 2\n"


def db_args(tmp: Path, tag: str) -> list[str]:
    """A private database and report dir per session, so runs can be compared side by side."""
    return [
        f"--promptopt-db=sqlite:///{tmp / f'{tag}.db'}",
        f"--promptopt-report-dir={tmp / f'reports-{tag}'}",
    ]


def assert_one_clean_run(db: Path, n_cases: int) -> int:
    """Exactly one finished run; every case evaluated exactly once in it."""
    runs = query(db, "SELECT id, status, finished_at FROM optimization_runs")
    assert len(runs) == 1, runs
    run_id, status, finished_at = runs[0]
    assert status in ("passed", "failed") and finished_at is not None, runs
    per_case = query(
        db,
        "SELECT test_case_id, sample, COUNT(*) FROM evaluations WHERE run_id = ? "
        "GROUP BY test_case_id, sample",
        (run_id,),
    )
    assert len(per_case) == n_cases, per_case
    assert all(count == 1 for _, _, count in per_case), per_case
    return int(run_id)


def test_n2_matches_n0_with_one_run_and_no_double_evaluation(pytester: pytest.Pytester) -> None:
    pytester.makeini(SIM_INI)
    pytester.makefile(".promptopt.yaml", big=judged_suite("big", N_CASES))
    pytester.makepyfile(test_plain=PLAIN_TEST)
    tmp = pytester.path

    serial = pytester.runpytest_subprocess("-n", "0", "-rA", *db_args(tmp, "n0"), timeout=120)
    parallel = pytester.runpytest_subprocess("-n", "2", "-rA", *db_args(tmp, "n2"), timeout=120)

    expected = outcomes(serial.stdout.str())
    assert len(expected) == N_CASES + 1, expected
    assert {"PASSED", "FAILED"} <= set(expected.values()), "the suite should mix outcomes"
    assert outcomes(parallel.stdout.str()) == expected
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED

    for tag, result in (("n0", serial), ("n2", parallel)):
        out = result.stdout.str()
        db = tmp / f"{tag}.db"
        run_id = assert_one_clean_run(db, N_CASES)
        # The controller set the final status from pytest's exit status (failures -> failed).
        assert query(db, "SELECT status FROM optimization_runs")[0][0] == "failed"
        assert len(re.findall(r"^=+ promptopt =+$", out, flags=re.MULTILINE)) == 1, out
        cases, calls, hits = summary_calls(out, "big")
        assert cases == N_CASES and hits == 0
        # One target + one judge call per case, and no more: nothing was evaluated twice.
        assert calls == 2 * N_CASES
        assert len(re.findall(r"^reports: ", out, flags=re.MULTILINE)) == 1
        assert re.search(r"^    prompt: \S", out, flags=re.MULTILINE), out  # the controller too
        run_dirs = list((tmp / f"reports-{tag}").iterdir())
        assert [p.name for p in run_dirs] == [str(run_id)]
        for name in ("report.json", "report.md", "report.html"):
            assert (run_dirs[0] / name).is_file(), name
        report = json.loads((run_dirs[0] / "report.json").read_text())
        assert report["status"] == "failed"


def test_every_dist_mode_evaluates_each_case_once(tmp_path: Path) -> None:
    n = 12  # four sessions at once: kept small, the 24-case comparison is above
    project = write_project(
        tmp_path / "proj",
        {"big.promptopt.yaml": judged_suite("big", n), "test_plain.py": PLAIN_TEST},
    )
    modes = {"n0": ["-n", "0"]} | {
        mode: ["-n", "2", "--dist", mode] for mode in ("load", "loadscope", "worksteal")
    }
    procs = {
        tag: start_pytest(project, "-rA", *flags, *db_args(tmp_path, tag))
        for tag, flags in modes.items()
    }
    results = {tag: finish(proc) for tag, proc in procs.items()}

    expected = outcomes(results["n0"][1])
    assert len(expected) == n + 1
    for tag, (rc, out) in results.items():
        assert rc == 1, out[-3000:]
        assert outcomes(out) == expected, tag
        assert_one_clean_run(tmp_path / f"{tag}.db", n)
        cases, calls, hits = summary_calls(out, "big")
        if tag == "worksteal":
            # A case stolen after its worker had started it is judged again on the thief, from
            # the cache (or, in a rare race, sent again): still one row per request and case.
            assert cases == n and calls + hits >= 2 * n, tag
            assert query(tmp_path / f"{tag}.db", "SELECT count(*) FROM llm_calls") == [(2 * n,)]
        else:
            assert (cases, calls, hits) == (n, 2 * n, 0), tag


def optimize_facts(db: Path) -> dict[str, Any]:
    """Stage rows and best prompts of the single optimize run in `db`."""
    (run_id,) = (r[0] for r in query(db, "SELECT id FROM optimization_runs"))
    stages = query(
        db,
        "SELECT suite, stage, status, summary FROM stage_results WHERE run_id = ?",
        (run_id,),
    )
    return {"run_id": run_id, "stages": stages}


def test_optimize_under_xdist_runs_each_pipeline_once(tmp_path: Path) -> None:
    description = "Support bot of an online shop; handles refunds and deliveries politely."
    suites = {
        f"{name}.promptopt.yaml": judged_suite(name, 4, description=description)
        for name in ("alpha", "beta")
    }
    project = write_project(tmp_path / "proj", suites)
    procs = {
        tag: start_pytest(project, "-rA", "--optimize", "-n", n, *db_args(tmp_path, tag))
        for tag, n in (("n0", "0"), ("n2", "2"))
    }
    results = {tag: finish(proc, timeout=180) for tag, proc in procs.items()}
    (rc0, out0), (rc2, out2) = results["n0"], results["n2"]
    assert rc0 == rc2, out2[-3000:]
    assert outcomes(out2) == outcomes(out0)
    assert len(outcomes(out0)) == 8

    db = tmp_path / "n2.db"
    facts = optimize_facts(db)
    run_id = facts["run_id"]
    for suite in ("alpha", "beta"):
        mine = [s for s in facts["stages"] if s[0] == suite]
        assert [s[1] for s in mine].count("generate_prompts") == 1, mine
        owners = [s for s in mine if s[1] == "pipeline_owner"]
        assert len(owners) == 1 and owners[0][2] == "completed", owners
        best_id = json.loads(owners[0][3])["best_prompt_id"]
        assert best_id is not None
        # The terminal summary names the best prompt the items judged.
        block = _suite_block(out2, suite)
        assert re.search(rf"^    optimized: .*\(best #{best_id}\)$", block, flags=re.MULTILINE)
        # Every given case of the suite has an evaluation of the best prompt in this run.
        given = {
            r[0]
            for r in query(
                db,
                "SELECT id FROM test_cases WHERE run_id = ? AND suite = ? AND stage = 'given'",
                (run_id, suite),
            )
        }
        assert len(given) == 4
        judged = {
            r[0]
            for r in query(
                db,
                "SELECT test_case_id FROM evaluations WHERE run_id = ? AND prompt_id = ?",
                (run_id, best_id),
            )
        }
        assert given <= judged
    # Without xdist nobody claims a pipeline, but each still ran exactly once.
    serial = optimize_facts(tmp_path / "n0.db")["stages"]
    assert sorted(s[0] for s in serial if s[1] == "generate_prompts") == ["alpha", "beta"]


def _suite_block(output: str, suite: str) -> str:
    """A suite's summary line and its indented continuation lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{suite}: "))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        block.append(line)
    return "\n".join(block)
