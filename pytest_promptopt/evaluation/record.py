"""The one per-case record: what a judged case's item reports, and the suite totals built from it.

A `CaseRecord` travels from the process that judged the case to the one that summarizes it as
the item's `user_properties` (which JUnit XML and pytest-xdist carry), so it turns into flat
`promptopt_*` properties and back. The terminal summary, the reports and the CLI all read it;
`SuiteTotals.of` is the only place suite totals are computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from pytest_promptopt.evaluation import RECORD_KEY
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.llm.pricing import sum_costs
from pytest_promptopt.redaction import redact
from pytest_promptopt.stats import CaseOutcome, mean_interval, wilson_interval

PREFIX = "promptopt_"
PASS_RATE_REASON = "counts against the suite's pass rate"
"""How the reason of a failing case in a suite graded by its pass rate begins."""

_INT_FIELDS = ("calls", "cache_hits", "input_tokens", "output_tokens")
_OPTIONAL_FIELDS = ("min_pass_rate", "variant", "variant_rank", "reason", "flaky", "sample")
"""Fields sent only when set, so a plain case's properties stay as they were."""
RESERVED_NAMES = frozenset(
    {
        "suite",
        "case",
        "refusals",
        "prompt_id",
        "score",
        "threshold",
        "passed",
        "error",
        "cost_usd",
        "judge_spread",
        "judge_flipped",
        *_INT_FIELDS,
        *_OPTIONAL_FIELDS,
    }
)
"""Property names of the record's own fields; every other `promptopt_<name>` is a criterion."""


class CaseRecord(BaseModel):
    """One judged case: its outcome, score per criterion, calls, tokens and cost.

    `min_pass_rate` is its suite's pass-rate gate (the suite's own, else the configured one);
    `variant` and `variant_rank` (0 for the first) name the variant a `suite@variant` ran.
    """

    suite: str
    case_id: str
    prompt_id: int | None = None
    score: float
    threshold: float
    passed: bool
    error: str | None = None
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    criteria: dict[str, float] = Field(default_factory=dict)
    min_pass_rate: float | None = None
    variant: str | None = None
    variant_rank: int | None = None
    # A case that did not pass: why (its headline, k-of-n count, gate); whether it is flaky.
    reason: str | None = None
    flaky: bool | None = None
    # `promptopt.judge` only: which of the answers judged for this case (0 for the first).
    sample: int | None = None
    # Judge repeats only: the mean spread of the samples' repeats, and whether any flipped.
    judge_spread: float | None = None
    judge_flipped: bool | None = None
    refusals: int = 0  # samples the model refused (`stop_reason: refusal`), expected or not

    @classmethod
    def from_result(
        cls,
        result: CaseResult,
        *,
        min_pass_rate: float | None = None,
        variant: str | None = None,
        variant_rank: int | None = None,
        flaky: bool | None = None,
    ) -> CaseRecord:
        """The record of an evaluated case (with its suite's gate and variant, when any)."""
        totals = result.totals()
        return cls(
            min_pass_rate=min_pass_rate,
            reason=failure_reason(result, min_pass_rate, flaky),
            flaky=flaky or None,
            sample=judged_sample(result),
            variant=variant,
            variant_rank=variant_rank,
            suite=result.suite,
            case_id=result.case_id,
            prompt_id=result.prompt_id,
            score=round(result.score, 4),
            threshold=result.threshold,
            passed=result.passed,
            # Travels in user_properties to JUnit XML and the controller: never with a secret.
            error=None if result.error is None else redact(result.error),
            calls=int(totals["calls"] or 0),
            cache_hits=int(totals["cache_hits"] or 0),
            input_tokens=int(totals["input_tokens"] or 0),
            output_tokens=int(totals["output_tokens"] or 0),
            cost_usd=None if (cost := totals["cost_usd"]) is None else round(cost, 6),
            criteria={k: round(v, 4) for k, v in result.criterion_means().items()},
            judge_spread=None if result.judge_spread is None else round(result.judge_spread, 4),
            judge_flipped=result.judge_flipped,
            refusals=result.refusals,
        )

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @property
    def outcome(self) -> str:
        """`error`, `passed` or `failed`."""
        if self.error is not None:
            return "error"
        return "passed" if self.passed else "failed"

    def to_properties(self) -> list[tuple[str, object]]:
        """Flat `promptopt_*` pairs for `user_properties`, each criterion as `promptopt_<name>`."""
        props: list[tuple[str, object]] = [
            (RECORD_KEY, self.suite),
            (f"{PREFIX}case", self.case_id),
            (f"{PREFIX}prompt_id", self.prompt_id),
            (f"{PREFIX}score", self.score),
            (f"{PREFIX}threshold", self.threshold),
            (f"{PREFIX}passed", self.passed),
            (f"{PREFIX}error", self.error or ""),
            *((f"{PREFIX}{name}", getattr(self, name)) for name in _INT_FIELDS),
            # an unknown cost travels as "" (JUnit XML and xdist carry no None reliably)
            (f"{PREFIX}cost_usd", "" if self.cost_usd is None else self.cost_usd),
        ]
        props += [
            (f"{PREFIX}{name}", getattr(self, name))
            for name in _OPTIONAL_FIELDS
            if getattr(self, name) is not None
        ]
        if self.refusals:  # sent only when there were any
            props.append((f"{PREFIX}refusals", self.refusals))
        if self.judge_spread is not None:
            props += [
                (f"{PREFIX}judge_spread", self.judge_spread),
                (f"{PREFIX}judge_flipped", bool(self.judge_flipped)),
            ]
        props += [(f"{PREFIX}{k}", v) for k, v in self.criteria.items()]
        return props

    @classmethod
    def from_properties(cls, props: Iterable[tuple[str, object]]) -> list[CaseRecord]:
        """The records in a report's `user_properties` (other properties are ignored)."""
        groups: list[dict[str, Any]] = []
        for key, value in props:
            if key == RECORD_KEY:
                groups.append({"criteria": {}})
            if not groups or not key.startswith(PREFIX):
                continue
            name = key.removeprefix(PREFIX)
            if name in RESERVED_NAMES:
                groups[-1]["case_id" if name == "case" else name] = value
            else:
                groups[-1]["criteria"][name] = value
        for group in groups:
            group["error"] = group.get("error") or None
            if group.get("cost_usd") == "":
                group["cost_usd"] = None
        return [cls.model_validate(g) for g in groups]


