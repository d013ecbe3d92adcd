"""The suite registry: one registration per suite name, case rows once, the prompt it judges."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.engine.suite_registry import SuiteRegistry
from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.spec import Case, Suite


class FakeRecorder:
    """Hands out row ids and remembers what was registered."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str]] = []
        self.cases: list[str] = []

    def register_prompt(self, suite: Suite, text: str) -> int:
        self.prompts.append((suite.name, text))
        return 100 + len(self.prompts)

    def register_cases(self, suite: Suite, cases: list[Case]) -> dict[str, int]:
        self.cases += [c.id for c in cases]
        return {c.id: len(self.cases) - len(cases) + n for n, c in enumerate(cases, 1)}


def registry() -> tuple[SuiteRegistry, FakeRecorder]:
    """A registry on a fake recorder."""
    recorder = FakeRecorder()
    fake: Any = recorder
    return SuiteRegistry(lambda: fake), recorder


def suite(prompt: str = "Be brief.", *ids: str) -> Suite:
    """A suite named bot with cases `ids` (a and b by default)."""
    return Suite(name="bot", prompt=prompt, cases=[Case(id=i, input=i) for i in ids or "ab"])


def test_a_suite_and_its_cases_are_registered_once() -> None:
    reg, recorder = registry()
    first = reg.state(suite())
    again = reg.state(suite())  # an equal suite (another collection of the same file)
    assert again is first and first.prompt_id == 101 and first.case_ids == {"a": 1, "b": 2}
    reg.register(suite(), Case(id="extra", input="x"))  # a Python-API case outside the suite
    assert recorder.prompts == [("bot", "Be brief.")] and recorder.cases == ["a", "b", "extra"]
    assert reg.registered("bot").case_ids["extra"] == 3
    assert reg.judged_prompt("bot") == "Be brief." and reg.judged_prompt("other") is None


def test_two_different_suites_of_one_name_are_refused() -> None:
    reg, _ = registry()
    reg.state(suite())
    with pytest.raises(SuiteError, match="used by two different suites"):
        reg.state(suite("Be long."))
    with pytest.raises(SuiteError, match="used by two different suites"):
        reg.state(Suite(name="bot", prompt="Be brief.", cases=[Case(id="a", input="changed")]))
    reg.state(suite("Be brief.", "c"))  # more cases under the same prompt are fine


def test_an_optimized_prompt_replaces_the_suites_own_without_a_prompt_row() -> None:
    reg, recorder = registry()
    reg.use_prompt("bot", 41, "Be very brief.")
    state = reg.state(suite())
    assert (state.prompt_id, state.prompt_text) == (41, "Be very brief.")
    assert recorder.prompts == []


def test_each_distinct_answer_of_a_case_is_its_own_sample() -> None:
    reg, _ = registry()
    assert reg.sample_of("bot", "a", ("hi", None)) == 0
    assert reg.sample_of("bot", "a", ("hello", None)) == 1
    assert reg.sample_of("bot", "a", ("hi", None)) == 0
    assert reg.sample_of("bot", "b", ("hello", None)) == 0
