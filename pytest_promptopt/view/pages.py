"""Each page's data, from the path and query: what its template renders and /api/ returns.

A page's data is JSON-ready but for its `view` key (charts, report views), which only the
template reads and the API leaves out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.view.case import case_data, history_chart
from pytest_promptopt.view.compare import compare_data
from pytest_promptopt.view.labels import label_queue
from pytest_promptopt.view.optimize import optimize_data, prompt_data
from pytest_promptopt.view.runs import run_data, runs_data, trend_charts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_promptopt.storage import OptimizationRun, Repositories


class PageNotFound(LookupError):
    """The page names a run or prompt the database does not hold."""


def _run(repos: Repositories, run_id: Any) -> OptimizationRun:
    """The run of that id, or PageNotFound."""
    run = repos.runs.get(int(run_id))
    if run is None:
        raise PageNotFound(f"no run with id {run_id}")
    return run


def runs_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
              query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/`: every run, filtered by ?suite= and ?branch=, with a trend chart per suite."""
    data = runs_data(repos, query.get("suite") or None, query.get("branch") or None)
    data["view"] = {"charts": trend_charts(data)}
    return data


def run_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
             query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/runs/<id>`: the run's report: suites, gates and verdicts, the cases."""
    from pytest_promptopt.reporting.charts import SCORE_KINDS
    from pytest_promptopt.reporting.html import suite_views
    from pytest_promptopt.view.links import case_url

    data = run_data(viewer.db, repos, _run(repos, path["run_id"]))
    report = data["report"]
    data["view"] = {"views": suite_views(report), "kinds": SCORE_KINDS, "report": report,
                    "totals": report.totals,
                    "case_link": lambda c: case_url(report.run_id, c.suite, c.case_id)}  # fmt: skip
    return data


def case_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
              query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/runs/<id>/cases/<key>?suite=S`: one case, every sample, its history."""
    data = case_data(repos, _run(repos, path["run_id"]), path["key"], query.get("suite"))
    data["view"] = {"history_chart": history_chart(data)}
    return data


def compare_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
                 query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/compare/<a>/<b>`: run B against run A, flips first."""
    data = compare_data(repos, _run(repos, path["a"]), _run(repos, path["b"]))
    data["view"] = {}
    return data


def optimize_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
                  query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/runs/<id>/optimize?prompt=P`: the lineage trees, and one candidate's text and diff."""
    run = _run(repos, path["run_id"])
    data = optimize_data(repos, run)
    data["prompt"] = None
    if query.get("prompt"):
        try:
            data["prompt"] = prompt_data(repos, run, int(query["prompt"]))
        except ValueError:
            data["prompt"] = None
        if data["prompt"] is None:
            raise PageNotFound(f"run {run.id} has no prompt {query['prompt']}")
    data["view"] = {}
    return data


def label_page(viewer: Any, repos: Repositories, path: Mapping[str, Any],
               query: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """`/label?run=R`: the judged answers nobody labelled yet (writes need --labels)."""
    run_id = query.get("run")
    data = label_queue(repos, int(run_id) if run_id and run_id.isdigit() else None)
    data["labels_enabled"] = viewer.labels
    data["view"] = {}
    return data
