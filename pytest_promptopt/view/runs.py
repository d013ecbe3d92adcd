"""The data of the Runs and Run pages: every run with its figures, one run as its report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.reporting.trend import Series, TrendPoint, trend_chart
from pytest_promptopt.stats import DEFAULT_MARGIN, mean_interval, wilson_interval
from pytest_promptopt.view.records import run_records

if TYPE_CHECKING:
    from pytest_promptopt.reporting.charts import Chart
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.storage import Database, OptimizationRun, Repositories

RUNS_SHOWN = 200


def git_info(run: OptimizationRun) -> dict[str, str | None]:
    """The git commit and branch a run recorded in its settings, where it did."""
    git = (run.settings or {}).get("git") or {}
    return {"commit": git.get("commit"), "branch": git.get("branch")}


def suite_figures(name: str, records: list[Any]) -> dict[str, Any]:
    """A suite's pass rate and mean score, each with its 95% interval, from its records."""
    judged = [r.score for r in records if r.error is None]
    passed = sum(r.passed for r in records)
    return {
        "suite": name,
        "cases": len(records),
        "passed": passed,
        "pass_rate": passed / len(records) if records else None,
        "pass_rate_ci": wilson_interval(passed, len(records)),
        "mean_score": sum(judged) / len(judged) if judged else None,
        "mean_score_ci": mean_interval(judged),
    }


def run_row(repos: Repositories, run: OptimizationRun) -> dict[str, Any]:
    """One line of the Runs page: `promptopt runs`' facts, the git info and each suite's figures."""
    from pytest_promptopt.reporting.history import run_usage

    records = run_records(repos, run)
    flat = [r for rows in records.values() for r in rows]
    usage = run_usage(repos, run)
    finished = run.finished_at
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "duration_s": (finished - run.started_at).total_seconds() if finished else None,
        "mode": run.mode,
        "status": run.status,
        "git": git_info(run),
        "suites": [suite_figures(name, rows) for name, rows in records.items()],
        **{k: v for k, v in suite_figures("", flat).items() if k != "suite"},
        "calls": usage["calls"],
        "cache_hits": usage.get("cache_hits"),
        "cost_usd": usage["cost_usd"],
    }


def runs_data(
    repos: Repositories, suite: str | None = None, branch: str | None = None
) -> dict[str, Any]:
    """Every run (newest first), filtered by suite and branch, with the filters' choices."""
    rows = [run_row(repos, run) for run in repos.runs.list_recent(RUNS_SHOWN)]
    suites = sorted({s["suite"] for r in rows for s in r["suites"]})
    branches = sorted({r["git"]["branch"] for r in rows if r["git"]["branch"]})
    if suite:
        rows = [r for r in rows if any(s["suite"] == suite for s in r["suites"])]
    if branch:
        rows = [r for r in rows if r["git"]["branch"] == branch]
    return {"runs": rows, "suites": suites, "branches": branches,
            "filters": {"suite": suite, "branch": branch}}  # fmt: skip


def trend_charts(data: dict[str, Any]) -> list[Chart]:
    """Per suite: its pass rate and mean score over the runs shown, each with its interval."""
    charts = []
    for name in data["suites"]:
        if data["filters"]["suite"] and name != data["filters"]["suite"]:
            continue
        passes, scores = [], []
        for run in data["runs"]:
            for s in run["suites"]:
                if s["suite"] != name:
                    continue
                if s["pass_rate"] is not None:
                    passes.append(TrendPoint(run["id"], s["pass_rate"], *(s["pass_rate_ci"] or ())))
                if s["mean_score"] is not None:
                    scores.append(
                        TrendPoint(run["id"], s["mean_score"], *(s["mean_score_ci"] or ()))
                    )
        chart = trend_chart(
            f"{name}: pass rate and mean score per run",
            [
                Series("pass rate", "trend-pass", passes),
                Series("mean score", "trend-score", scores),
            ],
            width=520.0,
        )
        if chart is not None:
            charts.append(chart)
    return charts


def run_report(db: Database, repos: Repositories, run: OptimizationRun) -> RunReport:
    """The run's report (as report.html shows it) from the database, with its baselines."""
    from pytest_promptopt.reporting.baseline import compare_with_baselines
    from pytest_promptopt.reporting.build import build_report

    records = run_records(repos, run)
    report = build_report(db, run.id, records)
    settings = run.settings or {}
    if settings.get("baseline"):
        margin = settings.get("regression_margin", DEFAULT_MARGIN)
        found = compare_with_baselines(db, run.id, list(records), margin=margin)
        for s in report.suites:
            s.baseline = found.get(s.name)
    return report


def run_data(db: Database, repos: Repositories, run: OptimizationRun) -> dict[str, Any]:
    """The Run page's data: the report, the git info and the baselines to compare with."""
    report = run_report(db, repos, run)
    blessed = {b.suite: b.run_id for b in repos.baselines.current()}
    return {
        "report": report,
        "git": git_info(run),
        "baselines": {
            s.name: blessed[s.name]
            for s in report.suites
            if blessed.get(s.name) not in (None, run.id)
        },
        "optimize": report.is_optimize,
    }
