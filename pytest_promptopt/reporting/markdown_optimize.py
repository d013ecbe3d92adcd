"""The Markdown report's optimize section: before and after, the finalists, the best lineage."""

from __future__ import annotations

from pytest_promptopt.reporting.model import RunReport, SuiteSummary
from pytest_promptopt.reporting.text import (
    ARROW,
    DASH,
    fmt_delta,
    fmt_score,
    md_escape,
    md_table,
)

NAME_CHARS = 80
OPTIMIZE_HEADERS = ["suite", "before", "after", "change", "best prompt", "candidates", "stopped by"]


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


def optimize_section(report: RunReport) -> str:
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
        f"feedback ({s.feedback_cases} case{'' if s.feedback_cases == 1 else 's'})",
        f"held-out ({s.holdout_cases} case{'' if s.holdout_cases == 1 else 's'})",
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
