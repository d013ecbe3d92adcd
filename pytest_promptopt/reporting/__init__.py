"""Run reports: the report data model and the JSON, Markdown and HTML writers."""

from __future__ import annotations

from pytest_promptopt.reporting.html import render_html
from pytest_promptopt.reporting.markdown import render_markdown
from pytest_promptopt.reporting.model import (
    CaseRow,
    PromptSummary,
    RunReport,
    RunTotals,
    StageSummary,
    SuiteSummary,
)
from pytest_promptopt.reporting.writers import ReportPaths, append_step_summary, write_reports

__all__ = [
    "CaseRow",
    "PromptSummary",
    "ReportPaths",
    "RunReport",
    "RunTotals",
    "StageSummary",
    "SuiteSummary",
    "append_step_summary",
    "render_html",
    "render_markdown",
    "write_reports",
]
