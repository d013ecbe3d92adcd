"""Duplicate cases in a suite are a collection warning naming both (issue 21)."""

from __future__ import annotations

import pytest

from tests.support.plugin import write_suite

SUITE = """name: dup
prompt: "You help customers."
cases:
  - id: refund-a
    input: "I want a refund"
    expected: "States the refund policy"
  - id: delivery
    input: "How long is delivery?"
    expected: "Says 3-5 days"
  - id: refund-b
    category: other
    input: "I want a refund"
    expected: "States the refund policy"
  - id: refund-c
    input: "I want a refund"
    expected: "Asks for the order number"
"""


def test_duplicate_cases_warn_at_collection_naming_both(sim: pytest.Pytester) -> None:
    write_suite(sim, "dup", SUITE)
    result = sim.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*PytestCollectionWarning*cases 'refund-a' and 'refund-b' of suite 'dup' are duplicates*"]
    )
    output = result.stdout.str()
    assert "'refund-c'" not in output  # another expectation is another case
    assert output.count("are duplicates") == 1


def test_a_suite_without_duplicates_warns_nothing(sim: pytest.Pytester) -> None:
    write_suite(sim, "dup", SUITE.split("  - id: refund-b")[0])
    result = sim.runpytest("--collect-only", "-q")
    assert "duplicates" not in result.stdout.str()
