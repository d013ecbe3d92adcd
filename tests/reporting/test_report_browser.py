"""report.html, with intervals and a baseline comparison, opened in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_promptopt.reporting.writers import write_reports
from tests.reporting.report_samples import baseline_report
from tests.support.browser import PageSession, chromium_page

# Per chart: its title, size on screen, and how many of its bars have a visible area.
CHARTS_JS = """
Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const bars = Array.from(svg.querySelectorAll('rect'));
  const drawn = bars.filter(r => { const b = r.getBBox(); return b.width > 0 && b.height > 0; });
  const fills = Array.from(new Set(bars.map(r => getComputedStyle(r).fill)));
  return {title: svg.getAttribute('aria-label'), width: box.width, height: box.height,
          bars: bars.length, drawn: drawn.length, fills: fills};
})
"""
RED = "rgb(207, 34, 46)"  # --fail
GREEN = "rgb(45, 164, 78)"  # --pass


@pytest.fixture
def page() -> Iterator[PageSession]:
    """A headless Chromium page; skips when no Chromium is installed."""
    with chromium_page() as session:
        yield session


def test_report_html_loads_without_errors_and_draws_every_chart(
    page: PageSession, tmp_path: Path
) -> None:
    html = write_reports(baseline_report(), tmp_path).html
    page.open(html)
    assert page.errors() == []
    assert page.evaluate("document.title") == "promptopt run 12 (test, failed)"
    charts = page.evaluate(CHARTS_JS)
    titles = [c["title"] for c in charts]
    assert titles == [
        "Score per case",
        "Score change per case against the baseline",
        "Score per case",
    ]
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["bars"] > 0 and chart["drawn"] == chart["bars"], chart
    support_cases, delta, sql_cases = charts
    assert delta["bars"] == 10 and set(delta["fills"]) == {RED, GREEN}
    assert support_cases["bars"] == 10 and sql_cases["bars"] == 3
    text = page.evaluate("document.body.innerText")
    assert "Against the baseline (run 11): regressed" in text
    assert "95% 49%..94%" in text


def test_the_browser_check_sees_console_errors_and_missing_files(
    page: PageSession, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><title>x</title><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
    )
    page.open(broken)
    errors = " ".join(page.errors())
    assert "boom" in errors and "undefinedFunction" in errors
    assert "missing.png" in errors or "ERR_FILE_NOT_FOUND" in errors
