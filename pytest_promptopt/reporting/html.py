"""The self-contained HTML report: view data and the jinja2 environment (charts in charts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pytest_promptopt.reporting.charts import (
    SCORE_KINDS,
    Chart,
    case_chart,
    delta_chart,
    lineage_chart,
)
from pytest_promptopt.reporting.model import CaseRow, PromptSummary, RunReport, SuiteSummary
from pytest_promptopt.reporting.text import (
    fmt_delta,
    fmt_duration,
    fmt_int,
    fmt_pct,
    fmt_pct_ci,
    fmt_score,
    fmt_score_ci,
    fmt_time,
    fmt_usd,
    fmt_value,
    shorten,
    shorten_block,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"


@dataclass
class SuiteView:
    """One suite with its rows and charts, as the template needs it."""

    suite: SuiteSummary
    anchor: str
    cases: list[CaseRow]
    case_chart: Chart | None
    lineage_chart: Chart | None
    delta_chart: Chart | None
    best: PromptSummary | None
    chain_ids: set[int]


def suite_views(report: RunReport) -> list[SuiteView]:
    """Per-suite view data in report order, with unique HTML anchors."""
    views = []
    for i, s in enumerate(report.suites):
        cases = report.suite_cases(s.name)
        views.append(
            SuiteView(
                suite=s,
                anchor=f"suite-{i + 1}",
                cases=cases,
                case_chart=case_chart(cases),
                # a suite that was not optimized (a Python test's) has no candidates to chart
                lineage_chart=lineage_chart(s) if report.is_optimize and s.stages else None,
                delta_chart=delta_chart(s.baseline) if s.baseline is not None else None,
                best=s.prompt(s.best_prompt_id),
                chain_ids={p.id for p in s.best_chain()},
            )
        )
    return views


STAGE_FIELDS_SHOWN = 4


def stage_text(summary: dict[str, Any]) -> str:
    """A stage's summary for people: its headline, else a few of its plain figures."""
    headline = summary.get("headline")
    if isinstance(headline, str) and headline:
        extra = [
            f"{summary[k]} errored"
            for k in ("errors",)
            if isinstance(summary.get(k), int) and summary[k]
        ]
        return "; ".join([headline, *extra])
    plain = [
        f"{k.replace('_', ' ')} {fmt_value(v)}"
        for k, v in summary.items()
        if isinstance(v, (int, float, str, bool))
        and k not in ("duration_s", "calls", "cost_usd")
        and v not in ("", None)
    ]
    return shorten("; ".join(plain[:STAGE_FIELDS_SHOWN]), 200) or "\u2014"


FILTERS: dict[str, Any] = {
    "score": fmt_score,
    "pct": fmt_pct,
    "pct_ci": fmt_pct_ci,
    "score_ci": fmt_score_ci,
    "usd": fmt_usd,
    "num": fmt_int,
    "delta": fmt_delta,
    "duration": fmt_duration,
    "time": fmt_time,
    "value": fmt_value,
    "shorten": shorten,
    "block": shorten_block,
    "stage_text": stage_text,
}
"""The filters every template (the report's and the viewer's) formats figures with."""


def make_environment(*dirs: Path) -> Environment:
    """A jinja2 environment over `dirs` then the report's templates: autoescaping on for
    everything, strict about undefined names, with the report's filters."""
    env = Environment(
        loader=FileSystemLoader([str(d) for d in (*dirs, TEMPLATES_DIR)]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The report's jinja2 environment."""
    return make_environment()


def render_html(report: RunReport) -> str:
    """The whole HTML report for one run, as one self-contained page."""
    template = environment().get_template(TEMPLATE_NAME)
    return template.render(
        report=report,
        totals=report.totals,
        views=suite_views(report),
        kinds=SCORE_KINDS,
    )
