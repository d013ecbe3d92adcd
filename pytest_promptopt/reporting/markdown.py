"""The Markdown report: a concise summary fit for a PR comment or `$GITHUB_STEP_SUMMARY`."""

from __future__ import annotations

from pytest_promptopt.evaluation.variants import SuiteVariants, cell
from pytest_promptopt.reporting.markdown_optimize import NAME_CHARS, optimize_section
from pytest_promptopt.reporting.model import CaseRow, RunReport, SuiteSummary
from pytest_promptopt.reporting.text import (
    DASH,
    fmt_delta,
    fmt_duration,
    fmt_int,
    fmt_pct,
    fmt_pct_ci,
    fmt_score,
    fmt_score_ci,
    fmt_time,
    fmt_usd,
    md_escape,
    md_table,
)

MAX_FAILURE_ROWS = 50
REASONING_CHARS = 240
RESPONSE_CHARS = 160

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
    parts = [
        _header(report),
        _verdict_section(report),
        _suite_table(report),
        _gates_section(report),
        _baseline_section(report),
        _judge_section(report),
    ]
    if report.is_optimize and report.suites:
        parts.append(optimize_section(report))
    parts += [_variants_section(v) for v in report.variants]
    parts.append(_failures_section(report))
    return "\n\n".join(p for p in parts if p) + "\n"


def _verdict_section(report: RunReport) -> str:
    """The session's verdict before anything else, in its order: problems, failed gates and
    their cases, applied prompts, spend (the suites follow as the table)."""
    if report.verdict is None:
        return ""
    icons = {
        "problem": "\u26a0\ufe0f",
        "gate": "\u274c",
        "apply": "\U0001f4dd",
        "spend": "\U0001f4b0",
    }
    lines = []
    for line in report.verdict.headline():
        if line.kind == "case":
            lines.append(f"  - {md_escape(line.text.strip(), 400)}")
        else:
            icon = icons.get(line.kind, "") if line.bad or line.kind != "gate" else "\u2139\ufe0f"
            lines.append(f"- {icon} {md_escape(line.text, 600)}")
    return "\n".join(lines)


def _judge_section(report: RunReport) -> str:
    """Each suite's judge reliability under judge repeats ('' when the judge ran once)."""
    lines = [
        f"- {md_escape(s.name, NAME_CHARS)}: {s.judge_reliability()}"
        for s in report.suites
        if s.judge_reliability()
    ]
    return "**Judge reliability** (judge repeats)\n\n" + "\n".join(lines) if lines else ""


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
    spend = report.verdict.spend if report.verdict is not None else None
    if spend is not None:
        facts.append(
            f"session {fmt_int(spend.calls)} calls ({fmt_int(spend.cache_hits)} cached), "
            f"{fmt_usd(spend.cost_usd)}"
        )
    else:
        facts.append(f"{fmt_int(totals.calls)} calls ({fmt_int(totals.cache_hits)} cached)")
        facts.append(fmt_usd(totals.cost_usd))
    facts.append(f"{fmt_int(totals.tokens)} tokens in the items")
    return title + "\n\n" + " \u00b7 ".join(facts)


def _suite_row(suite: SuiteSummary) -> list[str]:
    """One row of the suites table."""
    passed = f"{suite.passed}/{suite.cases}"
    notes = [_count(suite.errors, "error")] if suite.errors else []
    if suite.refusals:
        notes.append(_count(suite.refusals, "refusal"))
    if notes:
        passed += f" ({', '.join(notes)})"
    return [
        md_escape(suite.name, NAME_CHARS),
        str(suite.cases),
        passed,
        _with_ci(fmt_score(suite.mean_score), fmt_score_ci(suite.mean_score_ci)),
        _with_ci(fmt_pct(suite.pass_rate), fmt_pct_ci(suite.pass_rate_ci)),
        fmt_int(suite.calls),
        fmt_int(suite.cache_hits),
        fmt_int(suite.tokens),
        fmt_usd(suite.cost_usd),
    ]


def _with_ci(value: str, interval: str) -> str:
    """A figure followed by its 95% interval, `0.84 (0.78..0.89)`."""
    return f"{value} ({interval})" if interval else value


def _suite_table(report: RunReport) -> str:
    """The per-suite table, with a total row when there are several suites."""
    if not report.suites:
        return "_No suites were run._"
    rows = [_suite_row(s) for s in report.suites]
    if len(report.suites) > 1:
        t = report.totals
        judged = [
            (s.mean_score, s.cases - s.errors) for s in report.suites if s.mean_score is not None
        ]
        weight = sum(n for _, n in judged)
        mean = sum(m * n for m, n in judged) / weight if weight else None
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
    table = md_table(SUITE_HEADERS, rows, align="lrrrrrrrr")
    if any(s.pass_rate_ci or s.mean_score_ci for s in report.suites):
        table += "\n\nIn brackets: 95% intervals (pass rate: Wilson; mean score: seeded bootstrap)."
    return table


BASELINE_HEADERS = [
    "suite",
    "baseline run",
    "verdict",
    "shared cases",
    "mean change (95% CI)",
    "pass→fail",
    "fail→pass",
    "McNemar p",
    "detectable change",
    "went from pass to fail",
]


