"""A suite's own criteria end to end on a scripted fake: judge schema, storage, failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_promptopt.protocol import decode_data
from pytest_promptopt.testing import ScriptedModel
from tests.support.plugin import (
    REFUND_INPUT,
    SUPPORT_ANSWERS,
    SUPPORT_PROMPT,
    default_db,
    query,
    run_ids,
    scripted,
    write_suite,
)

RUBRIC = f"""
name: rubric
prompt: "{SUPPORT_PROMPT}"
vars: {{topic: refund}}
threshold: 0.1
criteria:
  functionality: 1.0
  safety: {{weight: 1.0, min: 0.5}}
  apology: {{description: "Apologises about the {{{{ topic }}}}"}}
  email: {{description: "Asks for the order e-mail", scale: binary}}
  penguins: {{weight: 0.5, description: "Tells a joke about penguins", min: 0.9}}
cases:
  - id: refund
    input: I want a refund for order 123
    expected: Apologises, asks for the order e-mail, states the 30-day policy
"""
NAMES = ["functionality", "safety", "apology", "email", "penguins"]
# Apologises and asks for the e-mail, no joke: every criterion met but penguins (level 2).
LEVELS = {"functionality": 5, "safety": 5, "apology": 4, "email": 5, "penguins": 2}


def judge_requests(db: Any) -> list[dict[str, Any]]:
    """The judge requests recorded in `llm_calls`."""
    rows = query(db, "SELECT request FROM llm_calls WHERE role = 'judge'")
    return [json.loads(r[0]) for r in rows]


def test_own_criteria_reach_the_judge_schema_scores_and_the_failure_text(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "rubric", RUBRIC)
    model = ScriptedModel(SUPPORT_ANSWERS, {REFUND_INPUT: LEVELS})
    with scripted(pytester, monkeypatch, model):
        result = pytester.runpytest()
        # The second run is served from the cache: the dynamic request is stable.
        again = pytester.runpytest()
    result.assert_outcomes(failed=1)
    again.assert_outcomes(failed=1)
    assert len(model.of_role("judge")) == 1
    db = default_db(pytester)
    (request,) = judge_requests(db)
    schema = request["tools"][0]["input_schema"]
    assert list(schema["properties"]) == ["reasoning", *NAMES]
    assert schema["properties"]["email"]["anyOf"][0]["enum"] == [1, 5]
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None
    rubric = {c["name"]: c["description"] for c in data["rubric"]}
    assert rubric["apology"] == "Apologises about the refund"
    ((scores_json, functionality, safety, consistency, passed),) = query(
        db,
        "SELECT scores, functionality, safety, consistency, passed FROM evaluations "
        "WHERE run_id = ?",
        (run_ids(db)[0],),
    )
    scores = json.loads(scores_json)
    assert scores == {"functionality": 1.0, "safety": 1.0, "apology": 0.75, "email": 1.0,
                      "penguins": 0.25}  # fmt: skip
    assert list(scores) == NAMES
    # The built-in columns hold the built-ins' scores; one the suite leaves out stays NULL.
    assert (functionality, safety, consistency) == (scores["functionality"], scores["safety"], None)
    assert passed == 0  # the penguins criterion is under its min, whatever the mean
    result.stdout.fnmatch_lines(
        [
            "*rubric[[]refund[]] FAILED*",
            "*functionality=1.00  safety=1.00  apology=0.75  email=1.00  penguins=0.25*",
            "*penguins 0.25 under its min 0.90*",
        ]
    )
    run_dir = pytester.path / ".promptopt" / "reports" / str(run_ids(db)[0])
    (case,) = json.loads((run_dir / "report.json").read_text())["cases"]
    assert list(case["criteria"]) == NAMES
    assert "penguins" in (run_dir / "report.md").read_text()
    assert "apology" in (run_dir / "report.html").read_text()
    assert len(judge_requests(db)) == 1


def test_builtin_only_suites_store_scores_for_their_criteria(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(
        pytester,
        "plain",
        f"""
        name: plain
        prompt: "{SUPPORT_PROMPT}"
        criteria: {{functionality: 2.0, safety: {{weight: 1.0, min: 0.99}}}}
        cases:
          - {{id: refund, input: I want a refund for order 123, expected: Apologises}}
        """,
    )
    model = ScriptedModel(SUPPORT_ANSWERS, {REFUND_INPUT: {"functionality": 4, "safety": 5}})
    with scripted(pytester, monkeypatch, model):
        pytester.runpytest().assert_outcomes(passed=1)
    db = default_db(pytester)
    (request,) = judge_requests(db)
    data = decode_data(request["messages"][-1]["content"])
    assert data is not None and data["criteria"] == ["functionality", "safety"]
    ((scores_json, functionality),) = query(db, "SELECT scores, functionality FROM evaluations")
    scores = json.loads(scores_json)
    assert scores == {"functionality": 0.75, "safety": 1.0}
    assert list(scores) == ["functionality", "safety"] and functionality == 0.75
