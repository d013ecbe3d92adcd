"""The judge's calls for one answer: their request, the repeats, their median and agreement."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.evaluation.answer import Answer
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
from pytest_promptopt.evaluation.results import CaseResult, judge_shortfalls
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.completion import Completion, UsageMeter
from pytest_promptopt.llm.models import ModelRules
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.protocol import JUDGE_TOOL, Verdict
from pytest_promptopt.records.trajectory import judged_trajectory


def judge_call(
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
        trajectory=(
            judged_trajectory(answer.trajectory) if answer.trajectory is not None else None
        ),
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


class JudgeCalls:
    """Asks the judge model for verdicts on answers, `repeats` times each."""

    def __init__(self, llm: LLMService, *, model: str, repeats: int) -> None:
        self.llm = llm
        self.model = model
        self.repeats = repeats

    def request(
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
        rules = rules or self.llm.known_profile(self.model)
        if rules is None:
            return None
        return self.llm.structured_request(
            rules,
            role="judge",
            model=self.model,
            **judge_call(target, exchange, answer, repeat),
        )

    async def verdict(
        self,
        target: TargetCase,
        exchange: Exchange,
        answer: Answer,
        k: int,
        label: str,
        meter: UsageMeter,
        rule: CaseResult,
        key: str | None = None,
    ) -> tuple[Verdict, float | None, bool | None, list[Completion]]:
        """The median verdict of the repeats, their spread, whether their pass/fail disagreed,
        and the judge's completions; every call's usage goes to `meter`.

        `rule` holds the case's pass mark, minimums and gate; `key` is the first repeat's
        request hash when prefetched.
        """
        verdicts: list[Verdict] = []
        parts: list[Completion] = []
        for repeat in range(self.repeats):
            answered, judged = await self.llm.structured(
                role="judge",
                model=self.model,
                **judge_call(target, exchange, answer, repeat),
                label=label + (f" judge repeat {repeat}" if repeat else ""),
                sample=k,
                key=key if repeat == 0 else None,
                meter=meter,
            )
            parts.append(judged)
            verdicts.append(Verdict.of(answered))
        spread, flipped = agreement(target, verdicts, rule)
        return median_verdict(verdicts, target.suite.criteria), spread, flipped, parts


def agreement(
    target: TargetCase, verdicts: list[Verdict], rule: CaseResult
) -> tuple[float | None, bool | None]:
    """The spread of the repeats' overall scores, and whether their pass/fail disagreed
    (both None with one judge call)."""
    if len(verdicts) < 2:
        return None, None
    criteria = target.suite.criteria
    overalls = [overall_score(v.scores, criteria) for v in verdicts]
    passes = {
        o >= rule.threshold
        and not judge_shortfalls(v.scores, rule.minimums, rule.gate, rule.threshold)
        for o, v in zip(overalls, verdicts, strict=True)
    }
    return judge_spread(overalls), len(passes) > 1
