"""The Python API: the same judging and recording as YAML suites, from a plain test."""

import pytest

from pytest_promptopt import Case, Suite

suite = Suite(
    name="greeter",
    description="Greets visitors of the Northwind shop and offers help.",
    prompt=(
        "You are the greeter of the Northwind kitchenware shop. "
        "Always greet the visitor warmly and offer help."
    ),
    threshold=0.6,
    cases=[
        Case(id="hello", input="Hello!", expected="A warm greeting that offers help"),
        Case(
            id="hi-there", input="Hi there, anyone around?", expected="A greeting that offers help"
        ),
    ],
)


@pytest.mark.parametrize("case", suite.cases, ids=lambda c: c.id)
def test_greeter(promptopt, case):
    result = promptopt.evaluate(suite, case)
    assert result.passed, result.explain()
