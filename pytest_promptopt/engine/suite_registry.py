"""The suites a session knows, by name: the prompt each is judged with, its case rows, outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.engine.recorder import Recorder


@dataclass
class SuiteState:
    """A suite as judged in this run: the prompt under test and the case row ids."""

    suite: Suite
    prompt_id: int
    prompt_text: str
    case_ids: dict[str, int] = field(default_factory=dict)


class SuiteOutcome(Protocol):
    """What the session keeps of a suite's optimization (an `OptimizeOutcome`)."""

    @property
    def suite(self) -> str:
        """The suite's name."""

    def describe(self) -> str:
        """One line for the terminal."""


def _differ(a: Suite, b: Suite) -> bool:
    """True when two suites of one name would judge differently (the prompt or a shared case)."""
    if (a.prompt, a.model, a.criteria) != (b.prompt, b.model, b.criteria):
        return True
    mine = {c.id: c for c in a.cases}
    return any(c.id in mine and mine[c.id] != c for c in b.cases)


class SuiteRegistry:
    """Suites by name, each registered once (its prompt and case rows written on first use).

    Under --optimize a suite is judged with the prompt `use_prompt` set, and its outcome is
    kept for the terminal summary; `recorder` gives the writer of the rows when first needed.
    """

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder
        self._lock = threading.RLock()
        self._suites: dict[str, SuiteState] = {}
        self._prompts: dict[str, tuple[int, str]] = {}
        self._outcomes: dict[str, SuiteOutcome] = {}
        self._answers: dict[tuple[str, str], list[tuple[str, object]]] = {}  # promptopt.judge

    def state(self, suite: Suite) -> SuiteState:
        """The registered state of a suite, registering prompt and cases on first use."""
        with self._lock:
            state = self._suites.get(suite.name)
            if state is not None and state.suite is not suite and _differ(state.suite, suite):
                raise SuiteError(
                    f"suite name {suite.name!r} is used by two different suites (another prompt "
                    "or other cases): results are recorded by suite name, so give each its "
                    "own `name`"
                )
            if state is None:
                if suite.name in self._prompts:
                    prompt_id, text = self._prompts[suite.name]
                else:
                    text = suite.system_template
                    prompt_id = self._recorder().register_prompt(suite, text)
                state = SuiteState(suite, prompt_id, text)
                self._suites[suite.name] = state
            if len(state.case_ids) < len(suite.cases):
                missing = [c for c in suite.cases if c.id not in state.case_ids]
                if missing:
                    state.case_ids.update(self._recorder().register_cases(suite, missing))
            return state

    def register(self, suite: Suite, case: Case) -> SuiteState:
        """Register a suite (refusing another suite of its name) and a case's row."""
        with self._lock:
            state = self.state(suite)
            if case.id not in state.case_ids:  # a Python-API case outside suite.cases
                state.case_ids.update(self._recorder().register_cases(suite, [case]))
            return state

    def registered(self, suite_name: str) -> SuiteState:
        """The state of a registered suite (KeyError for one never registered)."""
        return self._suites[suite_name]

    def sample_of(self, suite_name: str, case_id: str, answer: tuple[str, object]) -> int:
        """The sample index of an answer the team's test produced: each distinct one its own."""
        with self._lock:
            answers = self._answers.setdefault((suite_name, case_id), [])
            if answer not in answers:
                answers.append(answer)
            return answers.index(answer)

    def use_prompt(self, suite_name: str, prompt_id: int, text: str) -> None:
        """Judge a suite's cases with this prompt row instead of the suite's own prompt."""
        with self._lock:
            self._prompts[suite_name] = (prompt_id, text)

    def judged_prompt(self, suite_name: str) -> str | None:
        """The prompt text this process judged a suite's cases with (None: it judged none)."""
        state = self._suites.get(suite_name)
        return None if state is None else state.prompt_text

    def record_outcome(self, outcome: SuiteOutcome) -> None:
        """Keep what optimizing a suite produced, for the terminal summary."""
        with self._lock:
            self._outcomes[outcome.suite] = outcome

    def outcome(self, suite_name: str) -> SuiteOutcome | None:
        """The optimize outcome of a suite, if this process optimized it."""
        return self._outcomes.get(suite_name)

    def outcomes(self) -> list[SuiteOutcome]:
        """Every optimize outcome of this process, in the order the suites were optimized."""
        return list(self._outcomes.values())
