"""The viewer in headless Chromium over a real uvicorn: runs -> run -> case -> compare ->
optimize, and a label typed with the keyboard. Screenshots go to the test's directory and, with
PROMPTOPT_VIEW_SCREENSHOTS=DIR (`docs/images` for the README), there too."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import PageSession, chromium_page
from tests.view.conftest import LiveServer
from tests.view.sessions import HOSTILE_ID, History

CHARTS_JS = """
Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  return {title: svg.getAttribute('aria-label'), width: box.width, height: box.height,
          shapes: svg.querySelectorAll('rect, line').length};
})
"""


@pytest.fixture
def page() -> Iterator[PageSession]:
    """A headless Chromium page; skips when no Chromium is installed."""
    with chromium_page((1280, 860)) as session:
        yield session


def _shot(page: PageSession, tmp_path: Path, name: str) -> None:
    """Save a screenshot as a test artefact, and for the README when asked."""
    path = page.screenshot(tmp_path / f"view-{name}.png")
    wanted = os.environ.get("PROMPTOPT_VIEW_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)


def _wait_until(page: PageSession, condition: str, timeout_s: float = 20.0) -> None:
    """Poll a JavaScript condition until it holds (the label's POST answers asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"never true: {condition}"
        time.sleep(0.05)


def _visit(page: PageSession, url: str, charts: int) -> list[dict[str, float]]:
    """Open a page; no console error, at least `charts` charts, each drawn with a size."""
    page.goto(url)
    assert page.errors() == [], url
    drawn = page.evaluate(CHARTS_JS)
    assert len(drawn) >= charts, (url, drawn)
    for chart in drawn:
        assert chart["width"] > 50 and chart["height"] > 50 and chart["shapes"] > 0, chart
    result: list[dict[str, float]] = drawn
    return result


def test_a_walk_through_every_page_and_a_label_typed(
    page: PageSession, history: History, tmp_path: Path
) -> None:
    with LiveServer(history.url, labels=True) as server:
        base = server.base
        _visit(page, base + "/", charts=3)  # one trend chart per suite
        assert page.evaluate("document.querySelectorAll('#runs tbody tr').length") == 3
        _shot(page, tmp_path, "runs")

        page.goto(base + "/")
        page.click(f'a[href="/runs/{history.regressed}"]')
        assert page.evaluate("location.pathname") == f"/runs/{history.regressed}"
        _visit(page, base + f"/runs/{history.regressed}", charts=3)
        # the hostile case id is text, not markup: no script element came from it
        assert page.evaluate("document.querySelectorAll('main script').length") == 0
        assert HOSTILE_ID in page.evaluate("document.body.innerText")
        _shot(page, tmp_path, "run")

        # the cases table sorts by score on a click
        scores = page.evaluate(
            "(() => { const t = document.querySelector('table.cases');"
            " t.rows[0].cells[2].click();"
            " return Array.from(t.rows).slice(1).map(r => r.cells[2].textContent.trim()); })()"
        )
        assert scores == sorted(scores), scores

        link = page.evaluate("document.querySelector('table.cases a').getAttribute('href')")
        _visit(page, base + link, charts=1)  # the case's history
        assert "Judge's reasoning" in page.evaluate("document.body.innerText")
        _shot(page, tmp_path, "case")

        _visit(page, base + f"/compare/{history.baseline}/{history.regressed}", charts=0)
        assert page.evaluate("document.querySelector('h2.group').textContent") == "Pass → fail"
        assert page.evaluate("document.querySelectorAll('.pair.pass_to_fail .side').length") > 0
        _shot(page, tmp_path, "compare")

        _visit(page, base + f"/runs/{history.optimized}/optimize", charts=0)
        assert page.evaluate("document.querySelectorAll('li.node').length") == 3
        _shot(page, tmp_path, "optimize")
        child = page.evaluate(
            "document.querySelector('ul.tree li.node ul.tree li.node a').getAttribute('href')"
        )
        _visit(page, base + child.split("#")[0], charts=0)
        assert page.evaluate("document.querySelectorAll('pre.diff span.dadd').length") > 0
        page.evaluate("document.getElementById('prompt').scrollIntoView()")
        _shot(page, tmp_path, "prompt-diff")

        _visit(page, base + f"/label?run={history.regressed}", charts=0)
        item = "document.querySelector('.label-item:not(.hidden)')"
        assert page.evaluate(f"{item}.querySelector('.judge').classList.contains('hidden')")
        page.press("4")
        _wait_until(page, f"{item}.dataset.labelled === 'yes'")
        assert page.evaluate(f"{item}.querySelector('.status').textContent") == "labelled level 4"
        assert not page.evaluate(f"{item}.querySelector('.judge').classList.contains('hidden')")
        _shot(page, tmp_path, "label")
        evaluation = int(page.evaluate(f"{item}.dataset.evaluation"))
        page.press("n")
        assert int(page.evaluate(f"{item}.dataset.evaluation")) != evaluation
        assert page.errors() == []
    from pytest_promptopt.storage import Database, read_transaction

    db = Database(history.url)
    with read_transaction(db) as repos:
        labels = [(lb.evaluation_id, lb.level) for lb in repos.labels.for_suite()]
    db.dispose()
    assert (evaluation, 4) in labels
