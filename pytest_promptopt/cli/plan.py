"""`promptopt plan`: the cases and samples a suite needs to detect a change, from its history."""

from __future__ import annotations

from typing import Any

import click

from pytest_promptopt.cli.shared import emit, get_run, open_db


@click.command()
@click.option("--suite", required=True, metavar="NAME", help="the suite to plan for")
@click.option(
    "--detect",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    required=True,
    metavar="D",
    help="the change of the mean score to detect (e.g. 0.05)",
)
@click.option("--run", "run_ref", default=None, metavar="RUN", help="newest run to read (id)")
@click.option(
    "--power",
    type=click.FloatRange(0.5, 0.99),
    default=0.8,
    show_default=True,
    help="the chance of detecting a change of D",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def plan(
    ctx: click.Context, suite: str, detect: float, run_ref: str | None, power: float, as_json: bool
) -> None:
    """Say how many cases (or samples per case) SUITE needs for the baseline gate to detect a
    mean change of D with --power, from the spread of its per-case changes between its newest
    runs (up to --run) at the baseline rule's alpha."""
    from pytest_promptopt.reporting.suite_history import suite_history
    from pytest_promptopt.stats import RULES
    from pytest_promptopt.stats.plan import plan as make_plan

    alpha = RULES["baseline"].alpha
    with open_db(ctx) as (_, repos):
        up_to = None if run_ref is None else get_run(repos, run_ref).id
        history = suite_history(repos, suite, up_to)
    data: dict[str, Any] = {
        "suite": suite,
        "detect": detect,
        "power": power,
        "alpha": alpha,
        "runs": history.runs,
        "cases": history.cases,
        "pairs": history.pairs,
        "paired_cases": history.paired_cases,
        "enough_history": history.spread is not None,
        "source": history.source or None,
    }
    if history.spread is None:
        data["message"] = f"history too thin to say: {history.thin}"
    else:
        spread = history.spread
        found = make_plan(spread, history.cases, detect, alpha, power)
        data |= {
            "samples": found.samples,
            "sd": round(spread.sd, 6),
            "within_sd": None if spread.within_sd is None else round(spread.within_sd, 6),
            "design_effect": round(spread.design_effect, 4),
            "detects": None if found.detects is None else round(found.detects, 6),
            "cases_needed": found.cases_needed,
            "samples_needed": found.samples_needed,
            "message": f"suite {suite}: {found.describe()}",
        }
    emit(data, as_json, _render)


def _render(data: dict[str, Any]) -> str:
    """The plan as a few lines of text."""
    lines = [str(data["message"])]
    if data["enough_history"]:
        runs = ", ".join(str(r) for r in data["runs"])
        within = "" if data["within_sd"] is None else f", within a case {data['within_sd']:.3f}"
        lines.append(
            f"from {data['source']} (runs {runs}): sd of the per-case change {data['sd']:.3f}"
            f"{within}, design effect {data['design_effect']:.2f}"
        )
    return "\n".join(lines)
