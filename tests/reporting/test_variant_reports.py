"""Variants side by side in report.json, report.md and report.html, from a hand-built report."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from pytest_promptopt.evaluation.variants import variant_comparisons
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.model import RunReport
from pytest_promptopt.reporting.writers import write_reports

START = datetime(2025, 1, 2, 10, 0, 0, tzinfo=timezone.utc)
EVIL_VARIANT = "<i>v2</i>"


def _report() -> RunReport:
    def rows(variant: str, rank: int, scores: list[tuple[float, bool]]) -> list[CaseRecord]:
        return [
            CaseRecord(
                suite=f"bot@{variant}", case_id=f"case-{n}", score=s, threshold=0.7, passed=p,
                variant=variant, variant_rank=rank,
            )
            for n, (s, p) in enumerate(scores)
        ]  # fmt: skip

    records = {
        "bot@v1": rows("v1", 0, [(0.9, True), (0.8, True), (0.4, False)]),
        f"bot@{EVIL_VARIANT}": rows(EVIL_VARIANT, 1, [(0.6, False), (0.85, True), (0.75, True)]),
    }
    return RunReport(
        run_id=3,
        session_uid="u",
        mode="test",
        status="passed",
        started_at=START,
        variants=variant_comparisons(records),
    )


def test_markdown_shows_each_variant_beside_the_first_per_variant_and_per_case() -> None:
    md = render_markdown(_report())
    assert "### Variants of bot (each compared with v1)" in md
    lines = md.splitlines()
    assert "| v1 | 3 | 0.70 | \u2014 | 66.7% | \u2014 | \u2014 |" in lines
    second = next(line for line in lines if line.startswith("| &lt;i&gt;v2&lt;/i&gt; | 3 |"))
    assert second.startswith("| &lt;i&gt;v2&lt;/i&gt; | 3 | 0.73 | +0.03 | 66.7% | +0.0 pts | ")
    # The paired test against the first: three shared cases are too few to decide.
    assert "verdict inconclusive, shared cases 3, change +0.033" in second
    assert "| case | v1 | &lt;i&gt;v2&lt;/i&gt; |" in lines
    assert "| case-0 | 0.90 pass | 0.60 fail |" in lines
    assert "<i>" not in md
    widths = {
        len(re.split(r"(?<!\\)\|", line.strip().strip("|"))) for line in lines if "case-" in line
    }
    assert widths == {3}


def test_html_and_json_carry_the_comparison(tmp_path: Path) -> None:
    report = _report()
    paths = write_reports(report, tmp_path)
    html = paths.html.read_text(encoding="utf-8")
    assert "Variants of bot" in html
    assert "<i>v2</i>" not in html and "&lt;i&gt;v2&lt;/i&gt;" in html
    assert html.count('<span class="ko">fail</span>') >= 2
    data = json.loads(paths.json.read_text(encoding="utf-8"))
    (suite,) = data["variants"]
    assert [v["variant"] for v in suite["variants"]] == ["v1", EVIL_VARIANT]
    assert suite["variants"][1]["shared_cases"] == 3
    assert RunReport.model_validate(data) == report
