"""Write a run's reports to disk: JSON, Markdown, HTML and, for optimize runs, best prompts."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_promptopt.redaction import redact
from pytest_promptopt.reporting.html import render_html
from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.model import RunReport
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
    step_summary: Path | None = None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (temp file, then rename), secrets redacted; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(redact(text), encoding="utf-8")
    tmp.replace(path)
    return path


def suite_dir(run_dir: Path, suite: str) -> Path:
    """The folder of one optimized suite's files inside a run's report folder."""
    return run_dir / safe_name(suite, reserved={JSON_NAME, MARKDOWN_NAME, HTML_NAME})


def write_suite_files(
    run_dir: Path, suite: str, best_prompt: str, lineage: list[dict[str, Any]]
) -> tuple[Path, Path]:
    """Write an optimized suite's `best_prompt.txt` and `lineage.json`; return both paths."""
    folder = suite_dir(run_dir, suite)
    text = best_prompt if best_prompt.endswith("\n") or not best_prompt else best_prompt + "\n"
    return (
        write_text_atomic(folder / BEST_PROMPT_NAME, text),
        write_text_atomic(
            folder / LINEAGE_NAME, json.dumps(lineage, indent=2, ensure_ascii=False) + "\n"
        ),
    )


def append_step_summary(markdown: str, target: str | None = None) -> Path | None:
    """Append Markdown to `$GITHUB_STEP_SUMMARY` (or `target`), secrets redacted; warn instead of
    failing."""
    location = target if target is not None else os.environ.get(STEP_SUMMARY_ENV)
    if not location:
        return None
    path = Path(location)
    try:
        with path.open("a", encoding="utf-8") as fh:
            markdown = redact(markdown)
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
    """Write a run's JSON, Markdown and HTML reports into `report_dir/<run_id>/`.

    An optimized suite's `best_prompt.txt` and `lineage.json` are the pipeline's last stage's
    to write (`write_suite_files`), when the suite's optimization ends.
    """
    run_dir = Path(report_dir) / str(report.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    paths = ReportPaths(
        run_dir=run_dir,
        # pydantic-core serializes in one pass; json.dumps with indent is pure Python.
        json=write_text_atomic(run_dir / JSON_NAME, report.model_dump_json(indent=2) + "\n"),
        markdown=write_text_atomic(run_dir / MARKDOWN_NAME, markdown),
        html=write_text_atomic(run_dir / HTML_NAME, render_html(report)),
    )
    paths.step_summary = append_step_summary(markdown)
    return paths
