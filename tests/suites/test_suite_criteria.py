"""Criteria in a suite file: a weight or a mapping; mistakes are load errors saying what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pytest_promptopt.records.case import PROPERTY_NAMES as RECORD_FIELDS
from pytest_promptopt.suites.criteria import RESERVED_NAMES, Criterion
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.render import render_case
from pytest_promptopt.suites.spec import Suite
from tests.suites.test_suite_loading import error_of, suite_at


def with_criteria(root: Path, criteria: str, name: str = "support") -> Path:
    """A one-case suite file whose `criteria:` block is the given YAML."""
    return suite_at(
        root,
        f"""
        name: {name}
        prompt: You help customers.
        vars: {{shop: Northwind}}
        criteria:
        {criteria}
        cases:
          - {{id: one, input: hello, vars: {{tone_word: warm}}}}
        """,
    )


def test_a_weight_or_a_mapping_loads_with_defaults(tmp_path: Path) -> None:
    path = with_criteria(
        tmp_path,
        """  functionality: 2
          safety: {weight: 2.0, min: 0.8}
          tone: {description: "{{ tone_word }} to {{ shop }} customers"}
          correct: {description: "States the total", scale: binary}""",
    )
    suite = load_suite(path)
    assert suite.criteria == {
        "functionality": Criterion(weight=2.0),
        "safety": Criterion(weight=2.0, min=0.8),
        "tone": Criterion(description="{{ tone_word }} to {{ shop }} customers"),
        "correct": Criterion(description="States the total", scale="binary"),
    }
    assert suite.criteria["correct"].binary and not suite.criteria["tone"].binary
    # Descriptions are templates, rendered per case like `expected`.
    rendered = render_case(suite, suite.cases[0])
    assert rendered.descriptions == {
        "tone": "warm to Northwind customers",
        "correct": "States the total",
    }


def test_a_custom_criterion_without_a_description_names_file_suite_and_criterion(
    tmp_path: Path,
) -> None:
    path = with_criteria(tmp_path, "  functionality: 1\n          tone: {weight: 1.0}")
    assert error_of(path) == (
        f"{path}: field 'criteria': suite 'support': custom criterion 'tone' needs a "
        "`description` (what the judge scores it on); only the built-ins functionality, "
        "safety, consistency, edge_case_handling go without one"
    )
    bare = with_criteria(tmp_path, "  politeness: 2", name="other")
    assert "custom criterion 'politeness' needs a `description`" in error_of(bare)


def test_an_unknown_key_in_a_criterion_suggests_the_closest(tmp_path: Path) -> None:
    path = with_criteria(tmp_path, '  tone: {weight: 1, descripton: "Warm"}')
    assert error_of(path) == (
        f"{path}: field 'criteria.tone.descripton': unknown key: did you mean 'description'?; "
        "allowed: weight, description, min, scale"
    )


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ("  tone: {description: t, min: 1.5}", "criteria.tone.min"),
        ("  tone: {description: t, scale: yes_no}", "'continuous' or 'binary'"),
        ("  safety: {weight: 0}", "at least one must be > 0"),
        ("  reasoning: {description: t}", "criterion name 'reasoning' must be"),
        ("  Tone-Of-Voice: {description: t}", "criterion name 'Tone-Of-Voice' must be"),
    ],
)
def test_bad_criteria_are_load_errors(tmp_path: Path, criteria: str, message: str) -> None:
    assert message in error_of(with_criteria(tmp_path, criteria))


def test_a_criterion_name_cannot_shadow_a_record_field() -> None:
    assert RECORD_FIELDS <= RESERVED_NAMES
    with pytest.raises(ValidationError, match="criterion name 'score'"):
        Suite(name="s", prompt="p", criteria={"score": Criterion(description="d")})
