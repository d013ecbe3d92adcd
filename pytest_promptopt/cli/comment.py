"""`promptopt comment --run NAME|ID`: the pull-request verdict of a run in GitHub Markdown.

The gates are `promptopt gate`'s (`cli.gate.decide` and `verdict_of` over the same records),
so the comment says what the gate decided; it only reads the database. A named run's records
are its shards'; a run without shards (an id) has its records rebuilt from its evaluations
(without `min_pass_rate`, which only the shards record: pass `--min-pass-rate`). `--post`
puts the comment on the job's pull request (`cli.github_comment`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.cli.gate import (
    decide,
    default_run_name,
    gate_options,
    joined_records,
    verdict_of,
)

if TYPE_CHECKING:
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.pr_comment import CommentInput
    from pytest_promptopt.storage import Database


def _resolve(db: Database, ref: str) -> tuple[int, str]:
    """The run `ref` names (a run name, else an id) and the name the comment shows."""
    from pytest_promptopt.storage import transaction

    with transaction(db) as repos:
        named = repos.shards.run_id(ref)
        if named is not None:
            return named, ref
        run = repos.runs.get(int(ref)) if ref.isdigit() else None
        if run is None:
            raise click.ClickException(f"--run {ref!r}: no run with that name or id")
        return run.id, run.name or f"run {run.id}"


def _records(db: Database, run_id: int) -> tuple[dict[str, list[CaseRecord]], list[str], bool]:
    """The run's records, why it is not whole (shards missing), and whether a shard failed."""
    from pytest_promptopt.cli.gate_wait import poll
    from pytest_promptopt.storage import transaction
    from pytest_promptopt.view.records import run_records

    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        assert run is not None
        name = run.name
        if name is None or not repos.shards.for_run(run_id):
            failed = run.status == "failed"
            said = [f"run {run_id}'s session failed (status {run.status})"] if failed else []
            return run_records(repos, run), said, failed
    joined = poll(db, name)
    problems = [] if joined.complete else joined.problems()
    failed_shards = [s for s in joined.shards if s.status == "failed"]
    if failed_shards:
        shown = ", ".join(f"{s.shard}/{s.total}" for s in failed_shards)
        where = "" if joined.totals == {1} else f" in shard {shown}"
        problems.append(f"cases failed{where}: the run fails, as those sessions did")
    return joined_records(joined), problems, bool(failed_shards)


def build_input(
    db: Database,
    ref: str,
    baseline: str | None,
    min_pass_rate: float | None,
    margin: float | None,
) -> CommentInput:
    """Everything the comment shows, decided as `promptopt gate` decides."""
    from pytest_promptopt.cli.gate_wait import Joined
    from pytest_promptopt.evaluation.record import SuiteTotals
    from pytest_promptopt.reporting.baseline import judged_results
    from pytest_promptopt.reporting.history import run_usage
    from pytest_promptopt.reporting.pr_comment import CommentInput
    from pytest_promptopt.storage import transaction

    run_id, name = _resolve(db, ref)
    records, problems, shard_failed = _records(db, run_id)
    if min_pass_rate is not None:
        records = {
            s: [r.model_copy(update={"min_pass_rate": min_pass_rate}) for r in rows]
            for s, rows in records.items()
        }
    gates = decide(db, Joined(name, run_id), records, baseline, margin)
    verdict = verdict_of(db, run_id, records, gates)
    data = CommentInput(
        run_id=run_id,
        name=name,
        failed=gates.failed or shard_failed or bool(problems),
        gates=gates,
        verdict=verdict,
        totals={s: SuiteTotals.of(s, rows) for s, rows in records.items()},
        judged={},
        problems=problems,
    )
    bases = sorted({r.baseline_run_id for r in (gates.baselines or {}).values()})
    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        assert run is not None
        data.judged = judged_results(repos, run_id)
        data.usage = _usage(run_usage(repos, run))
        for base_id in bases:
            base = repos.runs.get(base_id)
            if base is None:
                continue
            data.baseline_judged[base_id] = judged_results(repos, base_id)
            data.baseline_usage[base_id] = _usage(run_usage(repos, base))
    for base_id in data.baseline_usage:
        base_records = _records(db, base_id)[0]
        if _from_shards(db, base_id) == _from_shards(db, run_id):  # counted alike
            data.baseline_totals[base_id] = {
                s: SuiteTotals.of(s, rows) for s, rows in base_records.items()
            }
    return data


def _from_shards(db: Database, run_id: int) -> bool:
    """True when the run's records are its shards' (they count every call of a case); False
    when they are rebuilt from its evaluations (the judged samples' calls only)."""
    from pytest_promptopt.storage import transaction

    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        return run is not None and run.name is not None and bool(repos.shards.for_run(run_id))


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    """A run's usage as the comment reads it."""
    return {k: usage.get(k) for k in ("calls", "cache_hits", "input_tokens", "output_tokens",
                                      "cost_usd")}  # fmt: skip


def add_links(data: CommentInput, link_base: str | None, report_url: str | None) -> None:
    """Cases and comparisons linked to the viewer at `link_base`; the report at `report_url`."""
    from pytest_promptopt.reporting.gfm import checked_base, join_url
    from pytest_promptopt.view.links import case_url

    try:
        base = checked_base(link_base, "--link-base")
        data.report_url = checked_base(report_url, "--report-url")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if base is not None:
        data.case_url = lambda run, suite, case: join_url(base, case_url(run, suite, case))
        data.compare_url = lambda a, b: join_url(base, f"/compare/{a}/{b}")


@click.command()
@click.option(
    "--run",
    "ref",
    default=None,
    metavar="NAME|ID",
    help="the run: its name (as the shards used) or its id "
    "(default: PROMPTOPT_RUN_NAME, else gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>)",
)
@gate_options
@click.option(
    "--link-base",
    default=None,
    metavar="URL",
    help="where the team's `promptopt view` runs: cases and comparisons link there",
)
@click.option(
    "--report-url",
    default=None,
    metavar="URL",
    help="where the run's report is (e.g. the workflow run's artifacts page)",
)
@click.option(
    "--post",
    is_flag=True,
    help="post or update the sticky comment on the job's pull request "
    "(GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH)",
)
@click.pass_context
def comment(
    ctx: click.Context,
    ref: str | None,
    baseline: str | None,
    min_pass_rate: float | None,
    regression_margin: float | None,
    link_base: str | None,
    report_url: str | None,
    post: bool,
) -> None:  # fmt: skip
    """Write a run's pull-request verdict as GitHub Markdown (stdout), or post it (--post)."""
    from pytest_promptopt.reporting.pr_comment import MARKER, render_comment
    from pytest_promptopt.storage import Database

    ref = ref or default_run_name()
    if not ref:
        raise click.UsageError("--run NAME|ID is required (or set PROMPTOPT_RUN_NAME)")
    db = Database(ctx.find_root().obj["url"])
    try:
        db.ensure_schema()
        data = build_input(db, ref, baseline, min_pass_rate, regression_margin)
    finally:
        db.dispose()
    add_links(data, link_base, report_url)
    body = render_comment(data)
    click.echo(body, nl=False)
    if post:
        from pytest_promptopt.cli.github_comment import post_comment

        posted = post_comment(body, MARKER)
        if posted is None:
            click.echo("promptopt comment: not a pull request's event: nothing posted", err=True)
        else:
            click.echo(f"promptopt comment: {posted.action} comment {posted.comment_id} "
                       f"{posted.url}".rstrip(), err=True)  # fmt: skip
