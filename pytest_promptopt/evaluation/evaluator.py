"""Evaluates one case of a suite against a prompt: samples, checks, judge, score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_promptopt.errors import PromptOptError, SuiteError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.checks import check_all, checks_score
from pytest_promptopt.evaluation.judge import (
    judge_instructions,
    judge_payload,
    judge_system,
    judge_tool,
    overall_score,
    rubric,
)
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.requests import build_structured_request, request_hash, response_parts
from pytest_promptopt.llm.service import Completion, LLMService, UsageMeter
from pytest_promptopt.protocol import JUDGE_TOOL, Verdict
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


class Evaluator:
    """Turns (suite, prompt, case) into a CaseResult; never raises for model failures."""

    def __init__(self, llm: LLMService, *, model: str, judge_model: str, threshold: float) -> None:
        self.llm = llm
        self.model = model
        self.judge_model = judge_model
        self.default_threshold = threshold
        # Request hashes `prefetch` computed, taken by `sample` so nothing is hashed twice.
        self._keys: dict[tuple[str, str, str, int], PrefetchedKeys] = {}
        # Cases `prefetch` rendered, taken by `evaluate` so nothing is rendered twice.
        self._targets: dict[tuple[str, str, str], TargetCase] = {}

    async def evaluate(
        self,
        suite: Suite,
        prompt_text: str,
        case: Case,
        *,
        samples: int | None = None,
        first_sample: int = 0,
    ) -> CaseResult:
        """All samples of a case; an LLM failure (or a case that cannot render) is `error`.

        `first_sample` > 0 draws fresh samples (new sample indexes, so new cache keys).
        """
        result = CaseResult(
            suite=suite.name,
            case_id=case.id,
            threshold=suite.threshold_for(case, self.default_threshold),
            minimums={n: c.min for n, c in suite.criteria.items() if c.min is not None},
        )
        count = samples if samples is not None else suite.repeats_for(case)
        meter = UsageMeter()
        try:
            target = self._targets.pop((suite.name, prompt_text, case.id), None)
            if target is None or target.suite is not suite or target.case is not case:
                target = self.target(suite, prompt_text, case)
            for k in range(first_sample, first_sample + count):
                meter = UsageMeter()
                result.samples.append(await self.sample(target, prompt_text, k, meter))
        except PromptOptError as exc:
            result.error = str(exc)
            # The calls of the sample that failed were made (and paid for) all the same.
            result.unscored = meter.total.as_dict()
        finally:
            # Samples that never ran (an error, fewer samples asked for) leave no keys behind.
            for k in range(max(count, suite.repeats_for(case))):
                self._keys.pop((suite.name, prompt_text, case.id, k), None)
        return result

    def target(self, suite: Suite, prompt_text: str, case: Case) -> TargetCase:
        """The case rendered with `prompt_text` (a template) for the model under test."""
        return TargetCase.render(suite, case, prompt_text, self.model)

    def target_request(self, suite: Suite, prompt_text: str, case: Case, k: int) -> dict[str, Any]:
        """The (first) request that asks the model under test for sample k of a case."""
        return self.target(suite, prompt_text, case).first_request(k)

    def judge_request(
        self, target: TargetCase, exchange: Exchange, answer: Answer, k: int
    ) -> dict[str, Any]:
        """The request that asks the judge to score sample k's answer (first attempt)."""
        return build_structured_request(
            model=self.judge_model, **self._judge_call(target, exchange, answer), sample=k
        )

    @staticmethod
    def _judge_call(target: TargetCase, exchange: Exchange, answer: Answer) -> dict[str, Any]:
        """The judge call's system, instructions, payload and tool, from the suite's criteria."""
        own = rubric(target.suite.criteria, target.rendered.descriptions)
        payload = judge_payload(
            user_input=exchange.user_input,
            expected=target.rendered.expected,
            response=answer.text,
            task_description=target.suite.description,
            tool_calls=answer.judged_calls(),
            conversation=exchange.conversation,
            own_rubric=own,
        )
        return {
            "system": judge_system(own),
            "instructions": judge_instructions(payload),
            "payload": payload,
            "tool": JUDGE_TOOL,
            "tool_model": judge_tool(own),
        }

    def prefetch(self, jobs: Sequence[tuple[Suite, str, Case]]) -> None:
        """Load the cached answers and verdicts of these cases in two queries, before they run.

        Only a case's first call is looked up ahead: a later turn depends on earlier answers.
        """
        if self.llm.cache_mode not in ("use", "replay"):
            return
        samples: list[tuple[TargetCase, str, int]] = []
        for suite, prompt, case in jobs:
            try:
                target = self.target(suite, prompt, case)
            except SuiteError:
                continue  # the case reports it as its error when it runs
            self._targets[(suite.name, prompt, case.id)] = target
            samples += [(target, prompt, k) for k in range(suite.repeats_for(case))]
        targets = [request_hash(t.first_request(k), k) for t, _, k in samples]
        answers = self.llm.store.preload(targets)
        judges: list[str] = []
        for (target, prompt, k), key in zip(samples, targets, strict=True):
            suite, case = target.suite, target.case
            keys = PrefetchedKeys(suite, case, key)
            hit = answers.get(key)
            if hit is not None and case.judge and target.turn_count == 1:
                parts = response_parts(hit.response)
                answer = Answer(parts.text, parts.tool_calls, parts.stop_reason)
                judge = request_hash(self.judge_request(target, target.opening(), answer, k), k)
                keys = PrefetchedKeys(suite, case, key, answer, judge)
                judges.append(judge)
            self._keys[(suite.name, prompt, case.id, k)] = keys
        self.llm.store.preload(judges)

    async def _converse(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> tuple[Exchange, list[Completion], int]:
        """Every call of sample k: the last exchange, the answers and the last `max_tokens`."""
        exchange = target.opening()
        answers: list[Completion] = []
        request: dict[str, Any] = {}
        for turn in range(target.turn_count):
            if turn:
                exchange = target.next_turn(exchange, answers[-1], turn)
            request = target.request(exchange, k)
            answer = await self.llm.send(
                request,
                k,
                role="target",
                label=label + (f" turn {turn + 1}" if target.turn_count > 1 else ""),
                key=key if turn == 0 else None,
            )
            answers.append(meter.add(answer))
        return exchange, answers, int(request["max_tokens"])

    async def sample(
        self, target: TargetCase, prompt_text: str, k: int, meter: UsageMeter
    ) -> SampleResult:
        """One answer to the case (its last, for a `turns:` case), checked and judged.

        Every call's usage goes to `meter` as it is made (a retried judge answer included), so
        the caller knows what a sample that raised had already used.
        """
        suite, case = target.suite, target.case
        label = f"{suite.name}[{case.id}]" + (f" sample {k}" if k else "")
        keys = self._keys.pop((suite.name, prompt_text, case.id, k), None)
        if keys is not None and not keys.fits(suite, case):
            keys = None
        exchange, parts, max_tokens = await self._converse(
            target, k, label, keys.target if keys is not None else None, meter
        )
        answer = Answer.of(parts[-1])
        # The meter holds the model under test's calls only here: the judge has not run yet.
        checks = await check_all(suite.checks_for(case), answer, case, meter.total)
        verdict: Verdict | None = None
        if case.judge:
            answered, judged = await self.llm.structured(
                role="judge",
                model=self.judge_model,
                **self._judge_call(target, exchange, answer),
                label=label,
                sample=k,
                key=keys.judge if keys is not None and keys.answer == answer else None,
                meter=meter,
            )
            parts.append(judged)
            verdict = Verdict.of(answered)
            score = overall_score(verdict.scores, suite.criteria)
        else:
            score = checks_score(checks)
        used = meter.total  # every call counts, a judge answer that was retried included
        return SampleResult(
            sample=k,
            response=answer.text,
            tool_calls=list(answer.tool_calls),
            stop_reason=answer.stop_reason,
            max_tokens=max_tokens,
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
