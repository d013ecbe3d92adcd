"""Evaluates one case of a suite against a prompt: samples, checks, judge, score."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import MissingCredentialsError, PromptOptError, SuiteError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import DEFAULT_TIMEOUT_S, OwnCode
from pytest_promptopt.evaluation.checks import check_all, checks_score
from pytest_promptopt.evaluation.judge import (
    judge_instructions,
    judge_payload,
    judge_spread,
    judge_system,
    judge_tool,
    median_verdict,
    overall_score,
    rubric,
    spec_prompt,
)
from pytest_promptopt.evaluation.results import (
    CaseResult,
    SampleResult,
    item_name,
    judge_shortfalls,
)
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.models import ModelRules
from pytest_promptopt.llm.requests import refusal_note, response_parts
from pytest_promptopt.llm.service import Completion, LLMService, UsageMeter
from pytest_promptopt.protocol import JUDGE_TOOL, Verdict
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.own_code import TargetRunner


@dataclass(frozen=True)
class Produced:
    """An answer to judge and how it came about: the conversation, the calls, their figures.

    `latency_ms` is the target function's own time when one produced the answer (None: the
    calls' latencies add up to it).
    """

    exchange: Exchange
    answer: Answer
    parts: list[Completion] = field(default_factory=list)
    max_tokens: int | None = None
    latency_ms: float | None = None


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

    def __init__(
        self,
        llm: LLMService,
        *,
        model: str,
        judge_model: str,
        threshold: float,
        target_workers: int = 8,
        judge_repeats: int = 1,
        check_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.llm = llm
        # The team's python checks and targets: off the loop, within --promptopt-check-timeout.
        self.own_code = OwnCode(timeout_s=check_timeout_s, workers=target_workers)
        self._targets_runner: TargetRunner | None = None
        self.model = model
        self.judge_model = judge_model
        self.default_threshold = threshold
        self.judge_repeats = judge_repeats
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
        result = self._new_result(suite, case)
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
            if isinstance(exc, MissingCredentialsError):  # session-wide: said once at the end
                result.error = f"not run: {exc.cause}"
            result.error_source = getattr(exc, "what", None)
            result.error_traceback = getattr(exc, "user_traceback", None)
            # The calls of the sample that failed were made (and paid for) all the same.
            result.unscored = meter.total
        finally:
            # Samples that never ran (an error, fewer samples asked for) leave no keys behind.
            for k in range(max(count, suite.repeats_for(case))):
                self._keys.pop((suite.name, prompt_text, case.id, k), None)
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

    def target_request(self, suite: Suite, prompt_text: str, case: Case, k: int) -> dict[str, Any]:
        """The (first) request that asks the model under test for sample k of a case."""
        return self.target(suite, prompt_text, case).first_request(k)

    def judge_request(
        self,
        target: TargetCase,
        exchange: Exchange,
        answer: Answer,
        k: int,
        repeat: int = 0,
        rules: ModelRules | None = None,
    ) -> dict[str, Any] | None:
        """The request that asks the judge to score sample k's answer (first attempt).

        Shaped for what the judge model accepts (`rules`, by default what the service already
        knows of it); None while that is not known yet. The body is the same for every k:
        the sample index is in the cache key only.
        """
        rules = rules or self.llm.known_profile(self.judge_model)
        if rules is None:
            return None
        return self.llm.structured_request(
            rules,
            role="judge",
            model=self.judge_model,
            **self._judge_call(target, exchange, answer, repeat),
        )

    @staticmethod
    def _judge_call(
        target: TargetCase, exchange: Exchange, answer: Answer, repeat: int = 0
    ) -> dict[str, Any]:
        """The judge call's system, instructions, payload and tool, from the suite's criteria.

        The spec is the suite's own description and prompt (never a candidate's); `repeat`
        tells the judge repeats of one answer apart.
        """
        own = rubric(target.suite.criteria, target.rendered.descriptions)
        payload = judge_payload(
            user_input=exchange.user_input,
            expected=target.rendered.expected,
            response=answer.text,
            task_description=target.suite.description,
            system_prompt=spec_prompt(target.suite, target.case),
            tool_calls=answer.judged_calls(),
            conversation=exchange.conversation,
            own_rubric=own,
            repeat=repeat,
        )
        return {
            "system": judge_system(),
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
            if suite.target is not None:
                continue  # the team's function builds its own requests: nothing to look up
            try:
                target = self.target(suite, prompt, case)
            except SuiteError:
                continue  # the case reports it as its error when it runs
            self._targets[(suite.name, prompt, case.id)] = target
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
                    self.judge_request(target, target.opening(), answer, k, r)
                    for r in range(self.judge_repeats)
                ]
                if all(r is not None for r in requests) and parts.stop_reason != "refusal":
                    hashes = [self.llm.key_of(r, k) for r in requests if r is not None]
                    keys = PrefetchedKeys(suite, case, key, answer, hashes[0])
                    judges += hashes
            self._keys[(suite.name, prompt, case.id, k)] = keys
        self.llm.store.preload(judges)

    async def _converse(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> Produced:
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
            if answer.stop_reason == "refusal":
                break  # a refused turn ends the conversation: it is the answer
        return Produced(exchange, Answer.of(answers[-1]), answers, int(request["max_tokens"]))

    def runner(self) -> TargetRunner:
        """The runner of `target` functions (wired to this evaluator's service on first use)."""
        if self._targets_runner is None:
            import asyncio

            from pytest_promptopt.evaluation.own_code import TargetRunner
            from pytest_promptopt.llm.wired import WiredClients

            clients = WiredClients(self.llm, asyncio.get_running_loop())
            self._targets_runner = TargetRunner(clients, code=self.own_code)
        return self._targets_runner

    def close(self) -> None:
        """Let the sync targets' worker threads go."""
        if self._targets_runner is not None:
            self._targets_runner.close()

    async def _from_target(
        self, target: TargetCase, k: int, label: str, meter: UsageMeter
    ) -> Produced:
        """Sample k's answer from the suite's `target` function, its calls counted in `meter`."""
        from pytest_promptopt.evaluation.own_code import CaseInput, resolve_target
        from pytest_promptopt.llm.wired import CallScope

        suite, case = target.suite, target.case
        fn, where = resolve_target(suite.target)
        exchange = target.opening()
        given = CaseInput(
            id=case.id,
            input=exchange.user_input,
            messages=[dict(m) for m in exchange.messages],
            vars={**suite.vars, **case.vars},
            category=case.category,
            sample=k,
        )
        scope = CallScope(label=label, sample=k, meter=meter)
        started = time.perf_counter()
        answer = await self.runner().call(fn, where, target.rendered.system or "", given, scope)
        elapsed = (time.perf_counter() - started) * 1000
        # A target served wholly from the cache keeps the time its calls took when made.
        fresh = not scope.answers or any(not p.cached for p in scope.answers)
        recorded = sum(p.call_latency_ms for p in scope.answers)
        return Produced(exchange, answer, scope.answers, None, elapsed if fresh else recorded)

    async def sample(
        self, target: TargetCase, prompt_text: str, k: int, meter: UsageMeter
    ) -> SampleResult:
        """One answer to the case (its last, for a `turns:` case), checked and judged.

        Every call's usage goes to `meter` as it is made (a retried judge answer included), so
        the caller knows what a sample that raised had already used.
        """
        suite, case = target.suite, target.case
        label = item_name(suite.name, case.id) + (f" sample {k}" if k else "")
        keys = self._keys.pop((suite.name, prompt_text, case.id, k), None)
        if keys is not None and not keys.fits(suite, case):
            keys = None
        if suite.target is not None:
            produced = await self._from_target(target, k, label, meter)
        else:
            produced = await self._converse(
                target, k, label, keys.target if keys is not None else None, meter
            )
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
        checks = await check_all(suite.checks_for(case), answer, case, meter.total, self.own_code)
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
            verdicts: list[Verdict] = []
            for repeat in range(self.judge_repeats):
                answered, judged = await self.llm.structured(
                    role="judge",
                    model=self.judge_model,
                    **self._judge_call(target, exchange, answer, repeat),
                    label=label + (f" judge repeat {repeat}" if repeat else ""),
                    sample=k,
                    key=keys.judge if repeat == 0 and keys and keys.answer == answer else None,
                    meter=meter,
                )
                parts.append(judged)
                verdicts.append(Verdict.of(answered))
            verdict = median_verdict(verdicts, suite.criteria)
            score = overall_score(verdict.scores, suite.criteria)
            spread, flipped = self._judge_agreement(target, verdicts)
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

    def _judge_agreement(
        self, target: TargetCase, verdicts: list[Verdict]
    ) -> tuple[float | None, bool | None]:
        """The spread of the repeats' overall scores, and whether their pass/fail disagreed
        (both None with one judge call)."""
        if len(verdicts) < 2:
            return None, None
        suite = target.suite
        rule = self._new_result(suite, target.case)  # the case's pass mark, minimums and gate
        overalls = [overall_score(v.scores, suite.criteria) for v in verdicts]
        passes = {
            o >= rule.threshold
            and not judge_shortfalls(v.scores, rule.minimums, rule.gate, rule.threshold)
            for o, v in zip(overalls, verdicts, strict=True)
        }
        return judge_spread(overalls), len(passes) > 1


def _expects_refusal(suite: Suite, case: Case) -> bool:
    """True when one of the case's checks is `stop_reason: refusal`."""
    return any(
        spec.kind == "stop_reason" and spec.value == "refusal" for spec in suite.checks_for(case)
    )
