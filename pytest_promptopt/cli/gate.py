"""`promptopt gate --run NAME`: the gate job of a sharded CI run.

Waits until every shard of the named run has finished, then applies the suite-level gates the
shards deferred (pass rate, baseline, variants) over the case records of all of them, with the
same code a session uses (`reporting.run_gates`), prints the summary a single session would
have printed, writes the reports, and exits 1 on a failure (a gate, or a shard whose cases
failed), 2 when shards are missing at the timeout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.redaction import for_terminal, redact

if TYPE_CHECKING:
    from pytest_promptopt.cli.gate_wait import Joined
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.reporting.run_gates import RunGates
    from pytest_promptopt.reporting.verdict import SessionVerdict
    from pytest_promptopt.storage import Database

DEFAULT_TIMEOUT_S = 600.0


class _Echo:
    """What the summary writer needs of a terminal reporter, on stdout."""

    def write_sep(self, sep: str, title: str) -> None:
        click.echo(f" {title} ".center(79, sep))

    def write_line(self, line: str, **markup: bool) -> None:
        click.echo(click.style(line, fg="red") if markup.get("red") else line)


def default_run_name() -> str | None:
    """PROMPTOPT_RUN_NAME, else the GitHub Actions default the shards took."""
    from pytest_promptopt.settings.resolve import github_run_name

    return os.environ.get("PROMPTOPT_RUN_NAME") or github_run_name()


def joined_records(joined: Joined) -> dict[str, list[CaseRecord]]:
    """Every shard's case records, grouped by suite (shards in order)."""
    from pytest_promptopt.evaluation.record import by_suite
    from pytest_promptopt.records.case import CaseRecord

    rows = [CaseRecord.model_validate(r) for s in joined.shards for r in s.records]
    return by_suite(rows)


def baseline_run(db: Database, ref: str) -> int:
    """The run a `--baseline RUN` names: an id or a run name."""
    from pytest_promptopt.storage import transaction

    with transaction(db) as repos:
        found = repos.runs.get(int(ref)) if ref.isdigit() else None
        run_id = found.id if found is not None else repos.shards.run_id(ref)
    if run_id is None:
        raise click.ClickException(f"--baseline {ref!r}: no run with that id or name")
    return int(run_id)


def run_settings(db: Database, run_id: int) -> dict[str, Any]:
    """The settings the run was started with (its first shard's)."""
    from pytest_promptopt.storage import transaction

    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        return dict(run.settings or {}) if run is not None else {}


def decide(
    db: Database,
    joined: Joined,
    records: dict[str, list[CaseRecord]],
    baseline: str | None,
    margin: float | None,
) -> RunGates:
    """The suite-level gates over the joined run, configured as the shards were unless told."""
    from pytest_promptopt.reporting.run_gates import decide_gates

    assert joined.run_id is not None
    settings = run_settings(db, joined.run_id)
    compare = baseline is not None or bool(settings.get("baseline"))
    against = None if baseline in (None, "blessed") else baseline_run(db, str(baseline))
    return decide_gates(
        db,
        joined.run_id,
        records,
        baseline=compare,
        margin=margin if margin is not None else float(settings.get("regression_margin", 0.02)),
        against=against,
    )


def verdict_of(
    db: Database, run_id: int, records: dict[str, list[CaseRecord]], gates: RunGates
) -> SessionVerdict:
    """The verdict a single session would have reached, from the joined records and gates."""
    from pytest_promptopt.evaluation.variants import variant_comparisons
    from pytest_promptopt.reporting.run_gates import agreement_findings_of
    from pytest_promptopt.reporting.verdict import build_verdict, spend_by_role

    return build_verdict(
        records,
        pass_rates=gates.pass_rates,
        baselines=gates.baselines,
        variants=variant_comparisons(records),
        roles=spend_by_role(db, run_id),
        baseline_error=gates.baseline_error,
        more_gates=agreement_findings_of(gates.agreement) if gates.agreement else [],
    )


def write_run_reports(
    db: Database,
    run_id: int,
    records: dict[str, list[CaseRecord]],
    gates: RunGates,
    verdict: SessionVerdict,
    report_dir: Path,
) -> tuple[Path, RunReport]:
    """The run's reports, as the session writes them: their folder, and the report."""
    from pytest_promptopt.reporting.build import build_report
    from pytest_promptopt.reporting.writers import write_reports

    report = build_report(db, run_id, records)
    report.verdict = verdict
    agreements = gates.agreement.agreements if gates.agreement is not None else {}
    for suite in report.suites:
        suite.baseline = (gates.baselines or {}).get(suite.name)
        measured = agreements.get(suite.name)
        suite.judge_agreement = measured.as_dict() if measured is not None else None
    return write_reports(report, report_dir).run_dir, report


def print_summary(
    records: dict[str, list[CaseRecord]],
    gates: RunGates,
    verdict: SessionVerdict,
    report: tuple[Path, RunReport],
    shard_lines: list[str],
    judge_model: str | None,
) -> None:
    """The `promptopt` section a single session would print, then the shards."""
    from pytest_promptopt.evaluation.record import SuiteTotals
    from pytest_promptopt.reporting.run_gates import agreement_lines_of
    from pytest_promptopt.reporting.session_summary import suite_lines, variant_lines, write_summary

    totals = [SuiteTotals.of(name, rows) for name, rows in records.items()]
    write_summary(
        _Echo(),
        verdict,
        suite_lines(totals, {}, {s.name: s for s in report[1].suites}, {}),
        report[0],
        gates.baselines,
        gates=gates.pass_rates,
        records=records,
        after_suites=[*variant_lines(records), *shard_lines],
        agreement=agreement_lines_of(gates.agreement, judge_model) if gates.agreement else None,
    )


