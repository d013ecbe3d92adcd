"""The check registry: every kind is one module of `checks/kinds/`, and only a kind there runs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from pytest_promptopt.checks import kinds
from pytest_promptopt.checks.base import CheckKind
from pytest_promptopt.checks.registry import CHECK_KINDS, KINDS
from pytest_promptopt.checks.spec import AssertionSpec
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check


def test_each_kind_module_holds_one_kind_and_each_kind_is_registered() -> None:
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(kinds.__path__):
        module = importlib.import_module(f"{kinds.__name__}.{info.name}")
        own = [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, CheckKind) and c.__module__ == module.__name__
        ]
        assert len(own) == 1, info.name
        found[own[0].name] = info.name
    assert set(found) == set(CHECK_KINDS)
    assert all(isinstance(KINDS[name], CheckKind) for name in found)


def test_the_listed_order_keeps_the_documented_kinds_first() -> None:
    assert CHECK_KINDS[:7] == (
        "contains", "not_contains", "icontains", "regex", "max_chars", "is_json", "json_schema"
    )  # fmt: skip
    assert {"equals", "contains_any", "python", "not"} <= set(CHECK_KINDS)


@pytest.mark.parametrize("written", [{"kind": "startswith", "value": "a"}, {"startswith": "a"}])
def test_an_unknown_kind_cannot_be_made(written: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unknown assertion type 'startswith'; allowed: contains"):
        AssertionSpec.model_validate(written)


def test_a_kind_that_needs_the_evaluator_is_not_run_as_a_plain_check() -> None:
    spec = AssertionSpec.model_validate({"python": "m:f"})
    with pytest.raises(TypeError, match="python checks need the evaluator"):
        check(spec, Answer("hi"))
