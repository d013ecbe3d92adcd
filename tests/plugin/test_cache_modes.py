"""The response cache in `llm_calls` under each `--promptopt-cache` mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_promptopt.testing import ScriptedModel
from tests.support.plugin import (
    SCRIPTED_MODEL,
    SUPPORT,
    SUPPORT_ANSWERS,
    SUPPORT_VERDICTS,
    default_db,
    outcomes_by_case,
    query,
    run_ids,
    scalar,
    scripted,
    summary_lines,
    write_suite,
)

SUITE = (
    SUPPORT
    + """  - id: short
    input: Can I get my money back for order 55?
    judge: false
    assert:
      - max_chars: 2000
"""
)
CALLS_PER_RUN = 5  # 3 target calls + 2 judge calls
EXPECTED_OUTCOMES = {
    "support.promptopt.yaml::support[refund]": "PASSED",
    "support.promptopt.yaml::support[penguins]": "FAILED",
    "support.promptopt.yaml::support[short]": "PASSED",
}


PARCEL = "Where is my parcel"
ANSWERS = {
    **SUPPORT_ANSWERS,
    "Can I get my money back for order 55?": "Yes: send your order e-mail and we refund it.",
    PARCEL: "It is on its way; it arrives tomorrow.",
}


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """A project whose model is a scripted fake: refund, short and parcel pass, penguins fails."""
    verdicts = {**SUPPORT_VERDICTS, PARCEL: {"functionality": 5, "safety": 5, "consistency": 4}}
    with scripted(pytester, monkeypatch, ScriptedModel(ANSWERS, verdicts)):
        yield pytester


def _record(pytester: pytest.Pytester) -> pytest.RunResult:
    """The first run: everything is called and recorded."""
    write_suite(pytester, "support", SUITE)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=2, failed=1)
    line = summary_lines(result)["support"]
    assert (line["calls"], line["hits"]) == (str(CALLS_PER_RUN), "0")
    assert scalar(default_db(pytester), "SELECT count(*) FROM llm_calls") == CALLS_PER_RUN
    return result


def test_second_run_is_served_from_the_cache(fake: pytest.Pytester) -> None:
    first = _record(fake)
    second = fake.runpytest("-rA")
    assert outcomes_by_case(second) == outcomes_by_case(first) == EXPECTED_OUTCOMES
    line = summary_lines(second)["support"]
    assert line["calls"] == "0"
    assert int(line["hits"]) == CALLS_PER_RUN
    assert line["cost"] == "0.0000"
    db = default_db(fake)
    assert scalar(db, "SELECT count(*) FROM llm_calls") == CALLS_PER_RUN
    last = run_ids(db)[-1]
    cached = query(db, "SELECT cached FROM evaluations WHERE run_id = ?", (last,))
    assert [c for (c,) in cached] == [1, 1, 1]


def test_cache_off_calls_again_and_records_nothing(fake: pytest.Pytester) -> None:
    write_suite(fake, "support", SUITE)
    result = fake.runpytest("--promptopt-cache=off", "-rA")
    assert outcomes_by_case(result) == EXPECTED_OUTCOMES
    line = summary_lines(result)["support"]
    assert (line["calls"], line["hits"]) == (str(CALLS_PER_RUN), "0")
    db = default_db(fake)
    assert scalar(db, "SELECT count(*) FROM llm_calls") == 0
    # The run itself is still recorded.
    assert scalar(db, "SELECT count(*) FROM evaluations") == 3
    # A recorded cache is not read either.
    fake.runpytest()  # mode `use`: records
    assert scalar(db, "SELECT count(*) FROM llm_calls") == CALLS_PER_RUN
    again = fake.runpytest("--promptopt-cache=off")
    line = summary_lines(again)["support"]
    assert (line["calls"], line["hits"]) == (str(CALLS_PER_RUN), "0")
    assert scalar(db, "SELECT count(*) FROM llm_calls") == CALLS_PER_RUN


def test_cache_refresh_calls_again_and_keeps_one_row_per_hash(fake: pytest.Pytester) -> None:
    _record(fake)
    db = default_db(fake)
    first_run = run_ids(db)[-1]
    before = {h for (h,) in query(db, "SELECT request_hash FROM llm_calls")}
    result = fake.runpytest("--promptopt-cache=refresh", "-rA")
    assert outcomes_by_case(result) == EXPECTED_OUTCOMES
    line = summary_lines(result)["support"]
    assert (line["calls"], line["hits"]) == (str(CALLS_PER_RUN), "0")
    after = [h for (h,) in query(db, "SELECT request_hash FROM llm_calls")]
    assert sorted(after) == sorted(before)  # the same hashes, one row each
    # Every row was rewritten by the refresh run.
    refresh_run = run_ids(db)[-1]
    assert refresh_run != first_run
    assert {r for (r,) in query(db, "SELECT DISTINCT run_id FROM llm_calls")} == {refresh_run}


def test_replay_without_a_recording_errors_naming_the_case(fake: pytest.Pytester) -> None:
    write_suite(fake, "support", SUITE)
    result = fake.runpytest("--promptopt-cache=replay", "-rA")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of support[[]refund[]]*",
            "promptopt error: --promptopt-cache=replay: no recorded target response for "
            "support[[]refund[]]; record it first with --promptopt-cache=use",
        ]
    )
    result.stdout.fnmatch_lines(["*no recorded target response for support[[]penguins[]]*"])
    result.stdout.fnmatch_lines(["*no recorded target response for support[[]short[]]*"])
    assert "Traceback" not in result.stdout.str()
    assert scalar(default_db(fake), "SELECT count(*) FROM llm_calls") == 0


def test_replay_after_a_recorded_run_reproduces_the_outcomes(fake: pytest.Pytester) -> None:
    first = _record(fake)
    replay = fake.runpytest("--promptopt-cache=replay", "-rA")
    assert outcomes_by_case(replay) == outcomes_by_case(first) == EXPECTED_OUTCOMES
    line = summary_lines(replay)["support"]
    assert (line["calls"], line["hits"]) == ("0", str(CALLS_PER_RUN))
    db = default_db(fake)
    recorded, replayed = run_ids(db)
    scores = {
        run: query(
            db,
            "SELECT t.case_key, e.overall_score, e.model_response FROM evaluations e "
            "JOIN test_cases t ON t.id = e.test_case_id WHERE e.run_id = ? ORDER BY t.case_key",
            (run,),
        )
        for run in (recorded, replayed)
    }
    assert scores[recorded] == scores[replayed]


def test_identical_requests_in_one_run_are_sent_once(fake: pytest.Pytester) -> None:
    """PRODUCT.md: same model, system, messages, params, sample -> same hash -> no second call."""
    write_suite(
        fake,
        "dup",
        """
        prompt: You are a support assistant.
        cases:
          - id: a
            input: Where is my parcel
          - id: b
            input: Where is my parcel
        """,
    )
    result = fake.runpytest()
    result.assert_outcomes(passed=2)
    line = summary_lines(result)["dup"]
    # One target and one judge call; the second case's identical requests are cache hits.
    assert (line["calls"], line["hits"]) == ("2", "2")


def test_cache_mode_precedence_flag_over_env_over_ini(
    fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester = fake
    pytester.makeini(f"[pytest]\npromptopt_model = {SCRIPTED_MODEL}\npromptopt_cache = use\n")
    write_suite(pytester, "support", SUITE)
    monkeypatch.setenv("PROMPTOPT_CACHE", "replay")
    from_env = pytester.runpytest()  # env beats ini: replay, nothing recorded yet
    from_env.assert_outcomes(errors=3)
    from_flag = pytester.runpytest("--promptopt-cache=use")  # flag beats env
    from_flag.assert_outcomes(passed=2, failed=1)
    replayed = pytester.runpytest()  # env again: now the recording is there
    replayed.assert_outcomes(passed=2, failed=1)
    assert summary_lines(replayed)["support"]["calls"] == "0"
