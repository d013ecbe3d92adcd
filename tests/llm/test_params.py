"""A suite's `params` are checked against the installed SDK's own `messages.create` signature."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from anthropic.resources.messages import AsyncMessages

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.evaluation.target import TargetCase
from pytest_promptopt.llm import params as params_module
from pytest_promptopt.llm.params import (
    SET_ELSEWHERE,
    ParamsError,
    accepted_params,
    check_params,
    sdk_keywords,
)
from pytest_promptopt.settings import SIMULATED_MODEL
from pytest_promptopt.suites.spec import Case, Suite


def test_the_accepted_keys_are_the_sdk_signature_less_what_a_suite_sets_elsewhere() -> None:
    signature = set(inspect.signature(AsyncMessages.create).parameters) - {"self"}
    assert set(sdk_keywords()) == signature
    assert set(accepted_params()) == signature - set(SET_ELSEWHERE)
    assert {"max_tokens", "stop_sequences", "thinking", "service_tier", "extra_body"} <= set(
        accepted_params()
    )
    assert sdk_keywords() is sdk_keywords()  # computed once


def test_known_params_pass() -> None:
    check_params({})
    check_params(
        {
            "max_tokens": 600,
            "stop_sequences": ["</answer>"],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "service_tier": "auto",
            "extra_body": {"temperature": 0.2},
        }
    )


def test_an_unknown_key_lists_the_accepted_ones_and_points_at_extra_body() -> None:
    with pytest.raises(ParamsError) as info:
        check_params({"max_tokens": 10, "temperature": 0.2}, where="suite.promptopt.yaml")
    message = str(info.value)
    assert isinstance(info.value, SuiteError)
    assert message.startswith("suite.promptopt.yaml: field 'params': unknown key(s) 'temperature'")
    assert f"accepts: {', '.join(accepted_params())}." in message
    assert "`params: {extra_body: {temperature: ...}}`" in message


def test_a_near_miss_gets_a_suggestion() -> None:
    with pytest.raises(ParamsError, match=r"'stop_sequence'.*did you mean 'stop_sequences'\?"):
        check_params({"stop_sequence": ["x"]})


@pytest.mark.parametrize("key", sorted(SET_ELSEWHERE))
def test_keys_a_suite_sets_elsewhere_say_where(key: str) -> None:
    expected = f"field 'params': {key!r} is not a parameter here: {SET_ELSEWHERE[key]}"
    with pytest.raises(ParamsError, match=re.escape(expected)):
        check_params({key: "x"})


@pytest.mark.parametrize("value", [0, -5, "600", 1.5, True])
def test_max_tokens_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(ParamsError, match="max_tokens takes a positive integer"):
        check_params({"max_tokens": value})


def test_no_params_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> tuple[str, ...]:
        raise AssertionError("the SDK signature was read for a suite without params")

    monkeypatch.setattr(params_module, "accepted_params", boom)
    check_params({})


def test_a_python_suite_with_an_unknown_param_is_refused_before_anything_is_sent() -> None:
    """A suite built in Python skips collection; its unknown param is a case error, not a crash."""
    suite = Suite(
        name="bot",
        params={"temperature": 0.5},
        cases=[Case(id="a", input="hi")],
    )
    with pytest.raises(ParamsError, match=r"^bot: field 'params': unknown key\(s\) 'temp"):
        TargetCase.render(suite, suite.cases[0], "", SIMULATED_MODEL)


@pytest.mark.parametrize("key", ["model", "system", "messages", "tools", "tool_choice", "stream"])
def test_keys_the_plugin_passes_itself_are_collection_errors_naming_the_key(key: str) -> None:
    # Issue 18, finding 8: a key the plugin also passes must work or be refused at collection.
    with pytest.raises(ParamsError, match=f"'{key}' is not a parameter here"):
        check_params({key: "x"}, where="s.promptopt.yaml")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"timeout": "soon"}, "timeout takes a positive number of seconds"),
        ({"timeout": 0}, "timeout takes a positive number of seconds"),
        ({"timeout": float("nan")}, "timeout takes a positive number of seconds"),
        ({"timeout": True}, "timeout takes a positive number of seconds"),
        ({"extra_headers": ["x"]}, "extra_headers takes a mapping"),
        ({"extra_body": "temperature=0"}, "extra_body takes a mapping"),
    ],
)
def test_values_the_plugin_reads_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        check_params(params, where="s.promptopt.yaml")


def test_a_timeout_param_is_accepted() -> None:
    check_params({"timeout": 30, "extra_headers": {"x-team": "a"}, "max_tokens": 100})
