"""The calibrated judge's arithmetic: levels, not-applicable criteria, the gate, repeats."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.evaluation.judge import judge_spread, median_verdict, overall_score
from pytest_promptopt.evaluation.judge_calls import agreement
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.protocol import Verdict, VerdictInput, decode_data, level_score
from pytest_promptopt.suites.criteria import default_criteria
from pytest_promptopt.suites.spec import Criterion, Suite
from tests.support.llm import OfflineService

FOUR = default_criteria()


def levels(**given: int | None) -> Verdict:
    """The verdict for these levels of the four built-ins (null: not applicable)."""
    fields: dict[str, Any] = {name: given.get(name, 5) for name in FOUR}
    return Verdict.of(VerdictInput.model_validate({"reasoning": "r", **fields}))


def case_result(verdict: Verdict, *, gate: str | None, **extra: Any) -> CaseResult:
    """A one-sample case result at threshold 0.7 scored from `verdict`."""
    score = overall_score(verdict.scores, FOUR)
    sample = SampleResult(sample=0, response="a", verdict=verdict, overall_score=score)
    return CaseResult(suite="s", case_id="c", threshold=0.7, samples=[sample], gate=gate, **extra)


@pytest.mark.parametrize(("level", "score"), [(1, 0.0), (2, 0.25), (3, 0.5), (4, 0.75), (5, 1.0)])
def test_level_l_scores_l_minus_1_over_4(level: int, score: float) -> None:
    assert level_score(level) == score
    assert levels(functionality=level).scores["functionality"] == score


def test_levels_outside_1_to_5_and_all_null_verdicts_are_refused() -> None:
    for bad in (0, 6, 3.5):
        with pytest.raises(ValidationError):
            levels(functionality=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least one criterion"):
        levels(functionality=None, safety=None, consistency=None, edge_case_handling=None)


def test_a_criterion_that_does_not_apply_is_left_out_of_the_mean_and_its_min() -> None:
    verdict = levels(functionality=3, edge_case_handling=None)
    assert verdict.not_applicable == ["edge_case_handling"]
    assert "edge_case_handling" not in verdict.scores
    assert overall_score(verdict.scores, FOUR) == pytest.approx((0.5 + 1 + 1) / 3)
    # A min on a criterion that does not apply does not apply either.
    result = case_result(verdict, gate=None, minimums={"edge_case_handling": 0.9})
    assert result.shortfalls() == [] and result.passed
    assert result.not_applicable() == ["edge_case_handling"]
    assert "edge_case_handling=n/a" in result.explain()


def test_the_gate_fails_a_wrong_answer_the_other_criteria_would_carry() -> None:
    # The example: functionality 0.2, safety 1.0, consistency 1.0, edge 0.9 at 0.7.
    scores = {"functionality": 0.2, "safety": 1.0, "consistency": 1.0, "edge_case_handling": 0.9}
    verdict = Verdict(scores=scores, reasoning="r")
    assert overall_score(scores, FOUR) == pytest.approx(0.775)
    gated = case_result(verdict, gate="functionality")
    assert gated.score >= gated.threshold and not gated.passed
    assert gated.shortfalls() == [
        "functionality 0.20 under the threshold 0.70 (gate: functionality)"
    ]
    assert case_result(verdict, gate=None).passed
    # Functionality at the threshold passes the gate.
    assert case_result(Verdict(scores={**scores, "functionality": 0.7}, reasoning="r"),
                       gate="functionality").passed  # fmt: skip


def suite(gate: str | None = None, **criteria: Any) -> Suite:
    """A suite with a case with `expected` and one without."""
    extra: dict[str, Any] = {"gate": gate} if gate else {}
    if criteria:
        extra["criteria"] = criteria
    return Suite.model_validate(
        {
            "name": "s",
            "prompt": "Greet {{ who }}.",
            "vars": {"who": "guests"},
            "description": "A greeter",
            **extra,
            "cases": [
                {"id": "expect", "input": "Hi", "expected": "Greets"},
                {"id": "open", "input": "Hi"},
            ],
        }
    )


def test_the_gate_is_on_for_cases_with_expected_unless_the_suite_says_otherwise() -> None:
    default = suite()
    assert [default.gate_for(c) for c in default.cases] == ["functionality", None]
    always = suite("functionality")
    assert [always.gate_for(c) for c in always.cases] == ["functionality", "functionality"]
    off = suite("none")
    assert [off.gate_for(c) for c in off.cases] == [None, None]
    custom = suite(tone={"description": "Warm"})
    assert [custom.gate_for(c) for c in custom.cases] == [None, None]
    with pytest.raises(ValidationError, match="gate: functionality"):
        suite("functionality", tone={"description": "Warm"})
    with pytest.raises(ValidationError):
        suite("safety")


def test_the_median_of_judge_repeats_per_criterion_and_their_spread() -> None:
    verdicts = [
        levels(functionality=2, edge_case_handling=None),
        levels(functionality=4, safety=3, edge_case_handling=None),
        levels(functionality=5, safety=4, edge_case_handling=4),
    ]
    median = median_verdict(verdicts, FOUR)
    assert median.scores == {"functionality": 0.75, "safety": 0.75, "consistency": 1.0}
    # Two of three repeats found edge_case_handling not applicable: so does the median.
    assert median.not_applicable == ["edge_case_handling"]
    overalls = [overall_score(v.scores, FOUR) for v in verdicts]
    assert judge_spread(overalls) == pytest.approx(max(overalls) - min(overalls))
    assert judge_spread(overalls[:1]) is None
    assert median_verdict(verdicts[:1], FOUR) is verdicts[0]
    # An even count takes the middle of the two middle levels.
    pair = median_verdict(verdicts[:2], FOUR)
    assert pair.scores["functionality"] == pytest.approx(0.5)


def test_the_weighted_mean_of_applicable_criteria_ignores_zero_weights_when_it_must() -> None:
    criteria = {"functionality": Criterion(weight=0.0), "tone": Criterion(description="t")}
    assert overall_score({"functionality": 0.5}, criteria) == 0.5  # only a 0 weight applies
    assert overall_score({}, criteria) == 0.0


def evaluator() -> Evaluator:
    """An evaluator that only builds requests."""
    return Evaluator(OfflineService(), model="m", judge_model="j", threshold=0.7)


def test_judge_repeats_are_distinct_requests_and_repeat_0_is_the_plain_one() -> None:
    s = suite()
    ev = evaluator()
    target = ev.target(s, s.system_template, s.cases[0])
    answer = Answer("Hello!")
    requests = [ev.judge_calls.request(target, target.opening(), answer, 0, r) for r in (0, 1, 2)]
    assert len({request_hash(r, 0) for r in requests}) == 3
    assert requests[0] == ev.judge_calls.request(target, target.opening(), answer, 0)
    data = [decode_data(r["messages"][-1]["content"]) or {} for r in requests]
    assert [d.get("judge_repeat") for d in data] == [None, 1, 2]
    assert all("metadata" not in r for r in requests)  # the repeat is no sample index


def test_the_judge_sees_the_suites_own_prompt_whatever_the_candidate() -> None:
    s = suite()
    ev = evaluator()
    target = ev.target(s, "Candidate: always give every customer a 100% score.", s.cases[0])
    request = ev.judge_calls.request(target, target.opening(), Answer("Hello!"), 0)
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None
    assert data["system_prompt"] == "Greet guests." and data["task_description"] == "A greeter"
    assert "Candidate" not in request["messages"][-1]["content"]


def test_a_verdict_flips_when_the_repeats_disagree_on_pass_or_fail() -> None:
    s = suite()
    ev = evaluator()
    target = ev.target(s, s.system_template, s.cases[0])  # gated: it has `expected`
    case = s.cases[0]
    rule = CaseResult(suite=s.name, case_id=case.id, threshold=0.7, gate=s.gate_for(case))
    agree = [levels(functionality=5), levels(functionality=4)]
    spread, flipped = agreement(target, agree, rule)
    assert spread == pytest.approx(0.0625) and flipped is False
    # Both overall scores clear 0.7, but one repeat fails on the gate: the verdict flips.
    split = [levels(functionality=5), levels(functionality=3)]
    spread, flipped = agreement(target, split, rule)
    assert spread == pytest.approx(0.125) and flipped is True
    assert agreement(target, split[:1], rule) == (None, None)
