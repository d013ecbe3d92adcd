"""The Markdown report: a concise summary fit for a PR comment or `$GITHUB_STEP_SUMMARY`."""

from __future__ import annotations

from pytest_promptopt.reporting.model import CaseRow, RunReport, SuiteSummary
from pytest_promptopt.reporting.text import (
    ARROW,
    DASH,
    fmt_delta,
    fmt_duration,
    fmt_int,
    fmt_pct,
    fmt_score,
    fmt_time,
    fmt_usd,
    md_escape,
    md_table,
)

MAX_FAILURE_ROWS = 50
REASONING_CHARS = 240
RESPONSE_CHARS = 160
NAME_CHARS = 80

SUITE_HEADERS = [
    "suite",
    "cases",
    "passed",
    "mean score",
    "pass rate",
    "calls",
    "cache hits",
    "tokens",
    "cost",
]
OPTIMIZE_HEADERS = ["suite", "before", "after", "change", "best prompt", "candidates", "stopped by"]
FAILURE_HEADERS = [
    "suite",
    "case",
    "result",
    "score",
    "threshold",
    "criteria",
    "failed checks",
    "reasoning",
    "response",
]


def render_markdown(report: RunReport) -> str:
    """The whole Markdown report for one run."""
    parts = [_header(report), _suite_table(report)]
    if report.is_optimize and report.suites:
        parts.append(_optimize_section(report))
    parts.append(_failures_section(report))
    return "\n\n".join(p for p in parts if p) + "\n"


