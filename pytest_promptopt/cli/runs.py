"""The commands that read runs: `runs`, `show`, `diff` and `best`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.cli.shared import emit, get_run, open_db, prompt_dict, warn_unfinished
from pytest_promptopt.redaction import escape_control, for_terminal, redact
from pytest_promptopt.stats import DEFAULT_MARGIN

if TYPE_CHECKING:
    from pytest_promptopt.storage import OptimizationRun, Repositories


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List recent runs, newest first."""
    from pytest_promptopt.cli.render import render_runs
    from pytest_promptopt.reporting.history import run_summary

    with open_db(ctx) as (_, repos):
        data = [run_summary(repos, run) for run in repos.runs.list_recent(limit)]
    emit(data, as_json, render_runs)


@click.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def show(ctx: click.Context, run: str, as_json: bool) -> None:
    """Show one run (an id or `latest`): settings, prompts, case results, stages, calls."""
    from pytest_promptopt.cli.render import render_show

    with open_db(ctx) as (_, repos):
        data = _show_data(repos, get_run(repos, run))
    emit(data, as_json, render_show)


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="exit 1 when a suite of RUN_B regressed against RUN_A (the baseline gate's test)",
)
@click.option(
    "--margin",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_MARGIN,
    show_default=True,
    help="the drop in mean score that counts as a regression",
)
@click.pass_context
def diff(
    ctx: click.Context, run_a: str, run_b: str, as_json: bool, fail_on_regression: bool,
    margin: float,
) -> None:  # fmt: skip
    """Compare two runs case by case, regressions first, and each suite with the paired test."""
    from pytest_promptopt.cli.render import render_diff
    from pytest_promptopt.reporting.history import diff_data

    with open_db(ctx) as (_, repos):
        first, second = get_run(repos, run_a), get_run(repos, run_b)
        warn_unfinished([first, second])
        data = diff_data(repos, first, second, margin)
    emit(data, as_json, render_diff)
    if fail_on_regression and data["regressed_suites"]:
        click.echo(for_terminal(f"regressed: {', '.join(data['regressed_suites'])}"), err=True)
        ctx.exit(1)


@click.command()
@click.argument("suite")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def best(ctx: click.Context, suite: str, as_json: bool) -> None:
    """Print the best prompt of SUITE from the latest finished optimize run."""
    with open_db(ctx) as (_, repos):
        prompt = repos.prompts.latest_best(suite)
        newer = repos.runs.unfinished_optimize_runs(suite, after=prompt.run_id if prompt else None)
        for run in newer:
            click.echo(
                f"note: skipped run {run.id}, which did not finish (status {run.status})",
                err=True,
            )
        if prompt is None:
            raise click.ClickException(
                f"no finished optimize run has a scored prompt for suite {suite!r}: "
                "run `pytest --optimize` first"
            )
        data = {"suite": suite, "run_id": prompt.run_id, **prompt_dict(prompt)}
        data["lineage"] = [p.id for p in repos.prompts.lineage(prompt.id)]
    if as_json:
        emit(data, True, None)
        return
    click.echo(
        for_terminal(
            f"suite {suite}: prompt #{data['id']} from run {data['run_id']}, "
            f"average score {data['average_score']:.3f}"
        ),
        err=True,
    )
    # Piped to a file the prompt stays as it is; on a terminal its controls are written out.
    text = redact(str(data["prompt_text"]))
    if sys.stdout.isatty():
        text = escape_control(text)
    click.echo(text, nl=sys.stdout.isatty() and not text.endswith("\n"))


def _judged_mean(cases: list[dict[str, Any]]) -> float | None:
    """The mean score over the cases that did not error (None when none was judged)."""
    scores = [c["score"] for c in cases if not c.get("error")]
    return sum(scores) / len(scores) if scores else None


def _public_settings(value: Any) -> Any:
    """Return settings with any password in a URL hidden (defence in depth)."""
    from pytest_promptopt.storage.urls import hide_password

    if isinstance(value, dict):
        return {key: _public_settings(item) for key, item in value.items()}
    if isinstance(value, str) and "://" in value:
        return hide_password(value)
    return value


def _show_data(repos: Repositories, run: OptimizationRun) -> dict[str, Any]:
    """Collect everything `promptopt show` prints about one run."""
    from pytest_promptopt.reporting.baseline import judged_results
    from pytest_promptopt.reporting.history import run_summary, run_usage

    prompts_repo = repos.prompts
    judged = judged_results(repos, run.id)
    suites = []
    for name in repos.runs.suites(run.id):
        prompts = prompts_repo.for_suite(run.id, name)
        info = judged.get(name, {"prompt_id": None, "cases": []})
        by_id = {p.id: p for p in prompts}
        judged_prompt = by_id.get(info["prompt_id"]) if info["prompt_id"] is not None else None
        best = prompts_repo.chosen(run.id, name)
        cases = info["cases"]
        suites.append(
            {
                "suite": name,
                "judged_prompt": prompt_dict(judged_prompt) if judged_prompt else None,
                "best_prompt_id": best.id if best else None,
                "lineage": [p.id for p in prompts_repo.lineage(best.id)] if best else [],
                "prompts": [prompt_dict(p) for p in prompts],
                "cases_passed": sum(1 for c in cases if c["passed"]),
                # errors have no score: the mean is over the cases that were judged
                "mean_score": _judged_mean(cases),
                "cases": cases,
            }
        )
    stages = [
        {
            "suite": s.suite,
            "stage": s.stage,
            "status": s.status,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
            "duration_s": (s.finished_at - s.started_at).total_seconds() if s.finished_at else None,
            "summary": s.summary,
        }
        for s in repos.stage_results.for_run(run.id)
    ]
    return {
        "run": run_summary(repos, run, judged),
        "settings": _public_settings(run.settings or {}),
        "summary": run.summary,
        "suites": suites,
        "stages": stages,
        "calls": run_usage(repos, run),
    }
