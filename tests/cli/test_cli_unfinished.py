"""The CLI on runs that did not finish: marked abandoned, refused by bless, named by diff/best."""

from __future__ import annotations

import subprocess
import sys

from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.stats import compare_runs
from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import Owner
from tests.cli.test_cli import BEST_TEXT, Filled, _run, filled  # noqa: F401 (the fixture)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _killed_optimize_run(filled: Filled) -> int:  # noqa: F811 (the fixture's name)
    """A newer optimize run of `greet` whose process is gone, still marked `running`."""
    db = Database(f"sqlite:///{filled.path}")
    with transaction(db) as repos:
        gone = Owner(Owner.this_process().host, _dead_pid())
        run = repos.runs.create("killed", "optimize", {}, gone)
        repos.prompts.add(run.id, "greet", "Half way.", stage="given", is_original=True)
        run_id = int(run.id)
    db.dispose()
    return run_id


def test_runs_shows_a_killed_run_abandoned(filled: Filled) -> None:  # noqa: F811
    killed = _killed_optimize_run(filled)
    result = _run(filled, "runs")
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.split()[0] == str(killed))
    assert "abandoned" in line.split()


def test_bless_refuses_an_unfinished_run_and_warns_on_a_failed_one(filled: Filled) -> None:  # noqa: F811
    killed = _killed_optimize_run(filled)
    for ref in (str(killed), "latest"):
        refused = _run(filled, "bless", ref)
        assert refused.exit_code == 1, refused.output
        assert f"run {killed} did not finish (status abandoned, 0 of 0 cases judged)" in (
            refused.stderr
        )
    assert "no baselines yet" in _run(filled, "baselines").output
    blessed = _run(filled, "bless", str(filled.test_run))  # `failed`: blessed, with a warning
    assert blessed.exit_code == 0, blessed.output
    assert f"warning: run {filled.test_run} failed" in blessed.stderr
    assert f"blessed run {filled.test_run}" in blessed.stdout


def test_diff_and_best_name_the_unfinished_run(filled: Filled) -> None:  # noqa: F811
    killed = _killed_optimize_run(filled)
    diff = _run(filled, "diff", str(filled.opt_run), str(killed))
    assert diff.exit_code == 0, diff.output
    assert f"warning: run {killed} did not finish (status abandoned)" in diff.stderr
    assert "warning" not in _run(filled, "diff", str(filled.test_run), str(filled.opt_run)).stderr
    best = _run(filled, "best", "greet")
    assert best.exit_code == 0 and best.stdout == BEST_TEXT
    assert f"note: skipped run {killed}, which did not finish (status abandoned)" in best.stderr


def test_a_baseline_line_says_when_the_baseline_run_did_not_finish() -> None:
    comparison = compare_runs({}, {})
    kept = BaselineResult(suite="s", baseline_run_id=3, run_id=4, comparison=comparison)
    assert "did not finish" not in kept.describe()
    partial = kept.model_copy(update={"baseline_status": "abandoned"})
    assert "baseline run 3 did not finish, status abandoned" in partial.describe()
