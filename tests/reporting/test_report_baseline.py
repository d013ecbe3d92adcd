"""Intervals and the baseline comparison in report.json, report.md and report.html."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from pytest_promptopt.reporting.charts import delta_chart
from pytest_promptopt.reporting.html import render_html
from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.text import md_escape
from pytest_promptopt.reporting.writers import write_reports
from pytest_promptopt.stats import CategoryChange
from tests.reporting.report_samples import baseline_report


def test_report_json_has_intervals_and_the_comparison(tmp_path: Path) -> None:
    paths = write_reports(baseline_report(), tmp_path)
    data = json.loads(paths.json.read_text())
    support, sql = data["suites"]
    assert support["pass_rate"] == 0.8
    low, high = support["pass_rate_ci"]
    assert 0.49 < low < 0.8 < high < 0.95  # Wilson for 8 of 10: 0.490..0.943
    low, high = support["mean_score_ci"]
    assert low < support["mean_score"] < high
    base = support["baseline"]
    assert base["baseline_run_id"] == 11
    assert base["comparison"]["verdict"] == "regressed"
    assert base["comparison"]["pass_to_fail_cases"] == ["case-0", "case-1"]
    assert sql["baseline"] is None and sql["pass_rate_ci"] is not None


def test_markdown_shows_intervals_and_the_baseline_table() -> None:
    md = render_markdown(baseline_report())
    assert re.search(r"\| 0\.83 \(0\.\d\d\.\.0\.\d\d\) \| 80\.0% \(49%\.\.94%\) \|", md)
    assert "### Against the baseline" in md
    row = next(line for line in md.splitlines() if line.startswith("| support | 11 |"))
    assert "**regressed**" in row and "case-0, case-1" in row
    assert "lies below zero and reaches beyond -0.02" in md
    assert "within ±0.02" in md and "anything else is `inconclusive`" in md
    mdc = baseline_report().suites[0].baseline.comparison.min_detectable_change  # type: ignore[union-attr]
    assert mdc is not None and f"| {mdc:.3f} |" in row


def test_the_comparison_states_its_power_and_categories_in_every_report(tmp_path: Path) -> None:
    report = baseline_report()
    base = report.suites[0].baseline
    assert base is not None
    c = base.comparison
    flipped = replace(
        c, categories=(CategoryChange("returns", 2, -0.2, 2, 0), CategoryChange("x", 8, 0.0, 0, 0))
    )
    report.suites[0].baseline = base.model_copy(update={"comparison": flipped})
    data = json.loads(write_reports(report, tmp_path).json.read_text())
    comparison = data["suites"][0]["baseline"]["comparison"]
    assert comparison["min_detectable_change"] == c.min_detectable_change
    assert comparison["categories"][0] == {
        "category": "returns", "cases": 2, "mean_delta": -0.2, "pass_to_fail": 2, "fail_to_pass": 0
    }  # fmt: skip
    note = "all 2 cases of category `returns` went pass -> fail"
    assert md_escape(note) in render_markdown(report)
    assert note.replace(">", "&gt;") in render_html(report)
    assert f"detectable change {c.min_detectable_change:.3f} (80% power)" in render_html(report)
    assert note in base.model_copy(update={"comparison": flipped}).describe()


def test_the_delta_chart_draws_every_case_from_zero() -> None:
    result = baseline_report().suites[0].baseline
    assert result is not None
    chart = delta_chart(result)
    assert chart is not None
    assert len(chart.bars) == 10
    worst = chart.bars[0]  # worst first: case-0 (-0.31)
    assert worst.cls == "delta-down" and worst.title == "case-0: -0.310, pass->fail"
    zero = next(t.x for t in chart.texts if t.text == "+0.00")
    assert worst.x + worst.w <= zero + 0.2  # a drop ends at the zero line
    gains = [b for b in chart.bars if b.cls == "delta-up"]
    assert gains and all(b.x >= zero - 0.2 for b in gains)
    labels = {line.cls for line in chart.lines}
    assert {"threshold", "ref-mean"} <= labels


def test_html_shows_the_comparison_and_the_intervals() -> None:
    html = render_html(baseline_report())
    assert "Against the baseline (run 11): regressed" in html
    assert "went from pass to fail: case-0, case-1" in html
    assert html.count('class="delta-down"') == 9 and html.count('class="delta-up"') == 1
    assert "95% 49%..94%" in html
