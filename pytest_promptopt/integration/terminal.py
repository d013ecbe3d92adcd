"""Per-case figures gathered from test reports, and the `promptopt` terminal-summary section."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_promptopt.integration.session import PromptOptSession


@dataclass
class CaseRecord:
    """One judged case as its item's report tells it."""

    suite: str
    case_id: str
    score: float
    threshold: float
    passed: bool
    error: str
    calls: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    prompt_id: int | None
    criteria: dict[str, float] = field(default_factory=dict)


@dataclass
class SuiteTotals:
    """The figures of one suite in the summary line."""

    name: str
    cases: int = 0
    passed: int = 0
    errors: int = 0
    score_sum: float = 0.0
    calls: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    @property
    def mean_score(self) -> float:
        """Mean score over the cases that were judged."""
        judged = self.cases - self.errors
        return self.score_sum / judged if judged else 0.0

    @property
    def pass_rate(self) -> float:
        """Share of cases that passed."""
        return self.passed / self.cases if self.cases else 0.0


def _records(props: list[tuple[str, object]]) -> list[CaseRecord]:
    """Split a report's user_properties into case records (one per `promptopt_suite` group)."""
    groups: list[dict[str, Any]] = []
    for key, value in props:
        if not key.startswith("promptopt_"):
            continue
        if key == "promptopt_suite":
            groups.append({})
        if groups:
            groups[-1][key.removeprefix("promptopt_")] = value
    criteria_keys = ("functionality", "safety", "consistency", "edge_case_handling")
    return [
        CaseRecord(
            suite=str(g["suite"]),
            case_id=str(g.get("case", "")),
            score=float(g.get("score", 0.0)),
            threshold=float(g.get("threshold", 0.0)),
            passed=bool(g.get("passed", False)),
            error=str(g.get("error", "")),
            calls=int(g.get("calls", 0)),
            cache_hits=int(g.get("cache_hits", 0)),
            input_tokens=int(g.get("input_tokens", 0)),
            output_tokens=int(g.get("output_tokens", 0)),
            cost_usd=float(g.get("cost_usd", 0.0)),
            prompt_id=int(g["prompt_id"]) if g.get("prompt_id") is not None else None,
            criteria={k: float(g[k]) for k in criteria_keys if k in g},
        )
        for g in groups
    ]


class SummaryCollector:
    """Gathers case records from reports: the call phase, or the setup phase when it errored."""

    def __init__(self) -> None:
        self.cases: dict[tuple[str, str], CaseRecord] = {}

    def add(self, report: pytest.TestReport) -> None:
        """Take the case records of a report once per item."""
        if report.when == "call" or (report.when == "setup" and report.failed):
            for record in _records(list(report.user_properties)):
                self.cases[(record.suite, record.case_id)] = record

    def suites(self) -> dict[str, SuiteTotals]:
        """Totals per suite, in the order suites were first seen."""
        totals: dict[str, SuiteTotals] = {}
        for r in self.cases.values():
            t = totals.setdefault(r.suite, SuiteTotals(r.suite))
            t.cases += 1
            t.passed += r.passed
            t.errors += bool(r.error)
            t.score_sum += 0.0 if r.error else r.score
            t.calls += r.calls
            t.cache_hits += r.cache_hits
            t.tokens += r.input_tokens + r.output_tokens
            t.cost_usd += r.cost_usd
        return totals

    def prompt_ids(self) -> dict[str, int]:
        """The prompt each suite's cases judged."""
        ids: dict[str, int] = {}
        for r in self.cases.values():
            if r.prompt_id is not None:
                ids.setdefault(r.suite, r.prompt_id)
        return ids

    def by_suite(self) -> dict[str, list[CaseRecord]]:
        """Case records grouped by suite."""
        grouped: dict[str, list[CaseRecord]] = defaultdict(list)
        for r in self.cases.values():
            grouped[r.suite].append(r)
        return grouped


def _reported_suite(session: PromptOptSession, name: str) -> Any:
    """The suite's entry in the built report, if there is one."""
    if session.report is None:
        return None
    return next((s for s in session.report.suites if s.name == name), None)


def write_summary(reporter: Any, session: PromptOptSession) -> None:
    """Write the `promptopt` section: one line per suite, the optimize outcome, the report path."""
    assert session.summary is not None
    reporter.write_sep("=", "promptopt")
    runtime = session.runtime_if_built
    for name, t in session.summary.suites().items():
        line = (
            f"{name}: {t.cases} cases, mean score {t.mean_score:.2f}, pass rate {t.pass_rate:.0%}"
            f" ({t.passed} passed{f', {t.errors} errors' if t.errors else ''}), "
            f"calls {t.calls}, cache hits {t.cache_hits}, tokens {t.tokens}, ${t.cost_usd:.4f}"
        )
        reporter.write_line(line)
        outcome = runtime.outcome(name) if runtime is not None else None
        reported = _reported_suite(session, name)
        if outcome is not None:
            reporter.write_line("    " + outcome.describe())
        elif reported is not None and reported.best_mean_score is not None:
            before = reported.original_mean_score or 0.0
            stop = f"; stopped by {reported.stopped_by}" if reported.stopped_by else ""
            reporter.write_line(
                f"    optimized: {before:.2f} -> {reported.best_mean_score:.2f} on the given "
                f"cases (best #{reported.best_prompt_id}){stop}"
            )
        else:
            judged = runtime.judged_prompt(name) if runtime is not None else None
            text = (
                judged
                if judged is not None
                else (reported.prompt_text if reported is not None else "")
            )
            if text.strip():
                prompt = text.strip().splitlines()[0]
                reporter.write_line(f"    prompt: {prompt[:90]}{'...' if len(prompt) > 90 else ''}")
    if session.report_dir is not None:
        reporter.write_line(f"reports: {session.report_dir}")
