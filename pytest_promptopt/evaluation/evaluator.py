"""Evaluates one case of a suite against a prompt: samples, checks, judge, score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.evaluation.checks import check_all
from pytest_promptopt.evaluation.judge import (
    JUDGE_INSTRUCTIONS,
    JUDGE_SYSTEM,
    judge_payload,
    overall_score,
)
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.llm.service import (
    LLMService,
    UsageMeter,
    build_request,
    build_structured_request,
    request_hash,
    response_text,
)
from pytest_promptopt.protocol import JUDGE_TOOL, JudgeVerdict
from pytest_promptopt.suites.spec import Case, Suite

# The Messages API rejects empty user content; an empty case input is sent as this marker.
EMPTY_INPUT = "[the user sent an empty message]"


@dataclass(frozen=True)
class PrefetchedKeys:
    """The hashes of one sample's requests, valid for these very suite and case objects."""

    suite: Suite
    case: Case
    target: str
    answer: str | None = None  # the cached answer the judge hash was computed for
    judge: str | None = None

    def fits(self, suite: Suite, case: Case) -> bool:
        """True when computed for these objects (not an equal-named other suite or case)."""
        return self.suite is suite and self.case is case


class Evaluator:
    """Turns (suite, prompt, case) into a CaseResult; never raises for model failures."""

    def __init__(self, llm: LLMService, *, model: str, judge_model: str, threshold: float) -> None:
        self.llm = llm
        self.model = model
        self.judge_model = judge_model
        self.default_threshold = threshold
        # Request hashes `prefetch` computed, taken by `sample` so nothing is hashed twice.
        self._keys: dict[tuple[str, str, str, int], PrefetchedKeys] = {}

    async def evaluate(
        self, suite: Suite, prompt_text: str, case: Case, *, samples: int | None = None
    ) -> CaseResult:
        """All samples of a case; an LLM failure becomes the result's `error`."""
        result = CaseResult(
            suite=suite.name,
            case_id=case.id,
            threshold=suite.threshold_for(case, self.default_threshold),
        )
        count = samples if samples is not None else suite.repeats_for(case)
        meter = UsageMeter()
        try:
            for k in range(count):
                meter = UsageMeter()
                result.samples.append(await self.sample(suite, prompt_text, case, k, meter))
        except PromptOptError as exc:
            result.error = str(exc)
            # The calls of the sample that failed were made (and paid for) all the same.
            result.unscored = meter.total.as_dict()
        finally:
            # Samples that never ran (an error, fewer samples asked for) leave no keys behind.
            for k in range(max(count, suite.repeats_for(case))):
                self._keys.pop((suite.name, prompt_text, case.id, k), None)
        return result

    def target_request(self, suite: Suite, prompt_text: str, case: Case, k: int) -> dict[str, Any]:
        """The request that asks the model under test for sample k of a case."""
        return build_request(
            model=suite.model or self.model,
            system=prompt_text,
            messages=[{"role": "user", "content": case.input or EMPTY_INPUT}],
            sample=k,
        )

    def judge_request(self, suite: Suite, case: Case, answer: str, k: int) -> dict[str, Any]:
        """The request that asks the judge to score sample k's answer (first attempt)."""
        return build_structured_request(
            model=self.judge_model,
            system=JUDGE_SYSTEM,
            instructions=JUDGE_INSTRUCTIONS,
            payload=self._judge_payload(suite, case, answer),
            tool=JUDGE_TOOL,
            sample=k,
        )

    @staticmethod
    def _judge_payload(suite: Suite, case: Case, answer: str) -> dict[str, Any]:
        return judge_payload(
            user_input=case.display_input,
            expected=case.expected,
            response=answer,
            task_description=suite.description,
        )

    def prefetch(self, jobs: Sequence[tuple[Suite, str, Case]]) -> None:
        """Load the cached answers and verdicts of these cases in two queries, before they run."""
        if self.llm.cache_mode not in ("use", "replay"):
            return
        samples = [
            (suite, prompt, case, k)
            for suite, prompt, case in jobs
            for k in range(suite.repeats_for(case))
        ]
        targets = [request_hash(self.target_request(s, p, c, k), k) for s, p, c, k in samples]
        answers = self.llm.store.preload(targets)
        judges: list[str] = []
        for (suite, prompt, case, k), key in zip(samples, targets, strict=True):
            keys = PrefetchedKeys(suite, case, key)
            hit = answers.get(key)
            if hit is not None and case.judge:
                text, _ = response_text(hit.response)
                judge = request_hash(self.judge_request(suite, case, text, k), k)
                keys = PrefetchedKeys(suite, case, key, text, judge)
                judges.append(judge)
            self._keys[(suite.name, prompt, case.id, k)] = keys
        self.llm.store.preload(judges)

    async def sample(
        self, suite: Suite, prompt_text: str, case: Case, k: int, meter: UsageMeter
    ) -> SampleResult:
        """One answer to the case, checked and (unless `judge: false`) judged.

        Every call's usage goes to `meter` as it is made (a retried judge answer included), so
        the caller knows what a sample that raised had already used.
        """
        label = f"{suite.name}[{case.id}]" + (f" sample {k}" if k else "")
        keys = self._keys.pop((suite.name, prompt_text, case.id, k), None)
        if keys is not None and not keys.fits(suite, case):
            keys = None
        answer = await self.llm.send(
            self.target_request(suite, prompt_text, case, k),
            k,
            role="target",
            label=label,
            key=keys.target if keys is not None else None,
        )
        meter.add(answer)
        checks = check_all(case.assertions, answer.text)
        verdict: JudgeVerdict | None = None
        judged = None
        if case.judge:
            verdict, judged = await self.llm.structured(
                role="judge",
                model=self.judge_model,
                system=JUDGE_SYSTEM,
                instructions=JUDGE_INSTRUCTIONS,
                payload=self._judge_payload(suite, case, answer.text),
                tool=JUDGE_TOOL,
                label=label,
                sample=k,
                key=keys.judge if keys is not None and keys.answer == answer.text else None,
                meter=meter,
            )
            score = overall_score(verdict, suite.criteria)
        else:
            score = sum(c.passed for c in checks) / len(checks) if checks else 1.0
        parts = [answer] + ([judged] if judged is not None else [])
        used = meter.total  # every call counts, a judge answer that was retried included
        return SampleResult(
            sample=k,
            response=answer.text,
            verdict=verdict,
            overall_score=round(score, 6),
            assertions=checks,
            cached=all(p.cached for p in parts),
            latency_ms=sum(p.latency_ms for p in parts),
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            cost_usd=used.cost_usd,
            calls=used.calls,
            cache_hits=used.cache_hits,
        )
