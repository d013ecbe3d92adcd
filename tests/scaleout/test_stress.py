"""Many writers on one SQLite file: four xdist workers, and two sessions at the same time."""

from __future__ import annotations

from pathlib import Path

from tests.support.plugin import query, scalar
from tests.support.scaleout import (
    asserted_suite,
    finish,
    judged_suite,
    outcomes,
    start_pytest,
    summary_calls,
    write_project,
)


def test_four_workers_on_one_sqlite_file_300_cases(tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", {"many.promptopt.yaml": asserted_suite("many", 300)})
    db = tmp_path / "shared.db"
    rc, out = finish(
        start_pytest(project, "-q", "-n", "4", f"--promptopt-db=sqlite:///{db}"), timeout=180
    )
    assert rc == 0, out[-3000:]
    assert "database is locked" not in out.lower()
    assert "300 passed" in out
    run_id = scalar(db, "SELECT id FROM optimization_runs")
    counts = query(
        db,
        "SELECT COUNT(*), COUNT(DISTINCT test_case_id) FROM evaluations WHERE run_id = ?",
        (run_id,),
    )
    assert counts == [(300, 300)]


def test_two_sessions_at_once_share_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    suite = {"team.promptopt.yaml": judged_suite("team", 8)}
    projects = [write_project(tmp_path / f"proj{i}", suite) for i in range(3)]
    flags = ("-rA", f"--promptopt-db=sqlite:///{db}")

    first, second = (start_pytest(p, *flags) for p in projects[:2])
    results = [finish(first), finish(second)]
    for rc, out in results:
        assert rc == 1, out[-3000:]
        assert "database is locked" not in out.lower()
        assert summary_calls(out, "team")[0] == 8
    assert outcomes(results[0][1]) == outcomes(results[1][1])

    rc, out = finish(start_pytest(projects[2], *flags))
    assert rc == 1, out[-3000:]
    assert outcomes(out) == outcomes(results[0][1])
    assert summary_calls(out, "team") == (8, 0, 16)  # served from the shared cache

    runs = query(db, "SELECT id, status FROM optimization_runs ORDER BY id")
    per_run = dict(query(db, "SELECT run_id, COUNT(*) FROM evaluations GROUP BY run_id"))
    assert [status for _, status in runs] == ["failed"] * 3
    assert per_run == {run_id: 8 for run_id, _ in runs}
