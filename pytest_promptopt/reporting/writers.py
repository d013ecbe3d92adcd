"""Write a run's reports to disk: JSON, Markdown, HTML and, for optimize runs, best prompts."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pytest_promptopt.reporting.html import render_html
from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.model import RunReport, SuiteSummary
from pytest_promptopt.reporting.text import safe_name

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
BEST_PROMPT_NAME = "best_prompt.txt"
LINEAGE_NAME = "lineage.json"


@dataclass
class ReportPaths:
    """The files one call of `write_reports` wrote."""

    run_dir: Path
    json: Path
    markdown: Path
    html: Path
    best_prompts: dict[str, Path] = field(default_factory=dict)
    lineages: dict[str, Path] = field(default_factory=dict)
    step_summary: Path | None = None

    def all(self) -> list[Path]:
        """Every file written under the run directory, reports first."""
        return [
            self.json,
            self.markdown,
            self.html,
            *self.best_prompts.values(),
            *self.lineages.values(),
        ]


def _write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (temp file, then rename) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _write_suite_files(
    suite: SuiteSummary, run_dir: Path, taken: set[str], paths: ReportPaths
) -> None:
    """Write one optimize suite's `best_prompt.txt` and `lineage.json`."""
    suite_dir = run_dir / safe_name(suite.name, taken)
    text = suite.best_prompt_text
    paths.best_prompts[suite.name] = _write_text(
        suite_dir / BEST_PROMPT_NAME, text if text.endswith("\n") or not text else text + "\n"
    )
    lineage = [p.model_dump(mode="json") for p in suite.lineage]
    paths.lineages[suite.name] = _write_text(
        suite_dir / LINEAGE_NAME, json.dumps(lineage, indent=2, ensure_ascii=False) + "\n"
    )


def append_step_summary(markdown: str, target: str | None = None) -> Path | None:
    """Append Markdown to `$GITHUB_STEP_SUMMARY` (or `target`); warn instead of failing."""
    location = target if target is not None else os.environ.get(STEP_SUMMARY_ENV)
    if not location:
        return None
    path = Path(location)
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
            fh.write("\n")
    except OSError as exc:
        warnings.warn(
            f"promptopt: could not append to {STEP_SUMMARY_ENV} ({path}): {exc}",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return path


def write_reports(report: RunReport, report_dir: Path) -> ReportPaths:
    """Write every report of a run into `report_dir/<run_id>/` and return their paths."""
    run_dir = Path(report_dir) / str(report.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    paths = ReportPaths(
        run_dir=run_dir,
        json=_write_text(
            run_dir / JSON_NAME,
            # pydantic-core serializes in one pass; json.dumps with indent is pure Python.
            report.model_dump_json(indent=2) + "\n",
        ),
        markdown=_write_text(run_dir / MARKDOWN_NAME, markdown),
        html=_write_text(run_dir / HTML_NAME, render_html(report)),
    )
    if report.is_optimize:
        taken = {n.lower() for n in (JSON_NAME, MARKDOWN_NAME, HTML_NAME)}
        for suite in report.suites:
            _write_suite_files(suite, run_dir, taken, paths)
    paths.step_summary = append_step_summary(markdown)
    return paths
