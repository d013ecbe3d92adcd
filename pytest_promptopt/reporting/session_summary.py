"""The `promptopt` summary section: the verdict, one entry per suite, the gates and the reports.

Written by the session (to pytest's terminal reporter) and by `promptopt gate` (to stdout),
through anything with `write_sep` and `write_line`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
    from pytest_promptopt.evaluation.record import SuiteTotals
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.reporting.model import SuiteSummary
    from pytest_promptopt.reporting.verdict import SessionVerdict
    from pytest_promptopt.stats.pairwise import PairwiseComparison

PROMPT_CHARS = 90


def unnamed_shard_line(shard: tuple[int, int]) -> str:
    """What a shard says whose gates judged its own cases only (it joined no named run)."""
    return (
        f"shard {shard[0]}/{shard[1]} without a run name: the gates above judged this shard's "
        "cases only (--promptopt-run-name joins the shards into one run for `promptopt gate`)"
    )


class SuiteOutcome(Protocol):
    """A suite's optimization outcome as the summary shows it (one line)."""

    def describe(self) -> str:
        """One line for the terminal."""


def deferred_line(shard: tuple[int, int], run_name: str) -> str:
    """What a shard of several says of the suite-level gates it leaves to the gate job."""
    return (
        f"shard {shard[0]}/{shard[1]} of run {run_name!r}: the suite-level gates (pass rate, "
        f"baseline, variants, judge agreement) are deferred to `promptopt gate --run {run_name}`"
    )


@dataclass(frozen=True)
class SuiteLine:
    """What the summary says of one suite: its totals and one line on its prompt."""

    totals: SuiteTotals
    detail: str


def _score(value: float | None) -> str:
    """Two decimals, or a dash."""
    return "-" if value is None else f"{value:.2f}"


def _finalist_lines(reported: SuiteSummary | None) -> str:
    """Newline-led lines: each finalist's feedback and held-out scores, and the gate's verdict."""
    if reported is None or not reported.finalists:
        return ""
    from pytest_promptopt.reporting.verdict import plural

    lines = [
        f"{f.label}{' (best)' if f.best else ''}: feedback {_score(f.feedback)} "
        f"({plural(reported.feedback_cases, 'case')})"
        + (
            f", held-out {_score(f.holdout)} ({plural(reported.holdout_cases, 'case')})"
            if reported.holdout_cases
            else ", no held-out case"
        )
        for f in reported.finalists
    ]
    if reported.gate_verdict:
        lines.append(f"apply gate: {reported.gate_verdict}")
    return "".join(f"\n      {line}" for line in lines)


def suite_detail(
    outcome: SuiteOutcome | None, reported: SuiteSummary | None, prompt_text: str
) -> str:
    """The line under a suite's totals: the optimize outcome, else the prompt it judged.

    An optimized suite's finalists follow, one line each, feedback and held-out scores side by
    side, then the apply gate's verdict.
    """
    if outcome is not None:
        return outcome.describe() + _finalist_lines(reported)
    if reported is not None and reported.best_mean_score is not None:
        before = reported.original_mean_score or 0.0
        stop = f"; stopped by {reported.stopped_by}" if reported.stopped_by else ""
        return (
            f"optimized: {before:.2f} -> {reported.best_mean_score:.2f} on the given "
            f"cases (best #{reported.best_prompt_id}){stop}"
        ) + _finalist_lines(reported)
    if not prompt_text.strip():
        return ""
    first = prompt_text.strip().splitlines()[0]
    return f"prompt: {first[:PROMPT_CHARS]}{'...' if len(first) > PROMPT_CHARS else ''}"


def suite_lines(
    totals: Sequence[SuiteTotals],
    outcomes: Mapping[str, SuiteOutcome],
    reported: Mapping[str, SuiteSummary],
    prompt_texts: Mapping[str, str],
) -> list[SuiteLine]:
    """One entry per suite, from what this process knows and what the report read back."""
    lines = []
    for t in totals:
        summary = reported.get(t.name)
        text = prompt_texts.get(t.name) or (summary.prompt_text if summary is not None else "")
        lines.append(SuiteLine(t, suite_detail(outcomes.get(t.name), summary, text)))
    return lines


def variant_lines(
    records: Mapping[str, Sequence[CaseRecord]],
    pairwise: Mapping[str, PairwiseComparison] | None = None,
) -> list[str]:
    """Each suite's variants side by side (the lines after the suites)."""
    from pytest_promptopt.evaluation.variants import variant_comparisons

    lines: list[str] = []
    for suite in variant_comparisons(records, pairwise):
        lines += suite.lines()
    return lines


