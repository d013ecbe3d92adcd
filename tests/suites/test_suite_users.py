"""A case's `user:` (a simulated user): validated, exclusive with `messages` and `turns`, and
its mistakes are load errors saying what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pytest_promptopt.suites.agent import max_calls_per_sample
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.render import render_case
from pytest_promptopt.suites.spec import Case, Suite
from pytest_promptopt.suites.users import DEFAULT_USER_TURNS, SimulatedUser
from tests.suites.test_suite_loading import error_of, suite_at


def with_case(root: Path, case: str) -> Path:
    """A one-case suite file whose case is the given YAML flow mapping."""
    return suite_at(root, f"name: s\nprompt: You help customers.\ncases:\n  - {case}\n")


def test_a_user_case_loads_with_its_defaults_and_renders_no_message(tmp_path: Path) -> None:
    suite = load_suite(with_case(tmp_path, "{id: a, user: {persona: a chef, goal: a recipe}}"))
    case = suite.cases[0]
    assert case.user == SimulatedUser(persona="a chef", goal="a recipe")
    assert case.user.max_turns == DEFAULT_USER_TURNS == 6 and case.user.stop_when is None
    assert case.gives_request and case.display_input == "[simulated user: a recipe]"
    assert render_case(suite, case).messages == []
    assert max_calls_per_sample(suite, case) == 6


def test_the_case_input_is_the_first_message(tmp_path: Path) -> None:
    body = "{id: a, input: hi there, user: {persona: p, goal: g, max_turns: 2}}"
    suite = load_suite(with_case(tmp_path, body))
    assert render_case(suite, suite.cases[0]).messages == [{"role": "user", "content": "hi there"}]


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("{persona: p}", "field 'user.goal': required field is missing"),
        ("{persona: p, goal: g, max_turns: 0}", "greater than or equal to 1"),
        ("{persona: p, goal: g, max_turns: 51}", "less than or equal to 50"),
        ("{persona: p, goal: g, stop_when: '(unclosed'}", "user.stop_when:"),
        ("{persona: p, goal: g, mood: cross}", "field 'user.mood'"),
        ("{persona: '', goal: g}", "at least 1 character"),
    ],
)
def test_a_bad_user_is_a_load_error_naming_the_field(
    tmp_path: Path, user: str, message: str
) -> None:
    error = error_of(with_case(tmp_path, f"{{id: a, user: {user}}}"))
    assert "case 'a'" in error and message in error, error


@pytest.mark.parametrize("other", ["turns: [hi, more]", "messages: [{role: user, content: hi}]"])
def test_a_user_case_may_not_give_turns_or_messages(tmp_path: Path, other: str) -> None:
    error = error_of(with_case(tmp_path, f"{{id: a, {other}, user: {{persona: p, goal: g}}}}"))
    assert "a `user:` case plays the conversation with a simulated user: drop" in error


def test_a_suite_with_a_target_cannot_answer_a_simulated_user() -> None:
    case = Case(id="a", user=SimulatedUser(persona="p", goal="g"))
    with pytest.raises(ValidationError, match=r"use `turns` or `user`, which a `target`"):
        Suite(name="s", prompt="x", target="app:answer", cases=[case])


def test_stop_when_is_an_re2_search_of_the_reply() -> None:
    user = SimulatedUser(persona="p", goal="g", stop_when=r"(?i)refund (issued|sent)")
    assert user.stops("OK. Refund issued for 5001.")
    assert not user.stops("I looked the order up.")
    assert not SimulatedUser(persona="p", goal="g").stops("anything")