class SuiteTotals(BaseModel):
    """One suite's figures: cases by outcome, mean score, pass rate, calls, tokens and cost.

    `pass_rate_ci` is the pass rate's 95% Wilson interval, `mean_score_ci` a seeded 95%
    bootstrap interval of the mean score (None with fewer than 2 judged cases).
    """

    name: str
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    mean_score: float | None = Field(
        None, description="Over the cases that did not error; None when every case errored."
    )
    pass_rate: float = 0.0
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    pass_rate_ci: tuple[float, float] | None = None
    mean_score_ci: tuple[float, float] | None = None
    # Judge reliability under judge repeats (None without): the mean spread of a case's
    # repeats (max - min overall score) and the share of cases whose verdict flipped.
    judge_spread: float | None = None
    judge_flip_rate: float | None = None
    refusals: int = 0

    @classmethod
    def of(cls, name: str, records: Sequence[CaseRecord]) -> SuiteTotals:
        """Totals of one suite's records (the mean score is over the cases that did not error)."""
        judged = [r.score for r in records if r.error is None]
        passed = sum(r.passed for r in records)
        repeated = [r for r in records if r.judge_spread is not None]
        return cls(
            name=name,
            cases=len(records),
            passed=passed,
            failed=sum(r.outcome == "failed" for r in records),
            errors=sum(r.error is not None for r in records),
            mean_score=sum(judged) / len(judged) if judged else None,
            pass_rate=passed / len(records) if records else 0.0,
            calls=sum(r.calls for r in records),
            cache_hits=sum(r.cache_hits for r in records),
            input_tokens=sum(r.input_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
            cost_usd=sum_costs(r.cost_usd for r in records),
            pass_rate_ci=wilson_interval(passed, len(records)),
            mean_score_ci=mean_interval(judged),
            judge_spread=(
                sum(r.judge_spread or 0.0 for r in repeated) / len(repeated) if repeated else None
            ),
            judge_flip_rate=(
                sum(bool(r.judge_flipped) for r in repeated) / len(repeated) if repeated else None
            ),
            refusals=sum(r.refusals for r in records),
        )

    def judge_reliability(self) -> str:
        """`judge spread 0.08, verdict flipped in 10% of cases` ('' without judge repeats)."""
        if self.judge_spread is None or self.judge_flip_rate is None:
            return ""
        return (
            f"judge spread {self.judge_spread:.2f}, verdict flipped in "
            f"{self.judge_flip_rate:.0%} of cases"
        )

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


def judged_sample(result: CaseResult) -> int | None:
    """The sample index of a single-sample result when it is not 0 (a later answer judged)."""
    if len(result.samples) == 1 and result.samples[0].sample:
        return int(result.samples[0].sample)
    return None


def failure_reason(
    result: CaseResult, min_pass_rate: float | None, flaky: bool | None
) -> str | None:
    """Why a case did not pass, in one line: what it counts against, its score against the
    threshold, criteria under their minimum or the gate, failed checks, the samples passed."""
    if result.passed:
        return None
    if result.error is not None:
        return result.error
    if result.score < result.threshold:
        score = f"score {result.score:.2f} under the threshold {result.threshold:.2f}"
    else:
        score = f"score {result.score:.2f} (threshold {result.threshold:.2f})"
    parts = [score, *result.shortfalls()]
    checks = dict.fromkeys(f"{a.kind} {a.expected}" for a in result.failed_assertions)
    parts += [f"failed check: {c}" for c in checks]
    if result.k_of_n():
        parts.append(result.k_of_n())
    text = "; ".join(parts)
    if flaky:
        return f"flaky case (never fails the session): {text}"
    if min_pass_rate is not None:
        return f"{PASS_RATE_REASON} (min_pass_rate {min_pass_rate:.0%}): {text}"
    return text


def case_outcomes(records: Iterable[CaseRecord]) -> dict[str, CaseOutcome]:
    """Case id -> (score, passed) for `stats.compare_runs`; a case that errored is left out."""
    return {r.case_id: CaseOutcome(r.score, r.passed) for r in records if r.error is None}


def by_suite(records: Iterable[CaseRecord]) -> dict[str, list[CaseRecord]]:
    """Records grouped by suite, in the order suites were first seen."""
    grouped: dict[str, list[CaseRecord]] = {}
    for record in records:
        grouped.setdefault(record.suite, []).append(record)
    return grouped
