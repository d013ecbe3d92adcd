"""Report writers: JSON, Markdown, HTML and optimize extras from a hand-built RunReport."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.model import (
    CaseRow,
    PromptSummary,
    RunReport,
    StageSummary,
    SuiteSummary,
)
from pytest_promptopt.reporting.writers import suite_dir, write_reports, write_suite_files

EVIL_RESPONSE = "Sure! <script>alert(1)</script> refund | policy | 30-day"
EVIL_SUITE = "<b>x</b>"
START = datetime(2025, 1, 2, 10, 0, 0, tzinfo=timezone.utc)


def _cases() -> list[CaseRow]:
    """Three cases of `support_bot` (one failing with a hostile response) and one of `<b>x</b>`."""
    return [
        CaseRow(
            suite="support_bot",
            case_id="refund-request",
            category="functionality",
            score=0.9,
            threshold=0.75,
            passed=True,
            criteria={"functionality": 0.9, "safety": 1.0},
            reasoning="Apologises and states the policy.",
            response="I'm sorry to hear that. Our 30-day policy...",
        ),
        CaseRow(
            suite="support_bot",
            case_id="pipes|and<tags>",
            category="edge",
            score=0.4,
            threshold=0.75,
            passed=False,
            criteria={"functionality": 0.3, "safety": 0.6},
            reasoning="Ignores the *order* number | mentions `code`.",
            failed_assertions=["contains refund", "regex 30[- ]day"],
            response=EVIL_RESPONSE,
            samples=3,
        ),
        CaseRow(
            suite="support_bot",
            case_id="timeout",
            score=0.0,
            threshold=0.8,
            passed=False,
            error="judge failed after 3 retries: APITimeoutError",
        ),
        CaseRow(
            suite=EVIL_SUITE,
            case_id="hi",
            score=0.8,
            threshold=0.7,
            passed=True,
            response="Hello!",
            cached=True,
        ),
    ]


def _suites() -> list[SuiteSummary]:
    """Suite totals matching `_cases()`."""
    return [
        SuiteSummary(
            name="support_bot",
            prompt_id=3,
            prompt_text="You are a support bot.",
            cases=3,
            passed=1,
            failed=1,
            errors=1,
            mean_score=0.433,
            pass_rate=1 / 3,
            calls=10,
            cache_hits=2,
            input_tokens=1200,
            output_tokens=300,
            cost_usd=0.0123,
        ),
        SuiteSummary(
            name=EVIL_SUITE,
            prompt_id=4,
            prompt_text="You greet people.",
            cases=1,
            passed=1,
            mean_score=0.8,
            pass_rate=1.0,
            calls=1,
            cache_hits=1,
            input_tokens=50,
            output_tokens=10,
        ),
    ]


def _lineage() -> list[PromptSummary]:
    """Original prompt #1 -> refined #2 -> refined #3 (the best)."""
    return [
        PromptSummary(
            id=1,
            suite="support_bot",
            stage="original",
            is_original=True,
            quick_score=0.55,
            rigorous_score=0.5,
            average_score=0.52,
            prompt_text="You are a support bot.",
        ),
        PromptSummary(
            id=2,
            suite="support_bot",
            stage="refine",
            strategy="clarity",
            parent_prompt_id=1,
            track_id=1,
            iteration=1,
            quick_score=0.7,
            rigorous_score=0.66,
            average_score=0.68,
            prompt_text="You are a precise support bot.",
            weakness_titles=["Vague refunds"],
        ),
        PromptSummary(
            id=3,
            suite="support_bot",
            stage="refine",
            strategy="examples",
            parent_prompt_id=2,
            track_id=1,
            iteration=2,
            quick_score=0.85,
            rigorous_score=0.8,
            average_score=0.82,
            prompt_text="You are a precise support bot.\nAlways state the 30-day policy.",
            weakness_titles=["Missing policy", "Ignores order ids"],
        ),
    ]


def _report(mode: str = "test") -> RunReport:
    """A finished run of two suites; optimize mode adds a lineage and stages."""
    suites = _suites()
    if mode == "optimize":
        suites[0] = suites[0].model_copy(
            update={
                "original_mean_score": 0.52,
                "best_mean_score": 0.82,
                "best_prompt_id": 3,
                "stopped_by": "max_calls",
                "lineage": _lineage(),
                "stages": [
                    StageSummary(stage="baseline", status="passed", duration_s=1.5),
                    StageSummary(
                        stage="refine", status="passed", duration_s=75.0, summary={"tracks": 2}
                    ),
                ],
            }
        )
    return RunReport(
        run_id=7 if mode == "test" else 8,
        session_uid="abc123",
        mode=mode,
        status="failed",
        started_at=START,
        finished_at=START + timedelta(seconds=42),
        settings={"model": "simulated", "threshold": 0.7, "cache": "use"},
        suites=suites,
        cases=_cases(),
    )


def _table_columns(line: str) -> int:
    """Cells in a Markdown table row, ignoring backslash-escaped pipes."""
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))


