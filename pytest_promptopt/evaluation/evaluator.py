"""Evaluates one case of a suite against a prompt: samples, checks, judge, score."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_promptopt.errors import MissingCredentialsError, PromptOptError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import DEFAULT_TIMEOUT_S, OwnCode
from pytest_promptopt.evaluation.checks import check_all, checks_score
from pytest_promptopt.evaluation.judge import overall_score
from pytest_promptopt.evaluation.judge_calls import JudgeCalls
from pytest_promptopt.evaluation.prefetch import Prefetch, PrefetchedKeys
from pytest_promptopt.evaluation.produce import Produced, Producer
from pytest_promptopt.evaluation.results import CaseResult, SampleResult, item_name
from pytest_promptopt.evaluation.target import TargetCase
from pytest_promptopt.llm.completion import UsageMeter
from pytest_promptopt.llm.requests import refusal_note
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.protocol import Verdict
from pytest_promptopt.suites.spec import Case, Suite


class Evaluator:
    """Turns (suite, prompt, case) into a CaseResult; never raises for model failures."""

    def __init__(
        self,
        llm: LLMService,
        *,
        model: str,
        judge_model: str,
        threshold: float,
        user_model: str | None = None,
        target_workers: int = 8,
        judge_repeats: int = 1,
        check_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.llm = llm
        # The team's python checks and targets: off the loop, within --promptopt-check-timeout.
        self.own_code = OwnCode(timeout_s=check_timeout_s, workers=target_workers)
        self.producer = Producer(llm, self.own_code, user_model or judge_model)
        self.model = model
        self.default_threshold = threshold
        self.judge_calls = JudgeCalls(llm, model=judge_model, repeats=judge_repeats)
        self.prefetched = Prefetch(llm, self.judge_calls, model)

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
        result = self._new_result(suite, case)
        count = samples if samples is not None else suite.repeats_for(case)
        meter = UsageMeter()
        try:
            target = self.prefetched.target(suite, prompt_text, case)
            if target is None:
                target = self.target(suite, prompt_text, case)
            for k in range(first_sample, first_sample + count):
                meter = UsageMeter()
                result.samples.append(await self.sample(target, prompt_text, k, meter))
        except PromptOptError as exc:
            result.error = str(exc)
            if isinstance(exc, MissingCredentialsError):  # session-wide: said once at the end
                result.error = f"not run: {exc.cause}"
            result.error_source = getattr(exc, "what", None)
            result.error_traceback = getattr(exc, "user_traceback", None)
            # The calls of the sample that failed were made (and paid for) all the same.
            result.unscored = meter.total
        finally:
            # Samples that never ran (an error, fewer samples asked for) leave no keys behind.
            self.prefetched.drop(suite, prompt_text, case, max(count, suite.repeats_for(case)))
        return result

    def _new_result(self, suite: Suite, case: Case) -> CaseResult:
        """An empty result for a case, with its pass mark and criterion minimums."""
        return CaseResult(
            suite=suite.name,
            case_id=case.id,
            threshold=suite.threshold_for(case, self.default_threshold),
            minimums={n: c.min for n, c in suite.criteria.items() if c.min is not None},
            min_passes=suite.min_passes_for(case),
            gate=suite.gate_for(case),
        )

    async def judge_answer(
        self, suite: Suite, prompt_text: str, case: Case, answer: Answer, sample: int = 0
    ) -> CaseResult:
        """Check and judge an answer produced elsewhere (the team's test): judge calls only.

        `sample` tells apart the answers judged for one case (each its own evaluation row)."""
        result = self._new_result(suite, case)
        meter = UsageMeter()
        try:
            target = self.target(suite, prompt_text, case)
            produced = Produced(target.opening(), answer, latency_ms=0.0)
            label = item_name(suite.name, case.id)
            result.samples.append(await self.assess(target, produced, sample, label, meter))
        except PromptOptError as exc:
            result.error = str(exc)
            if isinstance(exc, MissingCredentialsError):  # session-wide: said once at the end
                result.error = f"not run: {exc.cause}"
            result.error_source = getattr(exc, "what", None)
            result.error_traceback = getattr(exc, "user_traceback", None)
            result.unscored = meter.total
        return result

    def target(self, suite: Suite, prompt_text: str, case: Case) -> TargetCase:
        """The case rendered with `prompt_text` (a template) for the model under test."""
        return TargetCase.render(suite, case, prompt_text, self.model)

    def prefetch(self, jobs: Sequence[tuple[Suite, str, Case]]) -> None:
        """Load the cached answers and verdicts of these cases in two queries, before they run."""
        self.prefetched.load(jobs)

    def close(self) -> None:
        """Let the sync targets' worker threads go."""
        self.producer.close()

    async def sample(
        self, target: TargetCase, prompt_text: str, k: int, meter: UsageMeter
    ) -> SampleResult:
        """One answer to the case (its last, for a `turns:` case), checked and judged.

        Every call's usage goes to `meter` as it is made (a retried judge answer included), so
        the caller knows what a sample that raised had already used.
        """
        suite, case = target.suite, target.case
        label = item_name(suite.name, case.id) + (f" sample {k}" if k else "")
        keys = self.prefetched.take(suite, prompt_text, case, k)
        key = keys.target if keys is not None else None
        produced = await self.producer.produce(target, k, label, key, meter)
        return await self.assess(target, produced, k, label, meter, keys)

    async def assess(
        self,
        target: TargetCase,
        produced: Produced,
        k: int,
        label: str,
        meter: UsageMeter,
        keys: PrefetchedKeys | None = None,
    ) -> SampleResult:
        """Check and judge an answer; the sample's result with every call's usage in `meter`."""
        suite, case = target.suite, target.case
        exchange, answer, max_tokens = produced.exchange, produced.answer, produced.max_tokens
        parts = list(produced.parts)
        # The meter holds the model under test's calls only here: the judge has not run yet.
        checks = await check_all(
            suite.checks_for(case), answer.for_checks(), case, meter.total, self.own_code
        )
        for said in produced.helpers:  # a simulated user's calls: the sample's, not the model's
            meter.add(said)
        verdict: Verdict | None = None
        spread: float | None = None
        flipped: bool | None = None
        # A refusal is a verdict of its own: never sent to the judge. It fails the case unless
        # the case expects it (a `stop_reason: refusal` check), which then passes on its checks.
        refused = refusal_note(answer.refusal) if answer.refused else None
        if refused is not None and _expects_refusal(suite, case):
            refused = None
            score = checks_score(checks)
        elif refused is not None:
            score = 0.0
        elif case.judge:
            verdict, spread, flipped, judged = await self.judge_calls.verdict(
                target,
                exchange,
                answer,
                k,
                label,
                meter,
                self._new_result(suite, case),  # the case's pass mark, minimums and gate
                key=keys.judge if keys and keys.answer == answer else None,
            )
            parts += judged
            score = overall_score(verdict.scores, suite.criteria)
        else:
            score = checks_score(checks)
        used = meter.total  # every call counts, a judge answer that was retried included
        return SampleResult(
            sample=k,
            response=answer.text,
            tool_calls=list(answer.tool_calls),
            trajectory=list(answer.trajectory) if answer.trajectory is not None else None,
            stop_reason=answer.stop_reason,
            max_tokens=max_tokens,
            verdict=verdict,
            overall_score=round(score, 6),
            assertions=checks,
            cached=all(p.cached for p in (*parts, *produced.helpers)),
            # A cached answer keeps the latency of the call that made it (marked `cached`).
            latency_ms=(
                sum(p.call_latency_ms for p in parts)
                if produced.latency_ms is None
                else produced.latency_ms
                + sum(p.call_latency_ms for p in parts[len(produced.parts) :])
            ),
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            cost_usd=used.cost_usd,
            calls=used.calls,
            cache_hits=used.cache_hits,
            judge_spread=spread,
            judge_flipped=flipped,
            refused=refused,
        )


def _expects_refusal(suite: Suite, case: Case) -> bool:
    """True when one of the case's checks is `stop_reason: refusal`."""
    return any(
        spec.kind == "stop_reason" and spec.value == "refusal" for spec in suite.checks_for(case)
    )
