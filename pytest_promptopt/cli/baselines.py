"""The baseline commands: `bless` a run, list the `baselines`."""

from __future__ import annotations

from typing import Any

import click

from pytest_promptopt.cli.shared import cases_of, emit, finished, get_run, open_db


@click.command()
@click.argument("run", default="latest")
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="only this suite")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def bless(ctx: click.Context, run: str, suites: tuple[str, ...], as_json: bool) -> None:
    """Make RUN (an id or `latest`) the baseline of its suites (or of --suite NAME only)."""
    with open_db(ctx) as (_, repos):
        found = get_run(repos, run)
        if not finished(found):
            raise click.ClickException(
                f"run {found.id} did not finish (status {found.status}, "
                f"{cases_of(repos, found)}): it cannot be a baseline; bless a finished run "
                "(`promptopt runs` lists them)"
            )
        if found.status == "failed":
            click.echo(
                f"warning: run {found.id} failed (some cases failed or errored); it becomes the "
                "baseline all the same",
                err=True,
            )
        judged = repos.runs.suites(found.id)
        missing = [s for s in suites if s not in judged]
        if missing:
            raise click.ClickException(
                f"run {found.id} has no suite {', '.join(map(repr, missing))}; "
                f"its suites: {', '.join(judged) or 'none'}"
            )
        chosen = list(suites) or judged
        if not chosen:
            raise click.ClickException(f"run {found.id} judged no suite: nothing to bless")
        rows = repos.baselines.bless(found.id, chosen)
        data = [_baseline_dict(b) for b in rows]
    emit(data, as_json, lambda rows: "\n".join(
        f"blessed run {r['run_id']} as the baseline of {r['suite']}" for r in rows
    ))  # fmt: skip


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def baselines(ctx: click.Context, as_json: bool) -> None:
    """List each suite's current baseline run."""
    from pytest_promptopt.cli.render import table, when

    with open_db(ctx) as (_, repos):
        data = [_baseline_dict(b) for b in repos.baselines.current()]

    def render(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "no baselines yet: `promptopt bless [RUN]` makes one"
        cells = [[r["suite"], r["run_id"], when(r["blessed_at"])] for r in rows]
        return table(["suite", "run", "blessed at"], cells)

    emit(data, as_json, render)


def _baseline_dict(row: Any) -> dict[str, Any]:
    """A `baselines` row as JSON-ready data."""
    return {"suite": row.suite, "run_id": row.run_id, "blessed_at": row.blessed_at}