def gate_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `promptopt gate` and `promptopt comment` share: the baseline, the minimum
    pass rate and the regression margin, so both decide a run the same way."""
    options = (
        click.option(
            "--baseline",
            default=None,
            metavar="blessed|RUN",
            help="compare each suite with its blessed baseline (`blessed`) or with run RUN (an "
            "id or a run name); default: as the shards were configured (--promptopt-baseline)",
        ),
        click.option(
            "--min-pass-rate",
            type=click.FloatRange(0.0, 1.0),
            default=None,
            metavar="X",
            help="every suite's minimum pass rate (overrides the shards' min_pass_rate)",
        ),
        click.option(
            "--regression-margin",
            type=click.FloatRange(0.0, 1.0),
            default=None,
            help="the drop in mean score that counts as a regression (default: the shards')",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@click.option(
    "--run",
    "name",
    default=None,
    metavar="NAME",
    help="the run name the shards used "
    "(default: PROMPTOPT_RUN_NAME, else gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>)",
)
@gate_options
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.0),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="seconds to wait for the shards to finish",
)
@click.option("--poll", "poll_s", type=click.FloatRange(min=0.01), default=2.0, hidden=True)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="where reports go (default: <rootdir>/.promptopt/reports)",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def gate(
    ctx: click.Context,
    name: str | None,
    baseline: str | None,
    min_pass_rate: float | None,
    regression_margin: float | None,
    timeout_s: float,
    poll_s: float,
    report_dir: Path | None,
    as_json: bool,
) -> None:
    """Wait for every shard of a named run, apply the suite-level gates, report; exit 1 on a
    failure, 2 when shards are missing."""
    from pytest_promptopt.cli.gate_wait import wait_for_shards
    from pytest_promptopt.storage import Database, transaction

    name = name or default_run_name()
    if not name:
        raise click.UsageError("--run NAME is required (or set PROMPTOPT_RUN_NAME)")
    db = Database(ctx.find_root().obj["url"])
    try:
        db.ensure_schema()
        joined = wait_for_shards(db, name, timeout_s, poll_s)
        if not joined.complete:
            _missing(joined, as_json)
            ctx.exit(2)
        assert joined.run_id is not None
        records = joined_records(joined)
        if min_pass_rate is not None:
            records = {
                s: [r.model_copy(update={"min_pass_rate": min_pass_rate}) for r in rows]
                for s, rows in records.items()
            }
        gates = decide(db, joined, records, baseline, regression_margin)
        verdict = verdict_of(db, joined.run_id, records, gates)
        failed_shards = [s for s in joined.shards if s.status == "failed"]
        failed = gates.failed or bool(failed_shards)
        shard_lines = [
            f"shards: {len(joined.shards)} of run {name!r} finished"
            + (f", {len(failed_shards)} with failed cases: " if failed_shards else "")
            + ", ".join(f"{s.shard}/{s.total}" for s in failed_shards)
        ]
        out_dir = report_dir or _default_report_dir()
        report = write_run_reports(db, joined.run_id, records, gates, verdict, out_dir)
        with transaction(db) as repos:
            repos.runs.finish(joined.run_id, "failed" if failed else "passed")
        if as_json:
            click.echo(
                redact(json.dumps(_json(joined, gates, verdict, failed, report[0]), indent=2))
            )
        else:
            settings = run_settings(db, joined.run_id)
            judge = settings.get("judge_model") or settings.get("model")
            print_summary(records, gates, verdict, report, shard_lines, judge)
            click.echo(
                f"promptopt gate: run {for_terminal(name)!r} {'FAILED' if failed else 'passed'}"
            )
    finally:
        db.dispose()
    if failed:
        ctx.exit(1)


def _default_report_dir() -> Path:
    """`<rootdir>/.promptopt/reports`, the rootdir found as pytest finds it."""
    from pytest_promptopt.cli.project import find_rootdir

    return find_rootdir(Path.cwd().resolve())[0] / ".promptopt" / "reports"


def _missing(joined: Joined, as_json: bool) -> None:
    """Say which shards are missing (stderr), or print them as JSON."""
    problems = joined.problems()
    if as_json:
        data = {"run": joined.name, "run_id": joined.run_id, "status": "missing",
                "missing": joined.missing, "problems": problems}  # fmt: skip
        click.echo(redact(json.dumps(data, indent=2)))
        return
    click.echo(f"promptopt gate: run {for_terminal(joined.name)!r} is incomplete:", err=True)
    for line in problems:
        click.echo("  " + for_terminal(line), err=True)


def _json(
    joined: Joined, gates: RunGates, verdict: SessionVerdict, failed: bool, report_dir: Path
) -> dict[str, Any]:
    """The gate's outcome as JSON data."""
    return {
        "run": joined.name,
        "run_id": joined.run_id,
        "status": "failed" if failed else "passed",
        "shards": [{"shard": s.shard, "total": s.total, "status": s.status} for s in joined.shards],
        "pass_rates": [g.model_dump(mode="json") | {"failed": g.failed} for g in gates.pass_rates],
        "baselines": None
        if gates.baselines is None
        else {
            k: v.model_dump(mode="json") | {"regressed": v.regressed}
            for k, v in gates.baselines.items()
        },
        "baseline_error": gates.baseline_error,
        "gates": [f.model_dump(mode="json") for f in verdict.gates],
        "reports": str(report_dir),
    }
