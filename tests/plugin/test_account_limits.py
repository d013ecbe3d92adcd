"""An account's concurrency limit: refusals shrink the calls in flight instead of erroring."""

from __future__ import annotations

import sqlite3

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.plugin import default_db

KEY = "sk-ant-test-account-limits"
MODEL = "claude-haiku-4-5"
ACCOUNT_LIMIT = 6
CASES = 60


def judged_cases(n: int) -> str:
    """A suite of `n` judged cases (two calls each: the answer and its verdict)."""
    cases = "\n".join(
        f"  - id: c{i:02d}\n    input: Tell me about topic number {i}\n"
        "    expected: Answers about the topic"
        for i in range(n)
    )
    return f"name: wide\nprompt: You are a helpful assistant.\ncases:\n{cases}\n"


def test_a_run_over_the_account_limit_adapts_and_finishes_every_case(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".promptopt.yaml", wide=judged_cases(CASES))
    server = LoopbackMessagesServer(latency_s=0.03, in_flight_limit=ACCOUNT_LIMIT)
    with server as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(
            f"--promptopt-model={MODEL}", "--promptopt-concurrency=24", "-p", "no:cacheprovider"
        )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == CASES, outcomes
    assert "errors" not in outcomes and "error" not in outcomes
    # The first burst of 24 meets 6 free slots; after that the limit holds near the account's.
    assert 1 <= srv.refused <= 40, srv.refused
    assert srv.max_in_flight <= ACCOUNT_LIMIT
    assert srv.request_count == 2 * CASES + srv.refused  # every refusal retried, nothing else
    out = result.stdout.str()
    assert "concurrency 24 -> " in out and f"after {srv.refused} refused requests" in out
    db = default_db(pytester)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 2 * CASES
    con.close()


def test_xdist_workers_share_one_limit_through_the_database(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".promptopt.yaml", wide=judged_cases(24))
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