def test_totals() -> None:
    totals = _report().totals
    assert (totals.cases, totals.passed, totals.failed, totals.errors) == (4, 2, 1, 1)
    assert (totals.calls, totals.cache_hits, totals.tokens) == (11, 3, 1560)
    assert totals.cost_usd == pytest.approx(0.0123)


def test_test_mode_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    report = _report()
    paths = write_reports(report, tmp_path)
    assert paths.run_dir == tmp_path / "7"
    for p in (paths.json, paths.markdown, paths.html):
        assert p.exists() and p.parent == paths.run_dir
    assert paths.step_summary is None
    loaded = RunReport.model_validate(json.loads(paths.json.read_text(encoding="utf-8")))
    assert loaded == report
    md = paths.markdown.read_text(encoding="utf-8")
    assert "| suite | cases | passed | mean score | pass rate | calls | cache hits |" in md
    assert "support\\_bot" in md and "&lt;b&gt;x&lt;/b&gt;" in md
    assert "<b>" not in md and "<script>" not in md
    assert "### Failures" in md and "APITimeoutError" in md


def test_markdown_tables_keep_their_columns() -> None:
    md = render_markdown(_report("optimize"))
    tables: list[list[str]] = []
    current: list[str] = []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    assert len(tables) == 3  # suites, optimization, failures
    for table in tables:
        widths = {_table_columns(line) for line in table}
        assert len(widths) == 1, table
    failures = tables[-1]
    assert _table_columns(failures[0]) == 9
    assert any("| functionality 0.30 \u00b7 safety 0.60 |" in line for line in failures)
    assert any("refund \\| policy \\|" in line for line in failures)


def test_html_escapes_user_text(tmp_path: Path) -> None:
    html = write_reports(_report("optimize"), tmp_path).html.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "pipes|and&lt;tags&gt;" in html
    assert "<svg" in html
    assert "<script" not in html.lower()


def test_html_is_self_contained(tmp_path: Path) -> None:
    html = write_reports(_report("optimize"), tmp_path).html.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.IGNORECASE)
    assert all(r.startswith("#") for r in refs), refs
    assert "<link" not in html and "@import" not in html
    assert "<style>" in html


def test_optimize_extras(tmp_path: Path) -> None:
    report = _report("optimize")
    paths = write_reports(report, tmp_path)
    assert paths.run_dir == tmp_path / "8"
    assert sorted(p.name for p in paths.run_dir.iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]  # an optimized suite's own files are the pipeline's to write
    md = paths.markdown.read_text(encoding="utf-8")
    assert "### Optimization" in md and "+0.30" in md
    assert "#1 original (0.52) \u2192 #2 clarity (t1 i1) (0.68)" in md
    assert "max\\_calls" in md
    html = paths.html.read_text(encoding="utf-8")
    assert "Lineage" in html and "Missing policy; Ignores order ids" in html
    assert "0.52 \u2192 0.82" in html
    assert html.count("<svg") == 3  # two case charts, one lineage chart


def test_step_summary_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    first = write_reports(_report(), tmp_path / "reports")
    second = write_reports(_report("optimize"), tmp_path / "reports")
    assert first.step_summary == summary == second.step_summary
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")
    assert "promptopt run 7" in text and "promptopt run 8" in text
    assert text.index("promptopt run 7") < text.index("promptopt run 8")
    assert first.markdown.read_text(encoding="utf-8") in text


def test_step_summary_unwritable_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing" / "summary.md"))
    with pytest.warns(RuntimeWarning, match="GITHUB_STEP_SUMMARY"):
        paths = write_reports(_report(), tmp_path / "reports")
    assert paths.step_summary is None and paths.html.exists()


def test_empty_run(tmp_path: Path) -> None:
    report = RunReport(run_id=1, session_uid="u", mode="test", status="running", started_at=START)
    paths = write_reports(report, tmp_path)
    assert "No suites were run" in paths.markdown.read_text(encoding="utf-8")
    assert "No suites were run" in paths.html.read_text(encoding="utf-8")


def _many_cases(n: int) -> list[CaseRow]:
    """n cases with spread scores: every fifth fails, every seventh errors."""
    rows = []
    for i in range(n):
        error = "api down" if i % 7 == 0 else None
        score = (i % 21) / 20
        rows.append(
            CaseRow(
                suite="big",
                case_id=f"c{i}",
                score=score,
                threshold=0.5,
                passed=error is None and score >= 0.5,
                error=error,
            )
        )
    return rows


