"""Cached answers and verdicts looked up ahead, in two queries, with the hashes they took."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.judge_calls import JudgeCalls
from pytest_promptopt.evaluation.target import TargetCase
from pytest_promptopt.llm.requests import response_parts
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.suites.spec import Case, Suite


@dataclass(frozen=True)
class PrefetchedKeys:
    """The hashes of one sample's requests, valid for these very suite and case objects."""

    suite: Suite
    case: Case
    target: str
    answer: Answer | None = None  # the cached answer the judge hash was computed for
    judge: str | None = None

    def fits(self, suite: Suite, case: Case) -> bool:
        """True when computed for these objects (not an equal-named other suite or case)."""
        return self.suite is suite and self.case is case


class Prefetch:
    """The rendered cases and request hashes of a prefetch, each taken once by its sample."""

    def __init__(self, llm: LLMService, judge: JudgeCalls, model: str) -> None:
        self.llm = llm
        self.judge = judge
        self.model = model
        # Request hashes `load` computed, taken by the sample so nothing is hashed twice.
        self.keys: dict[tuple[str, str, str, int], PrefetchedKeys] = {}
        # Cases `load` rendered, taken by the evaluation so nothing is rendered twice.
        self.targets: dict[tuple[str, str, str], TargetCase] = {}

    def load(self, jobs: Sequence[tuple[Suite, str, Case]]) -> None:
        """Load the cached answers and verdicts of these cases in two queries, before they run.

        Only a case's first call is looked up ahead: a later turn depends on earlier answers.
        """
        if self.llm.cache_mode not in ("use", "replay"):
            return
        samples: list[tuple[TargetCase, str, int]] = []
        for suite, prompt, case in jobs:
            if suite.target is not None or case.user is not None:
                continue  # its own requests, or a simulated user's: nothing to look up
            try:
                target = TargetCase.render(suite, case, prompt, self.model)
            except SuiteError:
                continue  # the case reports it as its error when it runs
            self.targets[(suite.name, prompt, case.id)] = target
            samples += [(target, prompt, k) for k in range(suite.repeats_for(case))]
        targets = [self.llm.key_of(t.first_request(k), k) for t, _, k in samples]
        answers = self.llm.store.preload(targets)
        judges: list[str] = []
        for (target, prompt, k), key in zip(samples, targets, strict=True):
            suite, case = target.suite, target.case
            keys = PrefetchedKeys(suite, case, key)
            hit = answers.get(key)
            if hit is not None and case.judge and target.turn_count == 1:
                parts = response_parts(hit.response)
                answer = Answer(parts.text, parts.tool_calls, parts.stop_reason)
                requests = [
                    self.judge.request(target, target.opening(), answer, k, r)
                    for r in range(self.judge.repeats)
                ]
                if all(r is not None for r in requests) and parts.stop_reason != "refusal":
                    hashes = [self.llm.key_of(r, k) for r in requests if r is not None]
                    keys = PrefetchedKeys(suite, case, key, answer, hashes[0])
                    judges += hashes
            self.keys[(suite.name, prompt, case.id, k)] = keys
        self.llm.store.preload(judges)

    def target(self, suite: Suite, prompt: str, case: Case) -> TargetCase | None:
        """The case as prefetched for these very objects, taken (None: not prefetched)."""
        target = self.targets.pop((suite.name, prompt, case.id), None)
        if target is None or target.suite is not suite or target.case is not case:
            return None
        return target

    def take(self, suite: Suite, prompt: str, case: Case, k: int) -> PrefetchedKeys | None:
        """Sample k's hashes when prefetched for these very objects, taken."""
        keys = self.keys.pop((suite.name, prompt, case.id, k), None)
        return keys if keys is not None and keys.fits(suite, case) else None

    def drop(self, suite: Suite, prompt: str, case: Case, count: int) -> None:
        """Forget the hashes of samples 0..count-1 (those that never ran leave none behind)."""
        for k in range(count):
            self.keys.pop((suite.name, prompt, case.id, k), None)
