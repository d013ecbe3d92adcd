"""The real SDK path: ANTHROPIC_BASE_URL pointing at a loopback Messages API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer, ScriptedModel
from tests.support.plugin import (
    JSON_PROMPT,
    SUPPORT,
    SUPPORT_ANSWERS,
    default_db,
    outcomes_by_case,
    query,
    scalar,
    summary_lines,
    write_suite,
)

SECRET = "sk-ant-test-SECRET123"
MODEL = "claude-haiku-4-5"
CHECKS = f"""
name: checks
prompt: '{JSON_PROMPT}'
cases:
  - id: json
    input: My package arrived broken
    judge: false
    assert: [{{is_json: true}}, {{contains: sentiment}}]
  - id: not-sql
    input: The parcel was late
    judge: false
    assert: [{{regex: "^SELECT"}}]
"""
EXPECTED = {
    "checks.promptopt.yaml::checks[json]": "PASSED",
    "checks.promptopt.yaml::checks[not-sql]": "FAILED",
    "support.promptopt.yaml::support[penguins]": "FAILED",
    "support.promptopt.yaml::support[refund]": "PASSED",
}
CALLS = 6  # 4 target calls + 2 judge calls


def _key_sent(headers: dict[str, str]) -> str | None:
    """The API key a request carried: `x-api-key`, or `Authorization: Bearer` (newer SDKs)."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@pytest.fixture
def server() -> Iterator[LoopbackMessagesServer]:
    with LoopbackMessagesServer() as srv:
        yield srv


def test_real_http_path_then_replay_without_key(
    pytester: pytest.Pytester, server: LoopbackMessagesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "support", SUPPORT)
    write_suite(pytester, "checks", CHECKS)

    # The same suites on the in-process simulator, in a separate database and report dir.
    simulated = pytester.runpytest(
        "--promptopt-model=simulated",
        f"--promptopt-db={pytester.path / 'sim.db'}",
        "--promptopt-report-dir=sim-reports",
        "-rA",
    )
    assert outcomes_by_case(simulated) == EXPECTED

    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    real = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--promptopt-model={MODEL}", "-rA"
    )
    assert outcomes_by_case(real) == EXPECTED
    real.stdout.no_fnmatch_line("*promptopt: model 'simulated'*")

    # Every call went over HTTP to the server, with the key in the SDK's header.
    assert server.request_count == CALLS
    assert [_key_sent(h) for h in server.headers_seen] == [SECRET] * CALLS
    db = default_db(pytester)
    assert scalar(db, "SELECT count(*) FROM llm_calls") == CALLS
    assert {m for (m,) in query(db, "SELECT DISTINCT model FROM llm_calls")} == {MODEL}

    # The key is nowhere: database files, reports, pytest's output.
    leaked = [
        path
        for path in (pytester.path / ".promptopt").rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]
    assert leaked == []
    assert SECRET not in real.stdout.str() + real.stderr.str()

    # Replay: no key, no server, same outcomes, no request.
    server.stop()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    replay = pytester.runpytest(f"--promptopt-model={MODEL}", "--promptopt-cache=replay", "-rA")
    assert outcomes_by_case(replay) == EXPECTED
    assert server.request_count == CALLS
    replay.stdout.fnmatch_lines(["checks: 2 cases, *calls 0, cache hits 2*"])
    replay.stdout.fnmatch_lines(["support: 2 cases, *calls 0, cache hits 4*"])


def test_calls_of_an_errored_case_are_counted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A judge that never answers in schema: the case errors, its 3 paid calls still show."""
    write_suite(pytester, "support", SUPPORT)
    out_of_schema = ScriptedModel(SUPPORT_ANSWERS, lambda call: {"functionality": 7})
    with out_of_schema.serve() as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--promptopt-model={MODEL}", "-rA"
        )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*did not match the submit_verdict schema*"])
    line = summary_lines(result)["support"]
    assert int(line["calls"]) == 6  # per case: the answer and two judge attempts
    # The unusable judge answers are not kept: the next run asks the judge again.
    db = default_db(pytester)
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE role = 'judge'") == 0
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE role = 'target'") == 2
