"""Under xdist the workers of one session adapt one concurrency limit, kept in the database."""

from __future__ import annotations

import sqlite3

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.scaleout import judged_suite

KEY = "sk-ant-test-account-limits"
MODEL = "claude-haiku-4-5"
ACCOUNT_LIMIT = 6


def test_xdist_workers_share_one_limit_through_the_database(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".promptopt.yaml", wide=judged_suite("wide", 24))
    db = pytester.path / "shared.db"
    server = LoopbackMessagesServer(latency_s=0.03, in_flight_limit=ACCOUNT_LIMIT)
    with server as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest_subprocess(
            "-n", "2", f"--promptopt-db=sqlite:///{db}", f"--promptopt-model={MODEL}",
            "--promptopt-concurrency=12", "-p", "no:cacheprovider", timeout=120,
        )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 24, outcomes
    assert "errors" not in outcomes and "error" not in outcomes
    con = sqlite3.connect(db)
    rows = con.execute("SELECT ceiling, lowest, refused FROM rate_limits").fetchall()
    con.close()
    # One row for the session: every refusal either worker met is counted in it.
    assert len(rows) == 1
    ceiling, lowest, refused = rows[0]
    assert ceiling == 12 and lowest < ceiling
    assert refused == srv.refused >= 1
    assert srv.max_in_flight <= ACCOUNT_LIMIT
    assert "concurrency 12 -> " in result.stdout.str()
