"""Chart geometry for the reports: bars, lines and labels in SVG coordinates, from report data."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.reporting.model import CaseRow, PromptSummary, SuiteSummary
from pytest_promptopt.reporting.text import (
    shorten,
)

TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
CASE_BARS_MAX = 60
HISTOGRAM_EDGES = tuple(i / 20 for i in range(21))
OUTCOMES = ("passed", "failed", "error")
SCORE_KINDS = ("quick", "rigorous", "average")
LABEL_GAP = 12.0  # px between two reference-line labels of a chart


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart, with its CSS class, visible label and hover title."""

    x: float
    y: float
    w: float
    h: float
    cls: str
    label: str = ""
    title: str = ""


@dataclass(frozen=True)
class Line:
    """A line segment of a chart (grid, threshold or reference line)."""

    x1: float
    y1: float
    x2: float
    y2: float
    cls: str
    label: str = ""


@dataclass(frozen=True)
class Text:
    """A text label placed in a chart."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    cls: str = ""
    title: str = ""


@dataclass
class Chart:
    """An SVG chart's size and shapes; the template only draws what is here."""

    width: float
    height: float
    title: str
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


def _r(value: float) -> float:
    """Round a coordinate to one decimal for compact markup."""
    return round(value, 1)


def case_chart(cases: list[CaseRow], width: float = 760.0) -> Chart | None:
    """Horizontal bars of per-case scores, coloured by outcome, with threshold markers.

    Over `CASE_BARS_MAX` cases one bar each would be a page long: a histogram instead.
    """
    errored = sum(c.error is not None for c in cases)
    cases = [c for c in cases if c.error is None]  # an error has no score: no bar
    if not cases:
        return None
    note = f" ({errored} errored, no score: not drawn)" if errored else ""
    if len(cases) > CASE_BARS_MAX:
        chart = score_histogram(cases, width)
        chart.title += note
        return chart
    label_w, right, top, row, bar_h = 190.0, 48.0, 22.0, 20.0, 13.0
    x0 = label_w + 10
    plot_w = width - x0 - right
    height = top + row * len(cases) + 6
    chart = Chart(width=width, height=_r(height), title="Score per case" + note)
    for tick in TICKS:
        x = _r(x0 + tick * plot_w)
        chart.lines.append(Line(x, top - 4, x, height - 4, "grid"))
        chart.texts.append(Text(x, top - 8, f"{tick:g}", "middle", "tick"))
    thresholds = {c.threshold for c in cases}
    uniform = len(thresholds) == 1
    for i, c in enumerate(cases):
        y = top + i * row + (row - bar_h) / 2
        score = min(max(c.score, 0.0), 1.0)
        title = f"{c.case_id}: score {c.score:.2f}, threshold {c.threshold:.2f}, {c.outcome}"
        chart.bars.append(
            Bar(_r(x0), _r(y), _r(max(score * plot_w, 1.5)), bar_h, f"bar-{c.outcome}", "", title)
        )
        chart.texts.append(Text(label_w, _r(y + bar_h - 2), shorten(c.case_id, 28), "end", "lbl"))
        chart.texts.append(
            Text(_r(x0 + score * plot_w + 4), _r(y + bar_h - 2), f"{c.score:.2f}", "start", "val")
        )
        if not uniform:
            tx = _r(x0 + c.threshold * plot_w)
            chart.lines.append(Line(tx, _r(y - 2), tx, _r(y + bar_h + 2), "threshold"))
    if uniform:
        t = next(iter(thresholds))
        tx = _r(x0 + t * plot_w)
        chart.lines.append(Line(tx, top - 4, tx, _r(height - 2), "threshold", f"threshold {t:.2f}"))
    return chart