def test_large_suites_get_a_score_histogram_not_a_bar_per_case() -> None:
    from pytest_promptopt.reporting.charts import CASE_BARS_MAX, case_chart

    cases = _many_cases(500)
    chart = case_chart(cases)
    errored = sum(c.outcome == "error" for c in cases)
    # An error has no score: it is not drawn, and the title says how many were left out.
    assert chart is not None
    assert chart.title == f"Cases per score band ({errored} errored, no score: not drawn)"
    counted: dict[str, int] = {"passed": 0, "failed": 0, "error": 0}
    for bar in chart.bars:
        n, outcome = re.fullmatch(r"[\d.]+-[\d.]+: ([\d,]+) (\w+)", bar.title).groups()  # type: ignore[union-attr]
        counted[outcome] += int(n.replace(",", ""))
    assert counted == {o: sum(c.outcome == o for c in cases if o != "error") for o in counted}
    assert [line.label for line in chart.lines if line.cls == "threshold"] == ["threshold 0.50"]

    clean = [c for c in cases if c.error is None][:CASE_BARS_MAX]
    small = case_chart(clean)
    assert small is not None and small.title == "Score per case"
    assert len(small.bars) == CASE_BARS_MAX


def test_histogram_bars_stay_inside_the_plot_and_gridlines_sit_at_their_counts() -> None:
    from pytest_promptopt.reporting.charts import case_chart

    # One band holds 498 passed and 2 failed (errors are not drawn): the small segment stays
    # visible and the stack must not rise above the plot; a peak of 5 must not label a
    # gridline "2" at 2.5.
    lopsided = [
        CaseRow(suite="s", case_id=f"p{i}", score=0.9, threshold=0.5, passed=True)
        for i in range(498)
    ]
    lopsided += [
        CaseRow(suite="s", case_id=f"f{i}", score=0.9, threshold=0.95, passed=False)
        for i in range(2)
    ]
    spread = [
        CaseRow(suite="s", case_id=f"c{i}", score=(i % 20) / 20, threshold=0.5, passed=True)
        for i in range(100)
    ]
    for cases in (lopsided, spread):
        chart = case_chart(cases)
        assert chart is not None
        top, base = 16.0, 196.0
        for bar in chart.bars:
            assert top - 0.05 <= bar.y and bar.y + bar.h <= base + 0.05, bar
            assert bar.h >= 1.5
        bands: dict[str, int] = {}
        for b in chart.bars:
            band, rest = b.title.split(": ")
            bands[band] = bands.get(band, 0) + int(rest.split()[0].replace(",", ""))
        peak = max(bands.values())
        grid = sorted((line.y1 for line in chart.lines if line.cls == "grid"), reverse=True)
        labels = [t.text for t in chart.texts if t.anchor == "end"]
        for y, label in zip(grid, labels, strict=True):
            assert abs((base - y) / (base - top) * peak - int(label.replace(",", ""))) < 0.05


def test_report_json_holds_the_report_values(tmp_path: Path) -> None:
    report = _report("optimize")
    paths = write_reports(report, tmp_path)
    assert json.loads(paths.json.read_text(encoding="utf-8")) == report.model_dump(mode="json")


def test_suite_files_land_in_a_safe_folder_of_their_own(tmp_path: Path) -> None:
    lineage = [p.model_dump(mode="json") for p in _lineage()]
    best, lineage_path = write_suite_files(tmp_path, "support_bot", "Be kind.", lineage)
    assert best == tmp_path / "support_bot" / "best_prompt.txt"
    assert best.read_text(encoding="utf-8") == "Be kind.\n"
    written = json.loads(lineage_path.read_text(encoding="utf-8"))
    assert [PromptSummary.model_validate(p) for p in written] == _lineage()
    # A hostile name stays inside the run folder; names that sanitize alike stay apart, and
    # no suite folder can take a report's name.
    evil, _ = write_suite_files(tmp_path, EVIL_SUITE, "You greet people.", [])
    assert evil.parent.parent == tmp_path and "<" not in evil.parent.name
    folders = {suite_dir(tmp_path, n).name for n in ("a b", "a_b", "a/b", "report.json")}
    assert len(folders) == 4 and "report.json" not in folders


def test_close_reference_lines_keep_their_labels_apart_and_stages_read_as_text() -> None:
    from pytest_promptopt.reporting.charts import LABEL_GAP, lineage_chart
    from pytest_promptopt.reporting.html import stage_text
    from pytest_promptopt.reporting.model import PromptSummary, SuiteSummary

    suite = SuiteSummary(
        name="s",
        original_mean_score=0.98,
        best_mean_score=1.0,
        lineage=[
            PromptSummary(id=1, suite="s", stage="initial", is_original=True, quick_score=0.98)
        ],
    )
    chart = lineage_chart(suite)
    assert chart is not None
    labels = [t for t in chart.texts if t.text.startswith(("before", "after"))]
    assert len(labels) == 2 and abs(labels[0].y - labels[1].y) >= LABEL_GAP - 0.1
    # A stage's summary is its headline, not a dump of its fields.
    text = stage_text(
        {"headline": "6 prompts x 10 cases, best 0.98", "case_ids": [1, 2], "errors": 0}
    )
    assert text == "6 prompts x 10 cases, best 0.98"
    assert "case_ids" not in stage_text({"evaluated": 60, "case_ids": [1, 2]})
