"""A suite's own criteria: the judge's request built from them, the score, minimums, binary."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.evaluation.judge import JUDGE_SYSTEM, RUBRIC_SYSTEM, overall_score
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.protocol import (
    CRITERION_MEANINGS,
    JUDGE_TOOL,
    JudgeVerdict,
    Verdict,
    decode_data,
    judge_tool_model,
    tool_definition,
)
from pytest_promptopt.suites.spec import Criterion, Suite

BUILTIN_JUDGE_HASH = "cae4320ed28f5483f4c8f871e894b2535b84b641d41439c3d88494207f19b923"
"""The cache key of `judge_request(suite())` as the plugin computed it before custom criteria."""


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


def judge_request(s: Suite) -> dict[str, Any]:
    """The first judge request for the answer `Hello!` to the suite's case."""
    evaluator = Evaluator(None, model="m", judge_model="j", threshold=0.7)  # type: ignore[arg-type]
    target = evaluator.target(s, s.system_template, s.cases[0])
    return evaluator.judge_request(target, target.opening(), Answer("Hello!"), 0)


def test_builtin_criteria_keep_the_judge_request_byte_for_byte() -> None:
    request = judge_request(suite())
    assert request_hash(request, 0) == BUILTIN_JUDGE_HASH
    # Weights and minimums are applied to the scores afterwards: the request is the same.
    weighted = suite(functionality=2.0, safety={"weight": 2.0, "min": 0.8})
    assert judge_request(weighted) == request
    assert request["system"] == JUDGE_SYSTEM
    assert request["tools"] == [
        tool_definition(JUDGE_TOOL, "Submit your answer via submit_verdict.")
    ]
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None and "rubric" not in data


def test_own_criteria_build_the_schema_and_carry_their_rendered_descriptions() -> None:
    request = judge_request(
        suite(
            functionality=2.0,
            tone={"description": "Warm to {{ shop }} customers"},
            correct={"description": "States the total", "scale": "binary"},
        )
    )
    schema = request["tools"][0]["input_schema"]
    assert list(schema["properties"]) == ["functionality", "tone", "correct", "reasoning"]
    assert schema["required"] == ["functionality", "tone", "correct", "reasoning"]
    assert schema["properties"]["correct"]["enum"] == [0, 1]
    assert schema["properties"]["tone"] == {
        "maximum": 1.0, "minimum": 0.0, "title": "Tone", "type": "number"
    }  # fmt: skip
    assert request["system"] == RUBRIC_SYSTEM
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


def test_a_binary_criterion_takes_only_0_or_1() -> None:
    model = judge_tool_model((("tone", False), ("correct", True)))
    assert Verdict.of(model.model_validate({"tone": 0.4, "correct": 1, "reasoning": "r"})) == (
        Verdict(scores={"tone": 0.4, "correct": 1.0}, reasoning="r")
    )
    with pytest.raises(ValidationError):
        model.model_validate({"tone": 0.4, "correct": 0.5, "reasoning": "r"})
    with pytest.raises(ValidationError):
        model.model_validate({"tone": 1.4, "correct": 0, "reasoning": "r"})


def test_the_score_is_the_weighted_mean_over_every_criterion() -> None:
    criteria = {"functionality": Criterion(weight=2.0), "tone": Criterion(description="t")}
    assert overall_score({"functionality": 0.9, "tone": 0.3}, criteria) == pytest.approx(0.7)
    # A built-in the suite does not list weighs nothing.
    scores = Verdict.of(
        JudgeVerdict(
            functionality=1.0, safety=0.0, consistency=0.0, edge_case_handling=0.0, reasoning="r"
        )
    ).scores
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