def xfail_reasons(records: Sequence[CaseRecord], gated: set[str]) -> list[str]:
    """`xfailed bad: flaky case ...`: the failing cases of a flaky or graded suite, with why
    (a failed gate lists its own cases in the verdict already)."""
    return [
        f"xfailed {r.case_id}: {r.reason}"
        for r in records
        if not r.passed
        and r.error is None
        and r.reason
        and (r.flaky or r.min_pass_rate is not None)
        and r.suite not in gated
    ]


def passing_gate_lines(gates: Sequence[PassRateRequirement]) -> list[str]:
    """The pass-rate gates that held (the failed ones lead the verdict)."""
    return ["pass-rate gate: " + g.describe() for g in gates if not g.failed]


def interval_line(t: SuiteTotals) -> str:
    """The suite's 95% intervals: pass rate (Wilson) and mean score (bootstrap)."""
    low, high = t.pass_rate_ci or (0.0, 0.0)
    text = f"95% intervals: pass rate {low:.0%}..{high:.0%} (Wilson)"
    if t.mean_score_ci is not None:
        text += f", mean score {t.mean_score_ci[0]:.2f}..{t.mean_score_ci[1]:.2f} (bootstrap)"
    return text


def baseline_lines(name: str, baselines: Mapping[str, BaselineResult] | None) -> list[str]:
    """Under --promptopt-baseline: the suite's verdict against its baseline, with the figures."""
    if baselines is None:
        return []
    result = baselines.get(name)
    if result is None:
        return [f"baseline: none for {name} (`promptopt bless` makes one)"]
    lines = [result.describe()]
    if result.comparison.pass_to_fail_cases:
        lines.append("pass->fail: " + ", ".join(result.comparison.pass_to_fail_cases))
    if result.pairwise is not None and result.pairwise.loss_cases:
        lines.append("judged worse in both orders: " + ", ".join(result.pairwise.loss_cases))
    return lines


class _SafeLines:
    """A terminal reporter whose `write_line` prints model and user text safely."""

    def __init__(self, reporter: Any) -> None:
        self._reporter = reporter

    def write_sep(self, sep: str, title: str) -> None:
        self._reporter.write_sep(sep, title)

    def write_line(self, line: str, **markup: bool) -> None:
        self._reporter.write_line(for_terminal(line), **markup)


def write_summary(
    reporter: Any,
    verdict: SessionVerdict,
    lines: Sequence[SuiteLine],
    report_dir: Path | None,
    baselines: Mapping[str, BaselineResult] | None = None,
    *,
    gates: Sequence[PassRateRequirement] = (),
    records: Mapping[str, Sequence[CaseRecord]] | None = None,
    after_suites: Sequence[str] = (),
    limit_history: str | None = None,
    agreement: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Write the `promptopt` section: the verdict's headline (session errors, failed gates with
    their cases, applied prompts, spend), then one line per suite with its detail and baseline
    verdict and its judge agreement, the gates that held, the variants (`after_suites`), how
    the concurrency limit moved (when it did), and the report path. Every line has its secrets
    redacted and its control characters escaped."""
    from pytest_promptopt.reporting.verdict import suite_headline

    reporter = _SafeLines(reporter)
    reporter.write_sep("=", "promptopt")
    for head in verdict.headline():
        reporter.write_line(head.text, red=head.bad)
    headlines = {s.suite: s.text for s in verdict.suites}
    records = records or {}
    gated = {g.suite for g in verdict.gates if g.kind == "pass-rate"}
    for line in lines:
        t = line.totals
        reporter.write_line(headlines.get(t.name) or suite_headline(t))
        if t.pass_rate_ci is not None:
            reporter.write_line("    " + interval_line(t))
        if line.detail:
            reporter.write_line("    " + line.detail)
        for text in baseline_lines(t.name, baselines):
            reporter.write_line("    " + text)
        if t.judge_reliability():
            reporter.write_line("    " + t.judge_reliability())
        for text in (agreement or {}).get(t.name, ()):
            reporter.write_line("    " + text)
        for reason in xfail_reasons(records.get(t.name, ()), gated):
            reporter.write_line("    " + reason)
    for extra in [*passing_gate_lines(gates), *after_suites]:
        reporter.write_line(extra)
    if limit_history:
        reporter.write_line(limit_history)
    if report_dir is not None:
        reporter.write_line(f"reports: {report_dir}")
