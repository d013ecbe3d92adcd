"""Against the real API's limits: refusals shrink the calls in flight instead of erroring, and a
long system prompt is read from the API's prompt cache by every case after the first."""

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
    # Every answer's stop reason is recorded: in the cached response and on the evaluation.
    no_stop = "SELECT count(*) FROM llm_calls WHERE json_extract(response, '$.stop_reason') IS NULL"
    assert con.execute(no_stop).fetchone()[0] == 0
    no_stop = "SELECT count(*) FROM evaluations WHERE stop_reason IS NULL"
    assert con.execute(no_stop).fetchone()[0] == 0
    con.close()


def test_a_long_system_prompt_is_written_to_the_prompt_cache_once_then_read(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = " ".join(f"Rule {n} is to be polite and precise about refunds." for n in range(120))
    cases = "\n".join(
        f"  - {{id: c{i}, input: question {i}, judge: false, assert: [{{max_chars: 9000}}]}}"
        for i in range(4)
    )
    pytester.makefile(".promptopt.yaml", long=f"prompt: You help. {policy}\ncases:\n{cases}\n")
    with LoopbackMessagesServer() as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(
            "--promptopt-model=claude-sonnet-4-5", "--promptopt-concurrency=1",
            "-p", "no:cacheprovider",
        )  # fmt: skip
    result.assert_outcomes(passed=4)
    con = sqlite3.connect(default_db(pytester))
    rows = con.execute(
        "SELECT cache_write_tokens, cache_read_tokens, json_type(request, '$.system') "
        "FROM llm_calls ORDER BY id"
    ).fetchall()
    con.close()
    assert [(w > 0, r > 0) for w, r, _ in rows] == [(True, False)] + [(False, True)] * 3
    assert {kind for _, _, kind in rows} == {"text"}  # the recorded request (and hash) is plain