def score_histogram(cases: list[CaseRow], width: float = 760.0) -> Chart:
    """How many cases scored in each 0.05 band, stacked by outcome, with the threshold(s)."""
    left, right, top, plot_h, bottom = 44.0, 16.0, 16.0, 180.0, 30.0
    plot_w = width - left - right
    base = top + plot_h
    bins = len(HISTOGRAM_EDGES) - 1
    counts = [dict.fromkeys(OUTCOMES, 0) for _ in range(bins)]
    for c in cases:
        index = bisect.bisect_right(HISTOGRAM_EDGES, min(max(c.score, 0.0), 1.0)) - 1
        counts[min(index, bins - 1)][c.outcome] += 1
    peak = max(sum(band.values()) for band in counts)
    chart = Chart(width=width, height=base + bottom, title="Cases per score band")
    for value in sorted({0, (peak + 1) // 2, peak}):  # gridlines at whole counts
        y = _r(base - value / peak * plot_h)
        chart.lines.append(Line(left, y, _r(width - right), y, "grid"))
        chart.texts.append(Text(left - 6, _r(y + 4), f"{value:,}", "end", "tick"))
    for tick in TICKS:
        chart.texts.append(Text(_r(left + tick * plot_w), base + 16, f"{tick:g}", "middle", "tick"))
    bar_w = plot_w / bins
    for i, band in enumerate(counts):
        # A segment of one case stays visible (1.5 px); the tallest gives way so the stack
        # never rises above the plot.
        heights = {o: max(n / peak * plot_h, 1.5) for o, n in band.items() if n}
        if heights:
            excess = sum(heights.values()) - plot_h
            if excess > 0:
                tallest = max(heights, key=heights.__getitem__)
                heights[tallest] -= excess
        lo, hi = HISTOGRAM_EDGES[i], HISTOGRAM_EDGES[i + 1]
        y = base
        for outcome, h in heights.items():
            y -= h
            title = f"{lo:.2f}-{hi:.2f}: {band[outcome]:,} {outcome}"
            chart.bars.append(
                Bar(
                    _r(left + i * bar_w + 1),
                    _r(y),
                    _r(bar_w - 2),
                    _r(h),
                    f"bar-{outcome}",
                    "",
                    title,
                )
            )
    for t in sorted({c.threshold for c in cases}):
        tx = _r(left + min(max(t, 0.0), 1.0) * plot_w)
        chart.lines.append(Line(tx, top - 4, tx, base, "threshold", f"threshold {t:.2f}"))
    return chart


def _prompt_scores(p: PromptSummary) -> list[tuple[str, float | None]]:
    """The quick, rigorous and average scores of a prompt, by kind."""
    return [("quick", p.quick_score), ("rigorous", p.rigorous_score), ("average", p.average_score)]


def lineage_chart(suite: SuiteSummary) -> Chart | None:
    """Grouped bars of each candidate's score per stage, with before/after reference lines."""
    prompts = suite.lineage
    if not prompts:
        return None
    left, right, top, plot_h, bottom = 36.0, 110.0, 16.0, 190.0, 40.0
    bar_w, group_gap = 11.0, 16.0
    group_w = bar_w * len(SCORE_KINDS) + group_gap
    width = max(left + group_w * len(prompts) + right, 520.0)
    height = top + plot_h + bottom
    base = top + plot_h
    chart = Chart(width=_r(width), height=height, title="Scores by stage per candidate")
    for tick in TICKS:
        y = _r(base - tick * plot_h)
        chart.lines.append(Line(left, y, _r(width - right + 8), y, "grid"))
        chart.texts.append(Text(left - 6, _r(y + 4), f"{tick:g}", "end", "tick"))
    for i, p in enumerate(prompts):
        gx = left + 8 + i * group_w
        if p.id == suite.best_prompt_id or p.is_original:
            cls = "hl-best" if p.id == suite.best_prompt_id else "hl-orig"
            chart.bars.append(Bar(_r(gx - 5), top, _r(group_w - 6), plot_h, cls, "", ""))
        for j, (kind, score) in enumerate(_prompt_scores(p)):
            if score is None:
                continue
            s = min(max(score, 0.0), 1.0)
            h = max(s * plot_h, 1.5)
            title = f"{p.label}: {kind} {score:.2f}"
            chart.bars.append(
                Bar(_r(gx + j * bar_w), _r(base - h), bar_w - 1, _r(h), kind, "", title)
            )
        cx = _r(gx + bar_w * len(SCORE_KINDS) / 2)
        chart.texts.append(Text(cx, base + 14, f"#{p.id}", "middle", "lbl", p.label))
        tag = "best" if p.id == suite.best_prompt_id else ("orig" if p.is_original else "")
        if tag:
            chart.texts.append(Text(cx, base + 27, tag, "middle", f"tag-{tag}"))
    refs = [("before", suite.original_mean_score, "ref-before")]
    refs.append(("after", suite.best_mean_score, "ref-after"))
    label_ys: list[float] = []
    for name, value, cls in refs:
        if value is None:
            continue
        y = _r(base - min(max(value, 0.0), 1.0) * plot_h)
        chart.lines.append(Line(left, y, _r(width - right + 8), y, cls))
        label_y = y + 4
        for other in label_ys:  # close values: the second label moves clear of the first
            if abs(label_y - other) < LABEL_GAP:
                label_y = other + LABEL_GAP if label_y >= other else other - LABEL_GAP
        label_ys.append(label_y)
        chart.texts.append(
            Text(_r(width - right + 12), _r(label_y), f"{name} {value:.2f}", "start", cls)
        )
    return chart


def delta_chart(result: BaselineResult, width: float = 760.0) -> Chart | None:
    """Per-case score change against the baseline, worst first, around a zero line.

    Bars below zero are drops (pass->fail cases are labelled); the dashed line is -margin, the
    solid one the mean change. Over `CASE_BARS_MAX` cases, the largest changes are shown.
    """
    c = result.comparison
    if not c.deltas:
        return None
    ranked = sorted(c.deltas, key=lambda kv: (kv[1], kv[0]))
    shown = ranked
    if len(ranked) > CASE_BARS_MAX:
        shown = sorted(ranked, key=lambda kv: -abs(kv[1]))[:CASE_BARS_MAX]
        shown.sort(key=lambda kv: (kv[1], kv[0]))
    flipped = set(c.pass_to_fail_cases)
    span = max(0.1, max(abs(d) for _, d in shown), c.margin)
    span = round(span * 20 + 0.4999) / 20  # up to the next 0.05
    label_w, right, top, row, bar_h = 190.0, 56.0, 22.0, 20.0, 13.0
    x0 = label_w + 10
    plot_w = width - x0 - right
    height = top + row * len(shown) + 6

    def x_of(value: float) -> float:
        return _r(x0 + (min(max(value, -span), span) + span) / (2 * span) * plot_w)

    title = "Score change per case against the baseline"
    if len(shown) < len(ranked):
        title += f" ({len(shown)} largest of {len(ranked)})"
    chart = Chart(width=width, height=_r(height), title=title)
    for tick in (-span, -span / 2, 0.0, span / 2, span):
        chart.lines.append(Line(x_of(tick), top - 4, x_of(tick), height - 4, "grid"))
        chart.texts.append(Text(x_of(tick), top - 8, f"{tick:+.2f}", "middle", "tick"))
    zero = x_of(0.0)
    for i, (case_id, delta) in enumerate(shown):
        y = top + i * row + (row - bar_h) / 2
        end = x_of(delta)
        cls = "delta-down" if delta < 0 else ("delta-up" if delta > 0 else "delta-flat")
        tag = ", pass->fail" if case_id in flipped else ""
        chart.bars.append(
            Bar(
                min(zero, end),
                _r(y),
                max(abs(end - zero), 1.5),
                bar_h,
                cls,
                "",
                f"{case_id}: {delta:+.3f}{tag}",
            )
        )
        label = shorten(case_id, 22) + (" (pass→fail)" if case_id in flipped else "")
        chart.texts.append(Text(label_w, _r(y + bar_h - 2), label, "end", "lbl"))
        value_x, anchor = (end - 4, "end") if delta < 0 else (end + 4, "start")
        chart.texts.append(Text(_r(value_x), _r(y + bar_h - 2), f"{delta:+.2f}", anchor, "val"))
    chart.lines.append(
        Line(x_of(-c.margin), top - 4, x_of(-c.margin), _r(height - 2), "threshold",
             f"margin -{c.margin:g}")
    )  # fmt: skip
    mean = x_of(c.mean_delta)
    chart.lines.append(
        Line(mean, top - 4, mean, _r(height - 2), "ref-mean", f"mean change {c.mean_delta:+.3f}")
    )
    return chart
