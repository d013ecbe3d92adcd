"""The built-in `tool_use` criterion: listed by name only, never a default, and scored by the
simulated judge on the trajectory's errors, repeated calls and a loop cut short."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from pytest_promptopt.evaluation.judge import rubric
from pytest_promptopt.simulator.judge import judge
from pytest_promptopt.suites.criteria import AGENT_CRITERIA, default_criteria
from pytest_promptopt.suites.spec import Case, Suite


def test_tool_use_needs_no_description_and_is_not_a_default() -> None:
    suite = Suite(name="a", prompt="x", criteria={"tool_use": 1.0}, cases=[Case(id="c", input="x")])
    assert rubric(suite.criteria, {}) == [
        {"name": "tool_use", "description": AGENT_CRITERIA["tool_use"], "scale": "continuous"}
    ]
    assert "tool_use" not in default_criteria()
    with pytest.raises(ValidationError, match="needs a `description`"):
        Suite(name="a", prompt="x", criteria={"tool_usage": 1.0}, cases=[Case(id="c", input="x")])


def level(trajectory: list[dict] | None) -> int | None:
    """The simulated judge's tool_use level for a payload with this trajectory."""
    payload = {
        "rubric": [{"name": "tool_use", "description": AGENT_CRITERIA["tool_use"]}],
        "user_input": "Refund order 1",
        "response": "Done.",
    }
    if trajectory is not None:
        payload["trajectory"] = trajectory
    return judge(payload, random.Random(0), noise=0.0)["tool_use"]


def test_the_simulated_judge_scores_tool_use_on_the_trajectory() -> None:
    call = {"name": "lookup", "input": '{"id": 1}'}
    clean = [{"step": 1, "tool_calls": [call], "results": [{"name": "lookup", "content": "ok"}]}]
    failed = [{**clean[0], "results": [{"name": "lookup", "content": "x", "is_error": True}]}]
    repeated = [clean[0], {**clean[0], "step": 2}]
    cut = [{**clean[0], "stopped": "max_steps"}]
    assert level(clean) == 5
    assert level(clean) > level(failed) and level(clean) > level(repeated)
    assert level(clean) > level(cut)
    assert level(None) == 3  # not applicable alone: a verdict scores something
