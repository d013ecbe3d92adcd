"""`promptopt judge-agreement`: how well the judge agrees with people's labels, per suite."""

from __future__ import annotations

from typing import Any

import click

from pytest_promptopt.cli.shared import emit, get_run, open_db
from pytest_promptopt.stats.agreement import MIN_AGREEMENT_LABELS

LEVEL_NAMES = ("1", "2", "3", "4", "5")


@click.command("judge-agreement")
@click.option("--suite", default=None, metavar="NAME", help="only this suite")
@click.option(
    "--run",
    "run_ref",
    default=None,
    metavar="RUN",
    help="compare the labels with this run's judgements (an id or `latest`; default: the "
    "newest judged evaluation of each labelled answer in the database)",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def judge_agreement(
    ctx: click.Context, suite: str | None, run_ref: str | None, as_json: bool
) -> None:
    """The judge against people's labels: per criterion and overall, the number of labels,
    exact agreement, quadratic-weighted kappa, Krippendorff's alpha, pass/fail kappa and the
    judge's bias, each with its 95% bootstrap interval, and the confusion matrix."""
    from pytest_promptopt.reporting.agreement import measured_suites

    with open_db(ctx) as (_, repos):
        run_id = get_run(repos, run_ref).id if run_ref is not None else None
        measured = measured_suites(repos, suite, run_id)
        labels = len(repos.labels.for_suite(suite))
    data = {
        "run_id": run_id,
        "labels": labels,
        "suites": {name: m.as_dict() for name, m in measured.items()},
    }
    emit(data, as_json, render_agreement)


def render_agreement(data: dict[str, Any]) -> str:
    """A table per suite, then each criterion's confusion matrix (judge rows, people columns)."""
    from pytest_promptopt.cli.render import table

    if not data["suites"]:
        where = f" in run {data['run_id']}" if data["run_id"] is not None else ""
        if not data["labels"]:
            return "no labels yet: `promptopt label` or `promptopt label import FILE` adds some"
        return f"{data['labels']} labels, but no judged evaluation of their answers{where}"
    out: list[str] = []
    for name, suite in data["suites"].items():
        out.append(
            f"suite {name}: {suite['labels']} labels of {suite['answers']} answers "
            f"(judge {', '.join(suite['judge_models']) or '?'}, "
            f"version {', '.join(suite['judge_versions']) or '?'})"
        )
        rows = [
            [
                criterion,
                figures["n"],
                _cell(figures, "exact"),
                _cell(figures, "kappa"),
                _cell(figures, "alpha"),
                figures["pass_n"],
                _cell(figures, "pass_kappa"),
                _cell(figures, "bias", signed=True),
            ]
            for criterion, figures in suite["criteria"].items()
        ]
        headers = ["criterion", "n", "exact", "kappa [95%]", "alpha [95%]", "pass n"]
        out.append(table([*headers, "pass kappa [95%]", "bias [95%]"], rows, indent="  "))
        few = [c for c, f in suite["criteria"].items() if 0 < f["n"] < MIN_AGREEMENT_LABELS]
        if few:
            out.append(
                f"  under {MIN_AGREEMENT_LABELS} labelled answers ({', '.join(few)}): these "
                "intervals rest on too few labels to mean much, and `min_judge_agreement` "
                "does not judge them"
            )
        for criterion, figures in suite["criteria"].items():
            if figures["n"]:
                out.append(f"  {criterion}: judge level (rows) by people's level (columns)")
                confusion = zip(LEVEL_NAMES, figures["confusion"], strict=True)
                cells = [[level, *row] for level, row in confusion]
                out.append(table(["", *LEVEL_NAMES], cells, indent="    "))
    return "\n".join(out)


def _cell(figures: dict[str, Any], name: str, signed: bool = False) -> str:
    """`0.62 [0.41, 0.80]`, or `-` with why not."""
    interval = figures["intervals"][name]
    value, low, high = interval["value"], interval["low"], interval["high"]
    if value is None:
        return f"- ({interval['reason']})" if interval["reason"] else "-"
    fmt = "{:+.2f}" if signed else "{:.2f}"
    if low is None or high is None:
        return fmt.format(value)
    return f"{fmt.format(value)} [{fmt.format(low)}, {fmt.format(high)}]"
