"""The pull-request comment of a run (`promptopt comment`): its verdict in GitHub Markdown.

A hidden marker line (the sticky comment is found by it), the run's verdict, the failed gates,
one line per suite (pass rate and its interval, the pass-rate gate, the baseline verdict with
the paired interval, the smallest detectable change, the design effect when clustered), the
flips (pass -> fail first) linked to the viewer or the report, cost and cache against the
baseline, then per-case tables and the judge's reasoning on the flips inside `<details>`.
Every name, id and text from a suite or a model goes through `gfm_text`, the whole through
`redact` (an answer that echoes a key shows `[REDACTED]`), and it stays under
GitHub's comment limit (`Budget`). The verdicts are `RunGates`' and the `SessionVerdict`'s,
decided by the same functions as `promptopt gate`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.redaction import redact
from pytest_promptopt.reporting.gfm import COMMENT_LIMIT, Budget, gfm_text, link
from pytest_promptopt.reporting.text import (
    ARROW,
    DASH,
    fmt_delta,
    fmt_int,
    fmt_pct,
    fmt_pct_ci,
    fmt_score,
    fmt_usd,
    md_table,
)

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.record import SuiteTotals
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.reporting.run_gates import RunGates
    from pytest_promptopt.reporting.verdict import SessionVerdict

MARKER = "<!-- promptopt-comment -->"
"""The first line of every comment: how the action finds the one it posted before."""
NAME_CHARS = 80
REASONING_CHARS = 400
FLIPS_SHOWN = 25
"""Flipped cases named per suite and direction in the head (the details list them all)."""
FAIL, PASS, WARN, INFO = "\u274c", "\u2705", "\u26a0\ufe0f", "\u2139\ufe0f"

CaseUrl = Callable[[int, str, str], str | None]
CompareUrl = Callable[[int, int], str | None]


@dataclass
class CommentInput:
    """Everything the comment shows about one run (a named run's joined shards, or one run)."""

    run_id: int
    name: str
    failed: bool
    gates: RunGates
    verdict: SessionVerdict
    totals: dict[str, SuiteTotals]
    judged: dict[str, dict[str, Any]]
    """`reporting.baseline.judged_results` of the run: per suite, its cases' rows."""
    baseline_judged: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    baseline_totals: dict[int, dict[str, SuiteTotals]] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    baseline_usage: dict[int, dict[str, Any]] = field(default_factory=dict)
    case_url: CaseUrl = lambda run, suite, case: None
    compare_url: CompareUrl = lambda a, b: None
    report_url: str | None = None
    problems: list[str] = field(default_factory=list)
    """Why the run is not whole (shards missing or failed), one line each."""

    def baseline(self, suite: str) -> BaselineResult | None:
        """The suite's comparison with its baseline (None: not compared)."""
        return (self.gates.baselines or {}).get(suite)


@dataclass(frozen=True)
class Flip:
    """A shared case whose pass/fail changed against the baseline."""

    suite: str
    case: str
    before: float
    after: float
    to_fail: bool
    reasoning: str


def render_comment(data: CommentInput, limit: int = COMMENT_LIMIT) -> str:
    """The whole comment, under `limit` characters."""
    budget = Budget(limit)
    budget.add(MARKER)
    _head(data, budget)
    flips = {s: flips_of(data, s) for s in data.totals}
    _flips(data, flips, budget)
    _cost(data, budget)
    _details(data, flips, budget)
    return redact(budget.text())


def flips_of(data: CommentInput, suite: str) -> list[Flip]:
    """The suite's flips against its baseline: pass -> fail first, each by its score change."""
    result = data.baseline(suite)
    if result is None:
        return []
    now = _rows(data.judged, suite)
    before = _rows(data.baseline_judged.get(result.baseline_run_id, {}), suite)
    flips = [
        Flip(
            suite,
            key,
            float(old["score"]),
            float(row["score"]),
            bool(old["passed"]),
            str(row.get("reasoning") or ""),
        )
        for key, row in now.items()
        if (old := before.get(key)) is not None and bool(old["passed"]) != bool(row["passed"])
    ]
    return sorted(flips, key=lambda f: (not f.to_fail, -abs(f.after - f.before), f.case))


def _rows(judged: dict[str, dict[str, Any]], suite: str) -> dict[str, dict[str, Any]]:
    """One suite's `judged_results` rows by case key."""
    return {r["case_key"]: r for r in judged.get(suite, {}).get("cases", [])}


def _name(text: str) -> str:
    """A suite name or case id, escaped and shortened."""
    return gfm_text(text, NAME_CHARS)


def _head(data: CommentInput, budget: Budget) -> None:
    """Title, run facts, the failed gates and problems, then one verdict line per suite."""
    icon = FAIL if data.failed else PASS
    state = "failed" if data.failed else "passed"
    budget.add(f"### {icon} promptopt: run **{_name(data.name)}** {state}\n")
    cases = sum(t.cases for t in data.totals.values())
    passed = sum(t.passed for t in data.totals.values())
    facts = [f"run {data.run_id}", f"{passed}/{cases} cases passed"]
    if data.usage:
        usage = data.usage
        cached, cost = fmt_int(usage.get("cache_hits")), fmt_usd(usage.get("cost_usd"))
        facts.append(f"{fmt_int(usage.get('calls'))} calls ({cached} cached), {cost}")
    if data.report_url:
        facts.append(link("report", data.report_url))
    budget.add(" \u00b7 ".join(facts) + "\n")
    for line in data.problems:
        budget.add(f"- {WARN} {gfm_text(line, 600)}")
    for problem in data.verdict.problems:
        budget.add(f"- {WARN} {gfm_text(problem.describe(), 600)}")
    for finding in data.verdict.gates:
        mark = FAIL if finding.fails_session else INFO
        budget.add(f"- {mark} {gfm_text(finding.describe(), 600)}")
    if data.problems or data.verdict.problems or data.verdict.gates:
        budget.add("")
    budget.add("#### Suites\n")
    for suite, totals in data.totals.items():
        budget.add(suite_line(data, suite, totals))


def suite_line(data: CommentInput, suite: str, totals: SuiteTotals) -> str:
    """`- ❌ **support**: 24/24 passed, pass rate 100.0% (86%..100%); baseline run 3: ...`."""
    gate = next((g for g in data.gates.pass_rates if g.suite == suite), None)
    result = data.baseline(suite)
    bad = (gate is not None and gate.failed) or (result is not None and result.regressed)
    unsure = result is not None and result.verdict == "inconclusive"
    # Without a pass-rate gate a failing case fails the session (with one, the gate decides).
    bad = bad or (gate is None and bool(totals.failed or totals.errors))
    icon = FAIL if bad else WARN if unsure else PASS
    rate = fmt_pct(totals.pass_rate)
    if totals.pass_rate_ci:
        rate += f" ({fmt_pct_ci(totals.pass_rate_ci)})"
    parts = [f"{totals.passed}/{totals.cases} passed, pass rate {rate}"]
    if totals.errors:
        parts[0] += f", {totals.errors} errored"
    if gate is not None:
        held = "**under**" if gate.failed else "meets"
        parts.append(f"pass-rate gate: {held} its minimum {gate.minimum:.0%}")
    if result is not None:
        parts.append(baseline_text(data, result))
    elif data.gates.baselines is not None:
        parts.append("no baseline (`promptopt bless` makes one)")
    return f"- {icon} **{_name(suite)}**: " + "; ".join(parts)


def baseline_text(data: CommentInput, result: BaselineResult) -> str:
    """The baseline verdict with its paired interval, flips, detectable change and design."""
    c = result.comparison
    run = link(f"run {result.baseline_run_id}", data.compare_url(result.baseline_run_id,
                                                                  data.run_id))  # fmt: skip
    verdict = f"**{result.verdict}**" if result.verdict != "unchanged" else result.verdict
    text = f"against baseline {run}: {verdict}"
    if result.verdict == "inconclusive" and c.reason:
        text += f" ({gfm_text(c.reason, 200)})"
    text += f", change {c.mean_delta:+.3f}"
    if c.delta_ci is not None:
        text += f" (95% CI {c.delta_ci[0]:+.3f} .. {c.delta_ci[1]:+.3f})"
    text += f" on {c.n_shared} shared cases, pass {ARROW} fail {c.pass_to_fail}, "
    text += f"fail {ARROW} pass {c.fail_to_pass}"
    if c.min_detectable_change is not None:
        text += f", detects {c.min_detectable_change:.3f} (80% power)"
    if c.clusters is not None:
        text += f", {gfm_text(c.clusters.describe())}"
    if result.pairwise is not None:
        text += f"; compared pairwise: {gfm_text(result.pairwise.describe(), 300)}"
    if c.category_note():
        text += f"; {gfm_text(c.category_note(), 300)}"
    if result.judge_note:
        text += f"; {gfm_text(result.judge_note, 300)}"
    return text


def _case(data: CommentInput, suite: str, case: str) -> str:
    """A case id linked to its page in the viewer, else to the report."""
    return link(_name(case), data.case_url(data.run_id, suite, case) or data.report_url)


def _flips(data: CommentInput, flips: dict[str, list[Flip]], budget: Budget) -> None:
    """Per suite: the cases that went pass -> fail, then fail -> pass, with their scores."""
    if not any(flips.values()):
        return
    budget.add("\n#### Flips against the baseline\n")
    for suite, found in flips.items():
        for to_fail in (True, False):
            picked = [f for f in found if f.to_fail == to_fail]
            if not picked:
                continue
            shown = ", ".join(
                f"{_case(data, suite, f.case)} {fmt_score(f.before)} {ARROW} {fmt_score(f.after)}"
                for f in picked[:FLIPS_SHOWN]
            )
            more = len(picked) - FLIPS_SHOWN
            if more > 0:
                shown += f", \u2026 and {more} more (in the details)"
            way = f"pass {ARROW} fail" if to_fail else f"fail {ARROW} pass"
            mark = FAIL if to_fail else PASS
            budget.add(f"- {mark} **{_name(suite)}** {way} ({len(picked)}): {shown}")


def _with_change(now: float | int | None, before: float | int | None, money: bool) -> str:
    """`1,234 (+200)` or `$0.0123 (-$0.0040)`: a figure and its change against the baseline."""
    shown = fmt_usd(now) if money else fmt_int(None if now is None else int(now))
    if now is None or before is None:
        return shown
    delta = now - before
    if money:
        sign = "+" if delta >= 0 else "-"
        return f"{shown} ({sign}{fmt_usd(abs(delta))})"
    return f"{shown} ({int(delta):+,})"


def _cost(data: CommentInput, budget: Budget) -> None:
    """Calls, cache hits, tokens and cost per suite (and the run's), against the baseline's."""
    rows = []
    for suite, now in data.totals.items():
        result = data.baseline(suite)
        before = (
            data.baseline_totals.get(result.baseline_run_id, {}).get(suite)
            if result is not None
            else None
        )
        figures = [
            _with_change(getattr(now, k), getattr(before, k, None), k == "cost_usd")
            for k in ("calls", "cache_hits", "tokens", "cost_usd")
        ]
        rows.append([_name(suite), *figures])
    bases = {r.baseline_run_id for r in (data.gates.baselines or {}).values()}
    if data.usage:
        base = data.baseline_usage.get(next(iter(bases))) if len(bases) == 1 else None
        tokens = _tokens(data.usage)
        rows.append(
            ["**whole run**"]
            + [
                _with_change(data.usage.get(k), (base or {}).get(k), False)
                for k in ("calls", "cache_hits")
            ]
            + [_with_change(tokens, _tokens(base) if base else None, False)]
            + [_with_change(data.usage.get("cost_usd"), (base or {}).get("cost_usd"), True)]
        )
    if not rows:
        return
    budget.add("\n#### Cost and cache\n")
    table = md_table(["suite", "calls", "cache hits", "tokens", "cost"], rows, align="lrrrr")
    budget.add(table)
    if bases:
        budget.add("\nIn brackets: the change against the baseline run.")


def _tokens(usage: dict[str, Any]) -> int | None:
    """Input and output tokens of a run's usage."""
    if usage.get("input_tokens") is None:
        return None
    return int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)


