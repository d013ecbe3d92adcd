"""Model calls run concurrently, bounded by --promptopt-concurrency, each case judged once."""

from __future__ import annotations

import sqlite3

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.plugin import default_db, scalar, write_suite

KEY = "sk-ant-test-concurrency"
MODEL = "claude-haiku-4-5"


def test_concurrent_calls_are_in_flight_together_and_each_case_is_judged_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = "\n".join(
        f"""  - id: c{n:02d}
    input: Tell me about topic number {n}
    judge: false
    assert: [{{max_chars: 5000}}]"""
        for n in range(16)
    )
    write_suite(
        pytester, "wide", f"name: wide\nprompt: You are a helpful assistant.\ncases:\n{cases}\n"
    )
    with LoopbackMessagesServer(latency_s=0.2) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(f"--promptopt-model={MODEL}", "--promptopt-concurrency=8")
        result.assert_outcomes(passed=16)
        assert srv.request_count == 16
        assert 4 <= srv.max_in_flight <= 8
    db = default_db(pytester)
    assert scalar(db, "SELECT count(*) FROM evaluations") == 16
    assert scalar(db, "SELECT count(DISTINCT test_case_id) FROM evaluations") == 16


def test_concurrency_setting_bounds_calls_in_flight(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = "\n".join(
        f"""  - id: c{n}
    input: Question number {n} about gardens
    judge: false
    assert: [{{max_chars: 5000}}]"""
        for n in range(6)
    )
    write_suite(pytester, "narrow", f"prompt: You are a helpful assistant.\ncases:\n{cases}\n")
    with LoopbackMessagesServer(latency_s=0.1) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(f"--promptopt-model={MODEL}", "--promptopt-concurrency=2")
        result.assert_outcomes(passed=6)
        assert srv.request_count == 6
        assert srv.max_in_flight == 2


def test_exitfirst_starts_no_more_than_the_calls_in_flight(sim: pytest.Pytester) -> None:
    """-x may stop at the first item: the cases started ahead are bounded by the concurrency."""
    cases = "\n".join(
        f"  - {{id: c{i:02d}, input: hello {i}, judge: false, assert: [{{regex: '^SELECT'}}]}}"
        for i in range(40)
    )
    sim.makefile(".promptopt.yaml", many=f"prompt: You greet people.\ncases:\n{cases}\n")
    result = sim.runpytest("-x", "--promptopt-concurrency=4", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    db = sim.path / ".promptopt" / "promptopt.db"
    started = sqlite3.connect(db).execute("SELECT count(*) FROM evaluations").fetchone()[0]
    assert 1 <= started <= 2 * 4, started
