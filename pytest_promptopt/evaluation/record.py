"""A judged case's record built from its result, and the suite totals built from records.

`case_record` is how an evaluated case becomes the shared `records.case.CaseRecord` that its
item reports; `SuiteTotals.of` is the only place suite totals are computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.records.totals import Totals
from pytest_promptopt.redaction import redact
from pytest_promptopt.stats import CaseOutcome, mean_interval, wilson_interval

PASS_RATE_REASON = "counts against the suite's pass rate"
"""How the reason of a failing case in a suite graded by its pass rate begins."""


def case_record(
    result: CaseResult,
    *,
    min_pass_rate: float | None = None,
    min_judge_agreement: float | None = None,
    variant: str | None = None,
    variant_rank: int | None = None,
    flaky: bool | None = None,
    cluster: str | None = None,
    comparison: str | None = None,
) -> CaseRecord:
    """The record of an evaluated case (with its suite's gates, variant, cluster, comparison)."""
    spent = result.totals()
    return CaseRecord(
        min_pass_rate=min_pass_rate,
        min_judge_agreement=min_judge_agreement,
        comparison=comparison,
        reason=failure_reason(result, min_pass_rate, flaky),
        flaky=flaky or None,
        sample=judged_sample(result),
        variant=variant,
        variant_rank=variant_rank,
        cluster=cluster,
        suite=result.suite,
        case_id=result.case_id,
        prompt_id=result.prompt_id,
        score=round(result.score, 4),
        threshold=result.threshold,
        passed=result.passed,
        # Travels in user_properties to JUnit XML and the controller: never with a secret.
        error=None if result.error is None else redact(result.error),
        calls=spent.calls,
        cache_hits=spent.cache_hits,
        input_tokens=spent.input_tokens,
        output_tokens=spent.output_tokens,
        cost_usd=None if spent.cost_usd is None else round(spent.cost_usd, 6),
        criteria={k: round(v, 4) for k, v in result.criterion_means().items()},
        judge_spread=None if result.judge_spread is None else round(result.judge_spread, 4),
        judge_flipped=result.judge_flipped,
        refusals=result.refusals,
    )


class SuiteTotals(Totals):
    """One suite's totals, with the statistics and the judge reliability the reports show.

    `pass_rate_ci` is the pass rate's 95% Wilson interval, `mean_score_ci` a seeded 95%
    bootstrap interval of the mean score (None with fewer than 2 judged cases).
    """

    name: str
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
        totals = Totals.of_cases(records)
        repeated = [r for r in records if r.judge_spread is not None]
        return cls(
            **totals.model_dump(),
            name=name,
            pass_rate_ci=wilson_interval(totals.passed, totals.cases),
            mean_score_ci=mean_interval([r.score for r in records if r.error is None]),
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
    """Case id -> (score, passed, cluster) for `stats.compare_runs`; errored cases left out."""
    return {
        r.case_id: CaseOutcome(r.score, r.passed, cluster=r.cluster or "")
        for r in records
        if r.error is None
    }


def by_suite(records: Iterable[CaseRecord]) -> dict[str, list[CaseRecord]]:
    """Records grouped by suite, in the order suites were first seen."""
    grouped: dict[str, list[CaseRecord]] = {}
    for record in records:
        grouped.setdefault(record.suite, []).append(record)
    return grouped
