"""Outcomes of evaluating a case: per sample, per case, with a human explanation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from pytest_promptopt.protocol import Verdict
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.records.trajectory import trajectory_lines
from pytest_promptopt.redaction import for_terminal


class AssertionResult(BaseModel):
    """The outcome of one deterministic check on one answer."""

    kind: str
    expected: str
    passed: bool
    detail: str = ""
    weight: float = 1.0


class SampleResult(BaseModel):
    """One sampled answer to a case, with its judgement and checks.

    `tool_calls` ({id, name, input}) and `stop_reason` are the answer's; `max_tokens` is the
    limit it was asked with (so a cut answer can say where it was cut). `refused` is the
    failure of an unexpected refusal (`refused by the model (category bio: ...)`), never judged.
    `trajectory` is the tool loop's steps (`evaluation.agent_loop`), None without a loop.
    """

    sample: int
    response: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    trajectory: list[dict[str, Any]] | None = None
    stop_reason: str | None = None
    max_tokens: int | None = None
    verdict: Verdict | None = None
    overall_score: float
    assertions: list[AssertionResult] = Field(default_factory=list)
    cached: bool = False
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    calls: int = 0
    cache_hits: int = 0
    judge_spread: float | None = None
    judge_flipped: bool | None = None
    refused: str | None = None

    @property
    def assertions_passed(self) -> bool:
        """True when every deterministic check passed (and the model did not refuse)."""
        return self.refused is None and all(a.passed for a in self.assertions)

    @property
    def truncated(self) -> bool:
        """True when the answer was cut at `max_tokens`."""
        return is_truncated(self.stop_reason)

    def truncation_note(self) -> str:
        """`answer cut at max_tokens (600)` for a cut answer, else ''."""
        return truncation_note(self.max_tokens) if self.truncated else ""

    @property
    def usage(self) -> Usage:
        """What this sample's calls spent: calls, cache hits, tokens, cost and time."""
        return Usage(
            calls=self.calls,
            cache_hits=self.cache_hits,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
        )


def is_truncated(stop_reason: str | None) -> bool:
    """True for an answer the API cut at `max_tokens`."""
    return stop_reason == "max_tokens"


def truncation_note(max_tokens: int | None = None) -> str:
    """What the failure text and the reports say of a cut answer."""
    return "answer cut at max_tokens" + (f" ({max_tokens})" if max_tokens is not None else "")


def judge_shortfalls(
    scores: Mapping[str, float],
    minimums: Mapping[str, float],
    gate: str | None,
    threshold: float,
) -> list[str]:
    """What keeps judged scores from passing whatever their mean: a criterion under its `min`,
    the gate criterion under the threshold (a criterion not in `scores` does not apply)."""
    out = [
        f"{name} {scores[name]:.2f} under its min {low:.2f}"
        for name, low in minimums.items()
        if name in scores and scores[name] < low
    ]
    if gate is not None and gate in scores and scores[gate] < threshold:
        out.append(f"{gate} {scores[gate]:.2f} under the threshold {threshold:.2f} (gate: {gate})")
    return out


def describe_calls(calls: list[dict[str, Any]]) -> str:
    """`lookup_order({"order": "123"}), refund({})` for tool calls."""
    return ", ".join(
        f"{c.get('name')}({json.dumps(c.get('input'), ensure_ascii=False)})" for c in calls
    )


def item_name(suite: str, case_id: str) -> str:
    """A case as its pytest item names it: `lib[dune]`, and a variant's `lib[dune@v1]`."""
    base, at, variant = suite.rpartition("@")
    if at and base:
        return f"{base}[{case_id}@{variant}]"
    return f"{suite}[{case_id}]"


