"""The calibrated judge end to end: judge repeats, the functionality gate, the judge's version
(on a scripted fake, so the verdicts are the test's), and the simulator's judge noise."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from pytest_promptopt.evaluation.judge import JUDGE_VERSION
from pytest_promptopt.protocol import decode_data
from pytest_promptopt.testing import ScriptedCall, ScriptedModel
from tests.support.plugin import (
    REFUND_INPUT,
    SUPPORT,
    SUPPORT_ANSWERS,
    SUPPORT_VERDICTS,
    default_db,
    query,
    scripted,
    support_model,
    write_suite,
)

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


def _flips_on_the_last_repeat(call: ScriptedCall) -> Mapping[str, int]:
    """SUPPORT's verdicts, but refund's third judge repeat gives functionality 1 (a fail)."""
    levels = dict(SUPPORT_VERDICTS[call.question])
    if call.question == REFUND_INPUT and call.data.get("judge_repeat") == 2:
        levels["functionality"] = 1
    return levels


def test_judge_repeats_make_distinct_cached_requests_and_store_the_spread(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "support", SUPPORT)
    model = ScriptedModel(SUPPORT_ANSWERS, _flips_on_the_last_repeat)
    with scripted(pytester, monkeypatch, model):
        result = pytester.runpytest("--promptopt-judge-repeats", "3")
        # The median verdict decides: refund's one failing repeat does not fail it.
        result.assert_outcomes(passed=1, failed=1)
        db = default_db(pytester)
        rows = query(db, "SELECT request_hash, request FROM llm_calls WHERE role = 'judge'")
        assert len(rows) == 6 and len({h for h, _ in rows}) == 6  # 2 cases x 3 distinct requests
        repeats = sorted(
            (decode_data(json.loads(r)["messages"][-1]["content"]) or {}).get("judge_repeat", 0)
            for _, r in rows
        )
        assert repeats == [0, 0, 1, 1, 2, 2]
        spreads = dict(
            query(
                db,
                "SELECT c.case_key, e.judge_spread FROM evaluations e "
                "JOIN test_cases c ON c.id = e.test_case_id",
            )
        )
        assert spreads["penguins"] == 0.0 and 0.0 < spreads["refund"] <= 1.0
        versions = query(db, "SELECT DISTINCT judge_version FROM evaluations")
        assert versions == [(JUDGE_VERSION,)]
        result.stdout.fnmatch_lines(["    judge spread *, verdict flipped in 50% of cases"])
        run_dir = pytester.path / ".promptopt" / "reports" / "1"
        report = json.loads((run_dir / "report.json").read_text())
        (suite,) = report["suites"]
        assert suite["judge_flip_rate"] == 0.5
        assert suite["judge_spread"] == pytest.approx(spreads["refund"] / 2, abs=1e-4)
        assert {c["case_id"]: c["judge_flipped"] for c in report["cases"]} == {
            "refund": True,
            "penguins": False,
        }
        assert "Judge reliability" in (run_dir / "report.md").read_text()
        assert "judge spread" in (run_dir / "report.html").read_text()
        # Each repeat is cached: a second run makes no judge call.
        again = pytester.runpytest("--promptopt-judge-repeats", "3")
        again.assert_outcomes(passed=1, failed=1)
        assert len(query(db, "SELECT id FROM llm_calls WHERE role = 'judge'")) == 6
        again.stdout.fnmatch_lines(["*calls 0, cache hits 8*"])
    assert len(model.of_role("judge")) == 6 and len(model.of_role("target")) == 2


def test_one_judge_call_stores_no_spread_and_the_judge_version(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "support", SUPPORT)
    with scripted(pytester, monkeypatch, support_model()):
        result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    db = default_db(pytester)
    assert len(query(db, "SELECT id FROM llm_calls WHERE role = 'judge'")) == 2
    assert query(db, "SELECT DISTINCT judge_spread, judge_version FROM evaluations") == [
        (None, JUDGE_VERSION)
    ]
    assert "judge spread" not in result.stdout.str()


def test_the_gate_fails_an_answer_that_misses_the_expected_behaviour(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "gated", OFF_TOPIC.format(name="gated", gate=""))
    write_suite(pytester, "open", OFF_TOPIC.format(name="open", gate="gate: none"))
    # Safe and well formed, but no joke and no hat: functionality 0.25, overall 0.75.
    verdict = {"functionality": 2, "safety": 5, "consistency": 5}
    model = ScriptedModel({"Hello!": "Hello! How can I help?"}, {"Hello!": verdict})
    with scripted(pytester, monkeypatch, model):
        result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gated[[]penguins[]] FAILED: score 0.75* (threshold 0.60*",
            "*functionality 0.25 under the threshold 0.60 (gate: functionality)*",
        ]
    )
    db = default_db(pytester)
    rows = query(
        db,
        "SELECT p.suite, e.functionality, e.overall_score, e.passed FROM evaluations e "
        "JOIN prompts p ON p.id = e.prompt_id ORDER BY p.suite",
    )
    # The same answer and scores: only the gate tells them apart.
    assert rows == [("gated", 0.25, 0.75, 0), ("open", 0.25, 0.75, 1)]


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
