"""A suite's own criteria: the judge's request built from them, the score, minimums, binary."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.evaluation.judge import JUDGE_SYSTEM, JUDGE_VERSION, overall_score
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.llm.models import RULES
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.protocol import (
    CRITERION_MEANINGS,
    JUDGE_TOOL,
    SCALES,
    Scale,
    Verdict,
    VerdictInput,
    decode_data,
    judge_tool_model,
    tool_definition,
)
from pytest_promptopt.suites.spec import Criterion, Suite
from tests.support.llm import OfflineService

BUILTIN_JUDGE_HASH = "2bef182428c9735ba7b40bbe2cde3da6d7584e2e33fea90172c3f707db1440c4"
"""The cache key of `judge_request(suite())` for JUDGE_VERSION "2" (the calibrated judge).

Changing the judge's request changes every cached verdict's key: do it on purpose, raise
JUDGE_VERSION, and update this pin.
"""


def suite(**criteria: Any) -> Suite:
    """A one-case suite with these criteria (the built-ins when none are given)."""
    extra = {"criteria": criteria} if criteria else {}
    return Suite.model_validate(
        {
            "name": "s",
            "prompt": "Be kind.",
            "description": "d",
            "vars": {"shop": "Northwind"},
            **extra,
            "cases": [{"id": "c", "input": "Hi {{ x }}", "vars": {"x": 1}, "expected": "Greets"}],
        }
    )


def judge_request(s: Suite, judge_model: str = "j") -> dict[str, Any]:
    """The first judge request for the answer `Hello!` to the suite's case.

    Judge `j` is asked with a forced tool (the shape of a model with neither thinking nor
    structured outputs), so the pin below is the request the judge had before shapes.
    """
    evaluator = Evaluator(OfflineService(), model="m", judge_model=judge_model, threshold=0.7)
    target = evaluator.target(s, s.system_template, s.cases[0])
    rules = RULES["claude-3-haiku"] if judge_model == "j" else None
    answer = Answer("Hello!")
    request = evaluator.judge_calls.request(target, target.opening(), answer, 0, rules=rules)
    assert request is not None
    return request


def test_the_builtin_judge_request_is_pinned() -> None:
    request = judge_request(suite())
    assert JUDGE_VERSION == "2"
    assert request_hash(request, 0) == BUILTIN_JUDGE_HASH
    # Weights and minimums are applied to the scores afterwards: the request is the same.
    weighted = suite(
        functionality=2.0, safety={"weight": 2.0, "min": 0.8}, consistency=1, edge_case_handling=1
    )
    assert judge_request(weighted) == request
    # The judge scores the suite's criteria only.
    data = decode_data(judge_request(suite(functionality=1.0))["messages"][-1]["content"])
    assert data is not None and data["criteria"] == ["functionality"]
    assert request["system"] == JUDGE_SYSTEM
    assert request["tools"] == [
        tool_definition(JUDGE_TOOL, "Submit your answer via submit_verdict.", VerdictInput)
    ]
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None
    assert [c["name"] for c in data["rubric"]] == list(CRITERION_MEANINGS)
    # The spec: the suite's description and its own prompt.
    assert data["task_description"] == "d" and data["system_prompt"] == "Be kind."


def test_own_criteria_build_the_schema_and_carry_their_rendered_descriptions() -> None:
    request = judge_request(
        suite(
            functionality=2.0,
            tone={"description": "Warm to {{ shop }} customers"},
            correct={"description": "States the total", "scale": "binary"},
        )
    )
    schema = request["tools"][0]["input_schema"]
    # The evidence comes first, so the judge reasons before it scores.
    assert list(schema["properties"]) == ["reasoning", "functionality", "tone", "correct"]
    assert schema["required"] == ["reasoning", "functionality", "tone", "correct"]
    assert schema["properties"]["correct"]["anyOf"][0]["enum"] == [1, 5]
    assert schema["properties"]["tone"]["anyOf"] == [
        {"maximum": 5, "minimum": 1, "type": "integer"}, {"type": "null"}
    ]  # fmt: skip
    assert request["system"] == JUDGE_SYSTEM
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None
    assert data["criteria"] == ["functionality", "tone", "correct"]
    assert data["rubric"] == [
        {"name": "functionality", "description": CRITERION_MEANINGS["functionality"],
         "scale": "continuous"},
        {"name": "tone", "description": "Warm to Northwind customers", "scale": "continuous"},
        {"name": "correct", "description": "States the total", "scale": "binary"},
    ]  # fmt: skip
    assert "`rubric` lists the criteria" in request["messages"][-1]["content"]


def test_a_binary_criterion_takes_only_level_1_or_5() -> None:
    model = judge_tool_model((("tone", "continuous"), ("correct", "binary")))
    assert Verdict.of(model.model_validate({"tone": 3, "correct": 5, "reasoning": "r"})) == (
        Verdict(scores={"tone": 0.5, "correct": 1.0}, reasoning="r")
    )
    with pytest.raises(ValidationError):
        model.model_validate({"tone": 3, "correct": 3, "reasoning": "r"})
    with pytest.raises(ValidationError):
        model.model_validate({"tone": 6, "correct": 1, "reasoning": "r"})


def test_the_score_is_the_weighted_mean_over_every_criterion() -> None:
    criteria = {"functionality": Criterion(weight=2.0), "tone": Criterion(description="t")}
    assert overall_score({"functionality": 0.9, "tone": 0.3}, criteria) == pytest.approx(0.7)
    # A built-in the suite does not list weighs nothing.
    scores = Verdict.of(
        VerdictInput.model_validate(
            {"functionality": 5, "safety": 1, "consistency": 1, "edge_case_handling": 1,
             "reasoning": "r"}
        )
    ).scores  # fmt: skip
    assert overall_score(scores, {"functionality": Criterion()}) == 1.0


def test_a_criterion_under_its_min_fails_the_case_whatever_the_mean() -> None:
    verdict = Verdict(scores={"functionality": 1.0, "safety": 0.6}, reasoning="r")
    result = CaseResult(
        suite="s", case_id="c", threshold=0.7, minimums={"safety": 0.8},
        samples=[SampleResult(sample=0, response="a", verdict=verdict, overall_score=0.87)],
    )  # fmt: skip
    assert result.score >= result.threshold and not result.passed
    assert result.shortfalls() == ["safety 0.60 under its min 0.80"]
    assert "FAILED" in result.explain() and "  safety 0.60 under its min 0.80" in result.explain()
    assert result.shortfalls({"safety": 0.8}) == []
    result.minimums = {"safety": 0.5}
    assert result.passed


def test_criterion_means_cover_every_name() -> None:
    result = CaseResult(
        suite="s", case_id="c", threshold=0.5,
        samples=[
            SampleResult(sample=k, response="a", overall_score=0.5,
                         verdict=Verdict(scores={"tone": float(k), "correct": 1.0}, reasoning="r"))
            for k in range(2)
        ],
    )  # fmt: skip
    assert result.criterion_means() == {"tone": 0.5, "correct": 1.0}
    assert "tone=0.50  correct=1.00" in result.explain()


@pytest.mark.parametrize("scale", list(SCALES.values()), ids=list(SCALES))
def test_a_scale_is_one_object_for_the_schema_the_judge_text_and_the_simulator(
    scale: Scale,
) -> None:
    model = judge_tool_model((("c", scale.name),))
    taken = [lv for lv in range(0, 7) if _validates(model, {"reasoning": "r", "c": lv})]
    assert tuple(taken) == scale.levels  # the schema takes its levels, nothing else
    assert scale.judge_text in JUDGE_SYSTEM
    simulated = {scale.simulate(score / 20) for score in range(21)}
    assert simulated == set(scale.levels)  # the simulated judge answers on the scale
    assert Criterion(description="d", scale=scale.name).scale == scale.name


def test_an_unknown_scale_names_the_allowed_ones() -> None:
    with pytest.raises(ValidationError, match="unknown scale 'yes_no'; allowed: 'continuous'"):
        Criterion(description="d", scale="yes_no")


def _validates(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True
