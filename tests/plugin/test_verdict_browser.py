"""report.html of a session with a failed pass-rate gate, an applied prompt and variants, in
headless Chromium: the gate with its reasons, the applied prompt and the spend are above the
fold (issue 20). The screenshot is saved; set PROMPTOPT_SCREENSHOT_DIR to keep a copy."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin.test_session_verdict import GRADED, SMALL, reports, run_dir, shop_suite
from tests.support.browser import PageSession, chromium_page
from tests.support.plugin import SUPPORT_PROMPT, write_suite

VARIANTS = f"""
name: lib
prompt: "{SUPPORT_PROMPT}"
variants:
  v1: {{}}
  v2: {{prompt: "You are a librarian. Answer in one short sentence."}}
cases:
  - id: dune
    input: I want a refund for order 123
    judge: false
    assert: [{{contains: "30-day"}}]
"""
FOLD = 800  # a laptop screen's height in CSS pixels, at 1280 wide

# The top of each verdict line on the page, and the text it shows.
VERDICT_JS = """
Array.from(document.querySelectorAll('#verdict > div')).map(d => ({
  top: d.getBoundingClientRect().top, bottom: d.getBoundingClientRect().bottom,
  text: d.innerText, cls: d.className}))
"""


@pytest.fixture
def page() -> Iterator[PageSession]:
    """A headless Chromium page; skips when no Chromium is installed."""
    with chromium_page() as session:
        yield session


def test_the_gate_its_reasons_the_spend_and_the_applied_prompt_are_above_the_fold(
    sim: pytest.Pytester, page: PageSession
) -> None:
    shop_suite(sim)
    write_suite(sim, "graded", GRADED)
    write_suite(sim, "lib", VARIANTS)
    result = sim.runpytest_subprocess("-q", *SMALL)
    assert result.ret == 1, result.stdout.str()[-3000:]  # the gate fails the session
    data, _, _ = reports(sim)
    applied_to = {a["suite"]: a["applied"] for a in data["verdict"]["applied"]}
    assert applied_to["shop"] is True
    assert data["variants"], "the variants suite must be in the report"
    html = run_dir(sim) / "report.html"
    page.set_viewport(1280, FOLD)
    page.open(html)
    assert page.errors() == []
    shot = page.screenshot(sim.path / "report-above-the-fold.png")
    keep = os.environ.get("PROMPTOPT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    lines = page.evaluate(VERDICT_JS)
    texts = [line["text"] for line in lines]
    assert texts[0].startswith("FAILED pass-rate gate: suite 'graded'")
    assert "bad: counts against the suite's pass rate" in texts[1]
    applied = next(t for t in texts if t.startswith("applied: shop: wrote prompt #"))
    assert "paired gain +" in applied
    spend = next(t for t in texts if t.startswith("spend: target "))
    assert "session total" in spend
    for line in lines:
        assert line["bottom"] <= FOLD, line  # every verdict line shows without scrolling
    # The session's cost card sits above the fold too.
    cost = page.evaluate(
        "Array.from(document.querySelectorAll('.card')).filter(c => "
        "c.innerText.toLowerCase().includes('session cost'))"
        ".map(c => c.getBoundingClientRect().bottom)"
    )
    assert cost and cost[0] <= FOLD
