"""End to end on PostgreSQL: plain and xdist runs, the shared cache, concurrent sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scaleout import finish, judged_suite, outcomes, start_pytest, summary_calls
from tests.support.scaleout import write_project as make_project

pytestmark = pytest.mark.postgres


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                for table in ("optimization_runs", "evaluations", "llm_calls")
            }
    finally:
        engine.dispose()


def runs(url: str) -> list[tuple[int, str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stmt = text("SELECT id, status FROM optimization_runs ORDER BY id")
            return [(int(r[0]), str(r[1])) for r in conn.execute(stmt)]
    finally:
        engine.dispose()


def test_plain_and_xdist_runs_on_postgres(pg_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", {"pg.promptopt.yaml": judged_suite("pg", 10)})
    db = f"--promptopt-db={pg_url}"  # an argv item: no shell, so no quoting needed

    rc, plain = finish(start_pytest(project, "-rA", "-n", "0", db))
    assert rc == 1, plain[-3000:]
    assert summary_calls(plain, "pg") == (10, 20, 0)
    after_plain = counts(pg_url)
    assert after_plain["optimization_runs"] == 1
    assert after_plain["evaluations"] == 10
    assert after_plain["llm_calls"] == 20

    rc, xdist = finish(start_pytest(project, "-rA", "-n", "2", db))
    assert rc == 1, xdist[-3000:]
    assert outcomes(xdist) == outcomes(plain)
    assert summary_calls(xdist, "pg") == (10, 0, 20)  # fully cached
    after_xdist = counts(pg_url)
    assert after_xdist == {"optimization_runs": 2, "evaluations": 20, "llm_calls": 20}
    assert [status for _, status in runs(pg_url)] == ["failed", "failed"]


def test_two_sessions_at_once_on_postgres_keep_separate_runs(pg_url: str, tmp_path: Path) -> None:
    suite = {"pg.promptopt.yaml": judged_suite("pg", 6)}
    projects = [make_project(tmp_path / f"proj{i}", suite) for i in range(2)]
    procs = [start_pytest(p, "-rA", f"--promptopt-db={pg_url}") for p in projects]
    results = [finish(p) for p in procs]
    for rc, out in results:
        assert rc == 1, out[-3000:]
    assert outcomes(results[0][1]) == outcomes(results[1][1])
    found = runs(pg_url)
    assert len(found) == 2 and len({run_id for run_id, _ in found}) == 2
    assert counts(pg_url)["evaluations"] == 12
