"""Trend charts over runs: one or two series of values in [0, 1], each point with its interval."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from pytest_promptopt.reporting.charts import TICKS, Bar, Chart, Line, Text


@dataclass(frozen=True)
class TrendPoint:
    """One run's value of a series, with its 95% interval when known."""

    run_id: int
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Series:
    """A named series of points, drawn in the CSS class `cls` (`trend-pass`, `trend-score`)."""

    name: str
    cls: str
    points: list[TrendPoint]


def _r(value: float) -> float:
    """Round a coordinate to one decimal for compact markup."""
    return round(value, 1)


def trend_chart(title: str, series: list[Series], width: float = 560.0) -> Chart | None:
    """Points joined by lines, run by run (oldest left), with a whisker for each interval."""
    runs = sorted({p.run_id for s in series for p in s.points})
    if not runs:
        return None
    left, right, top, plot_h, bottom = 36.0, 14.0, 14.0, 140.0, 30.0
    plot_w = width - left - right
    base = top + plot_h
    chart = Chart(width=width, height=base + bottom, title=title)
    step = plot_w / max(len(runs) - 1, 1)

    def x_of(run_id: int) -> float:
        index = runs.index(run_id)
        return _r(left + (index * step if len(runs) > 1 else plot_w / 2))

    def y_of(value: float) -> float:
        return _r(base - min(max(value, 0.0), 1.0) * plot_h)

    for tick in TICKS:
        chart.lines.append(Line(left, y_of(tick), _r(width - right), y_of(tick), "grid"))
        chart.texts.append(Text(left - 6, _r(y_of(tick) + 4), f"{tick:g}", "end", "tick"))
    every = max(1, len(runs) // 12)  # at most a dozen run labels
    for i, run_id in enumerate(runs):
        if i % every == 0 or i == len(runs) - 1:
            chart.texts.append(Text(x_of(run_id), base + 16, f"#{run_id}", "middle", "tick"))
    for s in series:
        points = sorted(s.points, key=lambda p: p.run_id)
        for before, after in pairwise(points):
            chart.lines.append(
                Line(x_of(before.run_id), y_of(before.value), x_of(after.run_id),
                     y_of(after.value), s.cls)
            )  # fmt: skip
        for p in points:
            x = x_of(p.run_id)
            if p.low is not None and p.high is not None:
                chart.lines.append(Line(x, y_of(p.low), x, y_of(p.high), f"ci {s.cls}"))
            interval = f" (95% {p.low:.2f}-{p.high:.2f})" if p.low is not None else ""
            chart.bars.append(
                Bar(_r(x - 3), _r(y_of(p.value) - 3), 6.0, 6.0, s.cls, "",
                    f"run {p.run_id}: {s.name} {p.value:.2f}{interval}")
            )  # fmt: skip
    return chart