def _count(n: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _header(report: RunReport) -> str:
    """Title line and one line of run facts."""
    totals = report.totals
    icon = {"passed": "\u2705", "failed": "\u274c", "interrupted": "\u26a0\ufe0f"}.get(
        report.status, "\u2139\ufe0f"
    )
    title = f"## {icon} promptopt run {report.run_id} ({md_escape(report.mode)}): "
    title += f"{md_escape(report.status)}"
    facts = [
        f"started {fmt_time(report.started_at)}",
        f"duration {fmt_duration(report.duration_s)}",
        f"{totals.passed}/{totals.cases} passed",
    ]
    if totals.failed:
        facts.append(f"{totals.failed} failed")
    if totals.errors:
        facts.append(_count(totals.errors, "error"))
    facts.extend(
        [
            f"{fmt_int(totals.calls)} calls ({fmt_int(totals.cache_hits)} cached)",
            f"{fmt_int(totals.tokens)} tokens",
            fmt_usd(totals.cost_usd),
        ]
    )
    return title + "\n\n" + " \u00b7 ".join(facts)


def _suite_row(suite: SuiteSummary) -> list[str]:
    """One row of the suites table."""
    passed = f"{suite.passed}/{suite.cases}"
    if suite.errors:
        passed += f" ({_count(suite.errors, 'error')})"
    return [
        md_escape(suite.name, NAME_CHARS),
        str(suite.cases),
        passed,
        fmt_score(suite.mean_score),
        fmt_pct(suite.pass_rate),
        fmt_int(suite.calls),
        fmt_int(suite.cache_hits),
        fmt_int(suite.tokens),
        fmt_usd(suite.cost_usd),
    ]


def _suite_table(report: RunReport) -> str:
    """The per-suite table, with a total row when there are several suites."""
    if not report.suites:
        return "_No suites were run._"
    rows = [_suite_row(s) for s in report.suites]
    if len(report.suites) > 1:
        t = report.totals
        mean = sum(s.mean_score * s.cases for s in report.suites) / max(t.cases, 1)
        rows.append(
            [
                "**total**",
                str(t.cases),
                f"{t.passed}/{t.cases}",
                fmt_score(mean),
                fmt_pct(t.passed / t.cases if t.cases else None),
                fmt_int(t.calls),
                fmt_int(t.cache_hits),
                fmt_int(t.tokens),
                fmt_usd(t.cost_usd),
            ]
        )
    return md_table(SUITE_HEADERS, rows, align="lrrrrrrrr")


def _chain_text(suite: SuiteSummary) -> str:
    """The best prompt's ancestry as `#1 original (0.61) -> #4 clarity (0.72)`."""
    chain = suite.best_chain()
    if not chain:
        return ""
    steps = []
    for p in chain:
        step = f"{md_escape(p.label, NAME_CHARS)} ({fmt_score(p.best_score)})"
        if p.weakness_titles:
            fixes = "; ".join(p.weakness_titles)
            step += f" \u2014 fixes: {md_escape(fixes, 120)}"
        steps.append(step)
    return f" {ARROW} ".join(steps)


def _optimize_section(report: RunReport) -> str:
    """Before/after scores per suite and the lineage of each best prompt."""
    rows = []
    for s in report.suites:
        best = s.prompt(s.best_prompt_id)
        rows.append(
            [
                md_escape(s.name, NAME_CHARS),
                fmt_score(s.original_mean_score),
                fmt_score(s.best_mean_score),
                fmt_delta(s.improvement),
                md_escape(best.label, NAME_CHARS) if best else DASH,
                str(len(s.lineage)),
                md_escape(s.stopped_by) if s.stopped_by else DASH,
            ]
        )
    lines = ["### Optimization", "", md_table(OPTIMIZE_HEADERS, rows, align="lrrrlrl")]
    for s in report.suites:
        if s.finalists:
            lines += ["", *_finalists_table(s)]
    chains = [(s, _chain_text(s)) for s in report.suites]
    chains = [(s, c) for s, c in chains if c]
    if chains:
        lines += ["", "Lineage of the best prompt:", ""]
        lines += [f"- **{md_escape(s.name, NAME_CHARS)}**: {c}" for s, c in chains]
    return "\n".join(lines)


def _finalists_table(s: SuiteSummary) -> list[str]:
    """The finalists of one suite: feedback and held-out scores side by side, and the gate."""
    rows = [
        [
            md_escape(f.label, NAME_CHARS) + (" ★ best" if f.best else ""),
            fmt_score(f.feedback),
            fmt_score(f.holdout),
        ]
        for f in s.finalists
    ]
    headers = [
        "finalist",
        f"feedback ({s.feedback_cases} cases)",
        f"held-out ({s.holdout_cases} cases)",
    ]
    lines = [
        f"**{md_escape(s.name, NAME_CHARS)}** finalists:",
        "",
        md_table(headers, rows, align="lrr"),
    ]
    if s.holdout_cases == 0 and s.split_note:
        lines += ["", md_escape(s.split_note)]
    if s.gate_verdict:
        lines += ["", f"Apply gate: {md_escape(s.gate_verdict)}"]
    return lines


def _failure_row(case: CaseRow) -> list[str]:
    """One row of the failures table."""
    checks = "; ".join(case.failed_assertions)
    reason = case.error if case.error is not None else case.reasoning
    return [
        md_escape(case.suite, NAME_CHARS),
        md_escape(case.case_id, NAME_CHARS),
        "\u26a0\ufe0f error" if case.error is not None else "\u274c failed",
        fmt_score(case.score),
        fmt_score(case.threshold),
        _criteria_cell(case),
        md_escape(checks, 160) if checks else DASH,
        md_escape(reason, REASONING_CHARS) if reason else DASH,
        _answer_cell(case),
    ]


def _criteria_cell(case: CaseRow) -> str:
    """Every judged criterion with its score: `functionality 0.90 · tone 0.40`."""
    scores = " \u00b7 ".join(f"{name} {fmt_score(v)}" for name, v in case.criteria.items())
    return md_escape(scores, 240) if scores else DASH


def _answer_cell(case: CaseRow) -> str:
    """The response cell: notes (cut at max_tokens, tool calls) before the shortened answer."""
    notes = " \u00b7 ".join(md_escape(n, RESPONSE_CHARS) for n in case.answer_notes)
    response = md_escape(case.response, RESPONSE_CHARS) if case.response else ""
    text = " \u2014 ".join(p for p in (f"**{notes}**" if notes else "", response) if p)
    return text or DASH


def _failures_section(report: RunReport) -> str:
    """Failing and erroring cases, shortened, capped at MAX_FAILURE_ROWS."""
    problems = report.problems()
    if not problems:
        return "### Failures\n\nNone: every case passed."
    rows = [_failure_row(c) for c in problems[:MAX_FAILURE_ROWS]]
    text = "### Failures\n\n" + md_table(FAILURE_HEADERS, rows, align="llcrrllll")
    if len(problems) > MAX_FAILURE_ROWS:
        more = len(problems) - MAX_FAILURE_ROWS
        text += f"\n\n\u2026 and {more} more; see report.html for all cases."
    return text