class CaseResult(BaseModel):
    """The outcome of one case: its samples, mean score, pass mark and verdict.

    `minimums` are the criteria's own pass marks: a criterion under its minimum fails the
    case whatever the mean score. With `min_passes` (k-of-n) each sample passes or fails on its
    own score, checks and minimums, and the case passes when at least that many samples do.
    `gate` names the criterion (functionality) that must reach the threshold on its own, so
    an answer that misses the expected behaviour cannot pass on the other criteria. A
    criterion the judge found not applicable meets both.
    """

    suite: str
    case_id: str
    prompt_id: int | None = None
    test_case_id: int | None = None
    threshold: float
    samples: list[SampleResult] = Field(default_factory=list)
    error: str | None = None
    # An error in the team's own code: what raised (`target app:answer`) and its traceback.
    error_source: str | None = None
    error_traceback: str | None = None
    # What a case that errored spent before it failed (its samples were never scored).
    unscored: Usage = Field(default_factory=Usage)
    minimums: dict[str, float] = Field(default_factory=dict)
    min_passes: int | None = None
    gate: str | None = None

    @property
    def score(self) -> float:
        """Mean overall score over the samples (0 when there are none)."""
        if not self.samples:
            return 0.0
        return sum(s.overall_score for s in self.samples) / len(self.samples)

    @property
    def failed_assertions(self) -> list[AssertionResult]:
        """Checks that failed in any sample."""
        return [a for s in self.samples for a in s.assertions if not a.passed]

    @property
    def refusals(self) -> int:
        """How many samples the model refused (expected ones included)."""
        return sum(s.stop_reason == "refusal" for s in self.samples)

    @property
    def passed(self) -> bool:
        """True when there is no error, every check passed, the score meets the threshold and
        no criterion is under its minimum; with `min_passes`, when enough samples pass alone.
        An unexpected refusal fails its sample."""
        if self.error is not None or not self.samples:
            return False
        if self.min_passes is None and any(s.refused for s in self.samples):
            return False
        if self.min_passes is not None:
            return self.passing_samples >= self.min_passes
        return not self.failed_assertions and self.score >= self.threshold and not self.shortfalls()

    def sample_passed(self, sample: SampleResult) -> bool:
        """True when one sample passes on its own: checks, score vs threshold, minimums."""
        scores = sample.verdict.scores if sample.verdict is not None else {}
        return (
            sample.assertions_passed
            and sample.overall_score >= self.threshold
            and not self.shortfalls(scores)
        )

    @property
    def passing_samples(self) -> int:
        """How many samples pass on their own."""
        return sum(self.sample_passed(s) for s in self.samples)

    def k_of_n(self) -> str:
        """`3 of 5 samples passed, 4 needed` (a k-of-n case), else ''."""
        if self.min_passes is None:
            return ""
        return (
            f"{self.passing_samples} of {len(self.samples)} samples passed, "
            f"{self.min_passes} needed"
        )

    def criterion_means(self) -> dict[str, float]:
        """Mean of each judged criterion over the judged samples that scored it."""
        scores = [s.verdict.scores for s in self.samples if s.verdict is not None]
        names = dict.fromkeys(name for one in scores for name in one)
        means = {}
        for name in names:
            values = [one[name] for one in scores if name in one]
            means[name] = sum(values) / len(values)
        return means

    def not_applicable(self) -> list[str]:
        """The criteria the judge found not applicable in every judged sample."""
        verdicts = [s.verdict for s in self.samples if s.verdict is not None]
        names = dict.fromkeys(n for v in verdicts for n in v.not_applicable)
        return [n for n in names if all(n not in v.scores for v in verdicts)]

    def shortfalls(self, scores: Mapping[str, float] | None = None) -> list[str]:
        """`safety 0.60 under its min 0.80` for each criterion under its minimum or the gate.

        Judged on `scores` (one sample's) when given, else on the means over the samples.
        """
        scores = self.criterion_means() if scores is None else scores
        return judge_shortfalls(scores, self.minimums, self.gate, self.threshold)

    @property
    def judge_spread(self) -> float | None:
        """Mean judge spread over the samples judged more than once (None: none was)."""
        spreads = [s.judge_spread for s in self.samples if s.judge_spread is not None]
        return sum(spreads) / len(spreads) if spreads else None

    @property
    def judge_flipped(self) -> bool | None:
        """True when a sample's judge repeats disagreed on pass/fail (None: no repeats)."""
        flips = [s.judge_flipped for s in self.samples if s.judge_flipped is not None]
        return any(flips) if flips else None

    def totals(self) -> Usage:
        """Calls, cache hits, tokens, cost and latency of the samples and of a failed one.

        The cost is None (unknown) when any call was to a model without a known price.
        """
        total = self.unscored
        for sample in self.samples:
            total += sample.usage
        return total

    def explain(self, max_response_chars: int = 400) -> str:
        """A readable account: score, threshold, criteria, reasoning, failed checks, answer;
        secrets redacted and control characters written out (`\\x1b`)."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"{item_name(self.suite, self.case_id)} {verdict}: score {self.score:.2f} "
            f"(threshold {self.threshold:.2f}, {len(self.samples)} sample(s))"
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.k_of_n():
            lines.append(f"  {self.k_of_n()}")
        means = self.criterion_means()
        if means:
            shown = [f"{k}={v:.2f}" for k, v in means.items()]
            lines.append("  " + "  ".join(shown + [f"{k}=n/a" for k in self.not_applicable()]))
        lines += [f"  {short}" for short in self.shortfalls()]
        if self.judge_spread is not None:
            flipped = ", its verdict flipped" if self.judge_flipped else ""
            lines.append(f"  judge spread {self.judge_spread:.2f} over repeats{flipped}")
        for s in self.samples:
            if s.verdict is not None:
                prefix = f"  judge (sample {s.sample}): " if len(self.samples) > 1 else "  judge: "
                lines.append(prefix + s.verdict.reasoning)
        for s in self.samples:
            if s.refused:
                where = f" (sample {s.sample})" if len(self.samples) > 1 else ""
                lines.append(f"  {s.refused}{where}")
        for a in self.failed_assertions:
            lines.append(
                f"  failed check: {a.kind} {a.expected}" + (f" ({a.detail})" if a.detail else "")
            )
        for s in self.samples:
            if s.truncated:
                where = f" (sample {s.sample})" if len(self.samples) > 1 else ""
                lines.append(f"  {s.truncation_note()}{where}")
        if self.samples and self.samples[0].trajectory:
            lines += ["  " + line for line in trajectory_lines(self.samples[0].trajectory)]
        elif self.samples and self.samples[0].tool_calls:
            lines.append("  tool calls: " + describe_calls(self.samples[0].tool_calls))
        if self.samples:
            answer = self.samples[0].response
            if len(answer) > max_response_chars:
                answer = answer[:max_response_chars] + f"... [{len(answer)} chars]"
            lines.append("  answer: " + answer.replace("\n", "\n          "))
        # Printed by pytest or by a team's own `assert ..., result.explain()`: safe to print.
        return for_terminal("\n".join(lines))
