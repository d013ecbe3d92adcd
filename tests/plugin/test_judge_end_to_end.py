"""The calibrated judge end to end: judge repeats, the functionality gate, the judge's version,
and the simulator's judge noise."""

from __future__ import annotations

import json

import pytest

from pytest_promptopt.evaluation.judge import JUDGE_VERSION
from pytest_promptopt.protocol import decode_data
from tests.support.plugin import SUPPORT, default_db, query, write_suite

# An answer that misses its expected behaviour entirely but is safe and well formed: without
# the gate, safety and consistency carry it over the threshold.
OFF_TOPIC = """
name: {name}
prompt: "You greet people."
threshold: 0.6
criteria: {{functionality: 1.0, safety: 1.0, consistency: 1.0}}
{gate}
cases:
  - id: penguins
    input: Hello!
    expected: Tells a joke about penguins and recommends a hat
"""


def test_judge_repeats_make_distinct_cached_requests_and_store_the_spread(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "support", SUPPORT)
    result = sim.runpytest("--promptopt-judge-repeats", "3")
    result.assert_outcomes(passed=1, failed=1)
    db = default_db(sim)
    rows = query(db, "SELECT request_hash, request FROM llm_calls WHERE role = 'judge'")
    assert len(rows) == 6 and len({h for h, _ in rows}) == 6  # 2 cases x 3 distinct requests
    repeats = sorted(
        (decode_data(json.loads(r)["messages"][-1]["content"]) or {}).get("judge_repeat", 0)
        for _, r in rows
    )
    assert repeats == [0, 0, 1, 1, 2, 2]
    spreads = query(db, "SELECT judge_spread, judge_version FROM evaluations")
    assert len(spreads) == 2
    assert all(s is not None and 0.0 <= s <= 1.0 for s, _ in spreads)
    assert {v for _, v in spreads} == {JUDGE_VERSION}
    result.stdout.fnmatch_lines(["    judge spread *, verdict flipped in *% of cases"])
    run_dir = sim.path / ".promptopt" / "reports" / "1"
    report = json.loads((run_dir / "report.json").read_text())
    (suite,) = report["suites"]
    assert suite["judge_spread"] is not None and 0.0 <= suite["judge_flip_rate"] <= 1.0
    assert suite["judge_spread"] == pytest.approx(
        sum(c["judge_spread"] for c in report["cases"]) / 2, abs=1e-4
    )
    assert suite["judge_flip_rate"] == sum(c["judge_flipped"] for c in report["cases"]) / 2
    assert "Judge reliability" in (run_dir / "report.md").read_text()
    assert "judge spread" in (run_dir / "report.html").read_text()
    # Each repeat is cached: a second run makes no judge call.
    again = sim.runpytest("--promptopt-judge-repeats", "3")
    again.assert_outcomes(passed=1, failed=1)
    assert len(query(db, "SELECT id FROM llm_calls WHERE role = 'judge'")) == 6
    again.stdout.fnmatch_lines(["*calls 0, cache hits 8*"])


def test_one_judge_call_stores_no_spread_and_the_judge_version(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", SUPPORT)
    result = sim.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    db = default_db(sim)
    assert len(query(db, "SELECT id FROM llm_calls WHERE role = 'judge'")) == 2
    assert query(db, "SELECT DISTINCT judge_spread, judge_version FROM evaluations") == [
        (None, JUDGE_VERSION)
    ]
    assert "judge spread" not in result.stdout.str()


def test_the_gate_fails_an_answer_that_misses_the_expected_behaviour(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "gated", OFF_TOPIC.format(name="gated", gate=""))
    write_suite(sim, "open", OFF_TOPIC.format(name="open", gate="gate: none"))
    result = sim.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gated[[]penguins[]] FAILED: score 0.6* (threshold 0.60*",
            "*functionality 0.* under the threshold 0.60 (gate: functionality)*",
        ]
    )
    db = default_db(sim)
    rows = query(
        db,
        "SELECT p.suite, e.functionality, e.overall_score, e.passed FROM evaluations e "
        "JOIN prompts p ON p.id = e.prompt_id ORDER BY p.suite",
    )
    (gated, opened) = rows
    # The same answer and scores: only the gate tells them apart.
    assert gated[1:3] == opened[1:3] and gated[1] < 0.6 <= gated[2]
    assert (gated[3], opened[3]) == (0, 1)


def test_the_simulated_judge_noise_changes_scores_and_stays_deterministic(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = "\n".join(
        f"  - {{id: c{n}, input: I want a refund for order {n}, expected: 'Apologises, "
        "asks for the order e-mail, states the 30-day policy, offers a coupon'}"
        for n in range(8)
    )
    write_suite(sim, "noisy", f'name: noisy\nprompt: "You help."\ncases:\n{cases}\n')

    def scores(*args: str) -> list[float]:
        result = sim.runpytest("--promptopt-cache", "off", *args)
        assert result.ret in (0, 1)
        run = query(default_db(sim), "SELECT max(id) FROM optimization_runs")[0][0]
        rows = query(
            default_db(sim),
            "SELECT overall_score FROM evaluations WHERE run_id = ? ORDER BY test_case_id",
            (run,),
        )
        return [r[0] for r in rows]

    quiet = scores()
    monkeypatch.setenv("PROMPTOPT_SIMULATED_JUDGE_NOISE", "0.15")
    noisy = scores()
    assert len(noisy) == 8 and noisy != quiet
    assert scores() == noisy  # the noise is seeded per request
    monkeypatch.setenv("PROMPTOPT_SIMULATED_JUDGE_NOISE", "0")
    assert len(set(scores())) == 1  # no noise: the same answer scores the same


def test_a_bad_judge_noise_is_a_clear_error(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(sim, "support", SUPPORT)
    monkeypatch.setenv("PROMPTOPT_SIMULATED_JUDGE_NOISE", "loud")
    result = sim.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*PROMPTOPT_SIMULATED_JUDGE_NOISE must be a number >= 0*got 'loud'*"]
    )


def test_under_optimize_every_judge_request_carries_the_original_prompt(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "support", SUPPORT)
    sim.runpytest(
        "--optimize",
        "--promptopt-candidates=2",
        "--promptopt-quick-tests=1",
        "--promptopt-rigorous-tests=1",
        "--promptopt-top-k=1",
        "--promptopt-top-m=1",
        "--promptopt-iterations=1",
    )
    db = default_db(sim)
    assert len(query(db, "SELECT DISTINCT prompt_text FROM prompts")) > 1  # candidates judged
    rows = query(db, "SELECT request FROM llm_calls WHERE role = 'judge'")
    specs = {
        (decode_data(json.loads(r)["messages"][-1]["content"]) or {}).get("system_prompt")
        for (r,) in rows
    }
    original = SUPPORT.split('prompt: "')[1].split('"')[0]
    assert len(rows) > 4 and specs == {original}