def _details(data: CommentInput, flips: dict[str, list[Flip]], budget: Budget) -> None:
    """Inside `<details>`: per suite, each case against the baseline; the judge's reasoning."""
    budget.add("\n<details><summary>Per-case results and the judge's reasoning</summary>\n")
    for suite in data.totals:
        rows = _case_rows(data, suite)
        if not rows:
            continue
        budget.add(f"\n**{_name(suite)}**\n")
        headers = ["case", "result", "score", "baseline", "change"]
        budget.add(md_table(headers, [], align="llrrr"))
        for row in rows:
            budget.add("| " + " | ".join(row) + " |", what="rows")
    reasons = [f for found in flips.values() for f in found if f.reasoning]
    if reasons:
        budget.add("\n**The judge's reasoning on the flips**\n")
        for f in reasons:
            way = "pass \u2192 fail" if f.to_fail else "fail \u2192 pass"
            budget.add(
                f"- {_name(f.suite)} / {_case(data, f.suite, f.case)} ({way}): "
                f"{gfm_text(f.reasoning, REASONING_CHARS)}",
                what="lines",
            )
    budget.close("\n</details>")


def _case_rows(data: CommentInput, suite: str) -> list[list[str]]:
    """One suite's cases: flips first, then failures, then the rest, with the baseline's score."""
    now = _rows(data.judged, suite)
    result = data.baseline(suite)
    before = (
        _rows(data.baseline_judged.get(result.baseline_run_id, {}), suite)
        if result is not None
        else {}
    )

    def order(key: str) -> tuple[int, str]:
        row, old = now[key], before.get(key)
        if old is not None and old["passed"] and not row["passed"]:
            return 0, key
        if old is not None and not old["passed"] and row["passed"]:
            return 1, key
        return (2 if not row["passed"] else 3), key

    rows = []
    for key in sorted(now, key=order):
        row, old = now[key], before.get(key)
        result_cell = "passed" if row["passed"] else "**failed**"
        if old is not None and bool(old["passed"]) != bool(row["passed"]):
            result_cell += " (was " + ("passed" if old["passed"] else "failed") + ")"
        rows.append(
            [
                _case(data, suite, key),
                result_cell,
                fmt_score(row["score"]),
                DASH if old is None else fmt_score(old["score"]),
                DASH if old is None else fmt_delta(row["score"] - old["score"]),
            ]
        )
    return rows
