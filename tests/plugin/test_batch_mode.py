"""`--promptopt-batch` in a plain run: every uncached call goes through the Batches API."""

from __future__ import annotations

import json

import pytest

from tests.support.plugin import (
    SUPPORT,
    default_db,
    outcomes_by_case,
    query,
    summary_lines,
    write_suite,
)

EXPECTED = {
    "support.promptopt.yaml::support[refund]": "PASSED",
    "support.promptopt.yaml::support[penguins]": "FAILED",
}


def test_a_plain_run_batches_its_calls_and_a_second_run_reads_the_cache(
    sim: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    write_suite(sim, "support", SUPPORT)
    first = sim.runpytest("-rA", "--promptopt-batch")
    assert outcomes_by_case(first) == EXPECTED
    assert summary_lines(first)["support"]["calls"] == "4"
    # Two rounds: the answers (one batch), then their judgments (a second batch).
    db = default_db(sim)
    batches = query(db, "SELECT id, status FROM batches ORDER BY created_at")
    assert [status for _, status in batches] == ["collected", "collected"]
    progress = capfd.readouterr().err
    for batch_id, _ in batches:
        assert f"promptopt: batch {batch_id}: 2 requests submitted (simulated)" in progress
        assert f"promptopt: batch {batch_id}: 0 processing, 2 done" in progress
    # Recorded at the batch price: half of what the same tokens cost directly.
    rows = query(db, "SELECT cost_usd, input_tokens, output_tokens FROM llm_calls")
    assert len(rows) == 4
    for cost, tokens_in, tokens_out in rows:
        assert cost == pytest.approx((tokens_in * 1.0 + tokens_out * 5.0) / 1e6 * 0.5)

    second = sim.runpytest("-rA", "--promptopt-batch")
    assert outcomes_by_case(second) == EXPECTED
    line = summary_lines(second)["support"]
    assert (line["calls"], line["hits"]) == ("0", "4")
    assert len(query(db, "SELECT id FROM batches")) == 2


def test_the_ini_key_turns_batch_mode_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\npromptopt_batch = true\n")
    write_suite(pytester, "support", SUPPORT)
    result = pytester.runpytest("-rA")
    assert outcomes_by_case(result) == EXPECTED
    assert len(query(default_db(pytester), "SELECT id FROM batches")) == 2


def test_a_bad_ini_value_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\npromptopt_batch = maybe\n")
    write_suite(pytester, "support", SUPPORT)
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*promptopt_batch (ini) must be true or false, got 'maybe'*"])


def test_optimize_batches_the_evaluations_and_calls_generators_directly(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "support", SUPPORT)
    knobs = ["--promptopt-candidates=2", "--promptopt-quick-tests=2"]
    knobs += ["--promptopt-rigorous-tests=2", "--promptopt-top-k=1", "--promptopt-top-m=1"]
    result = sim.runpytest(
        "-rA", "--optimize", "--promptopt-batch", "--promptopt-iterations=1", *knobs
    )
    assert set(outcomes_by_case(result)) == set(EXPECTED)
    db = default_db(sim)
    batched = {
        h
        for (hashes,) in query(db, "SELECT request_hashes FROM batches")
        for h in json.loads(hashes)
    }
    by_role: dict[str, set[str]] = {}
    for role, key in query(db, "SELECT role, request_hash FROM llm_calls"):
        by_role.setdefault(role, set()).add(key)
    assert by_role["generate"] and not by_role["generate"] & batched
    assert by_role["target"] | by_role["judge"] == batched