def _baseline_section(report: RunReport) -> str:
    """Under --promptopt-baseline: each suite against its baseline run, with every figure."""
    rows = []
    for s in report.suites:
        if s.baseline is None:
            continue
        c = s.baseline.comparison
        change = fmt_delta(c.mean_delta)
        if c.delta_ci is not None:
            change += f" ({fmt_delta(c.delta_ci[0])}..{fmt_delta(c.delta_ci[1])})"
        verdict = f"**{c.verdict}**" if c.verdict == "regressed" else c.verdict
        if c.reason:
            verdict += f" ({md_escape(c.reason, 240)})"
        if c.clusters is not None:
            verdict += f" ({c.clusters.describe()})"
        flipped = ", ".join(c.pass_to_fail_cases)
        if c.category_note():
            flipped = f"{c.category_note()}: {flipped}"
        detectable = DASH if c.min_detectable_change is None else f"{c.min_detectable_change:.3f}"
        rows.append(
            [
                md_escape(s.name, NAME_CHARS),
                str(s.baseline.baseline_run_id),
                verdict,
                str(c.n_shared),
                change,
                str(c.pass_to_fail),
                str(c.fail_to_pass),
                f"{c.mcnemar_p:.3g}",
                detectable,
                md_escape(flipped, 240) or DASH,
            ]
        )
    if not rows:
        return ""
    margin = next(s.baseline.comparison.margin for s in report.suites if s.baseline)
    pairwise = "".join(
        f"\n\n{md_escape(s.name, NAME_CHARS)} is compared pairwise: "
        f"{md_escape(s.baseline.pairwise.describe(), 600)}"
        for s in report.suites
        if s.baseline is not None and s.baseline.pairwise is not None
    )
    return (
        "### Against the baseline\n\n"
        + md_table(BASELINE_HEADERS, rows, align="lrlrrrrrrl")
        + f"\n\n`unchanged`: the mean change's 95% paired t interval lies within "
        f"±{margin:g}; `regressed`: it lies below zero and reaches beyond -{margin:g}, or it "
        "holds zero and McNemar's exact test finds significantly more pass->fail flips "
        "(p < 0.05); anything else is `inconclusive`. A threshold alone cannot turn "
        "`regressed` into `unchanged`. The detectable change: the smallest mean change the "
        "comparison finds with 80% power." + pairwise
    )


def _gates_section(report: RunReport) -> str:
    """One line per suite graded by its pass rate: its rate, its minimum, the verdict."""
    icons = {True: "\u274c", False: "\u2705"}
    return "\n".join(
        f"- {icons[g.failed]} pass-rate gate: {md_escape(g.describe())}"
        for g in report.pass_rate_gates
        if not (g.failed and report.verdict is not None)  # a failed one leads the verdict
    )


VARIANT_HEADERS = ["variant", "cases", "mean score", "change", "pass rate", "change", "paired test"]


def _variants_section(suite: SuiteVariants) -> str:
    """One suite's variants side by side: per variant, then per case (capped)."""
    rows = []
    for v in suite.variants:
        rows.append(
            [
                md_escape(v.variant, NAME_CHARS),
                str(v.cases),
                fmt_score(v.mean_score),
                fmt_delta(v.mean_score_change),
                fmt_pct(v.pass_rate),
                DASH if v.pass_rate_change is None else f"{v.pass_rate_change * 100:+.1f} pts",
                md_escape(", ".join(f"{k} {x}" for k, x in v.paired.items())) if v.paired else DASH,
            ]
        )
    first = md_escape(suite.first.variant, NAME_CHARS)
    lines = [
        f"### Variants of {md_escape(suite.suite, NAME_CHARS)} (each compared with {first})",
        "",
        md_table(VARIANT_HEADERS, rows, align="lrrrrrl"),
        "",
    ]
    headers = ["case", *(md_escape(v.variant, NAME_CHARS) for v in suite.variants)]
    case_rows = [
        [
            md_escape(c.case_id, NAME_CHARS),
            *(cell(s, p) for s, p in zip(c.scores, c.passed, strict=True)),
        ]
        for c in suite.cases[:MAX_FAILURE_ROWS]
    ]
    lines.append(md_table(headers, case_rows, align="l" + "r" * len(suite.variants)))
    if len(suite.cases) > MAX_FAILURE_ROWS:
        lines += ["", f"\u2026 and {len(suite.cases) - MAX_FAILURE_ROWS} more cases."]
    return "\n".join(lines)


def _failure_row(case: CaseRow) -> list[str]:
    """One row of the failures table."""
    checks = "; ".join(case.failed_assertions)
    reason = case.error if case.error is not None else case.reasoning
    result = "\u26a0\ufe0f error" if case.error is not None else "\u274c failed"
    if case.error is None and case.flaky:
        result += " (flaky)"
    if case.error is None and case.reason:
        result += ": " + md_escape(case.reason, REASONING_CHARS)
    return [
        md_escape(case.suite, NAME_CHARS),
        md_escape(case.case_id, NAME_CHARS),
        result,
        DASH if case.error is not None else fmt_score(case.score),
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
