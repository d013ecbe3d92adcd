"""`promptopt label`: people label judged answers, in a terminal loop or from a file."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from pytest_promptopt.cli.shared import get_run, open_db
from pytest_promptopt.redaction import for_terminal

MAX_LABELLER = 255
RUN_HELP = "the run (an id or `latest`, the default)"


def labeller_name(given: str | None) -> str:
    """--labeller (or $PROMPTOPT_LABELLER), else the OS user; refused when empty or too long."""
    name = (given or "").strip()
    if not name:
        try:
            name = getpass.getuser().strip()
        except (OSError, KeyError):
            name = ""
    if not name:
        raise click.UsageError("no labeller name: pass --labeller NAME or set PROMPTOPT_LABELLER")
    if len(name) > MAX_LABELLER:
        raise click.BadParameter(f"at most {MAX_LABELLER} characters", param_hint="--labeller")
    return name


def _check_run_ref(ref: str) -> str:
    """`latest` or a run id; a usage error otherwise."""
    if ref != "latest" and not (ref.isdigit() and len(ref) <= 12):
        raise click.BadParameter(f"{ref!r} is not a run id or `latest`", param_hint="--run")
    return ref


@click.group(invoke_without_command=True)
@click.option("--run", "run_ref", default="latest", metavar="RUN", help=RUN_HELP)
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="only this suite")
@click.option(
    "--criterion",
    "criteria",
    multiple=True,
    metavar="NAME",
    help="label this criterion (repeatable; default: `overall`, the answer as a whole)",
)
@click.option(
    "--labeller",
    envvar="PROMPTOPT_LABELLER",
    default=None,
    metavar="NAME",
    help="who labels (default: $PROMPTOPT_LABELLER, else the OS user)",
)
@click.pass_context
def label(
    ctx: click.Context,
    run_ref: str,
    suites: tuple[str, ...],
    criteria: tuple[str, ...],
    labeller: str | None,
) -> None:
    """Label a run's judged answers one by one (the judge's verdict is shown after each).

    Answers you labelled before, in this run or in any run with the same answer, are left
    out; quit with `q` and run it again to go on. `label import FILE` reads labels from a file.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pytest_promptopt.cli.label_loop import KEYS, answer_of, label_answers
    from pytest_promptopt.reporting.baseline import judged_results
    from pytest_promptopt.storage import transaction
    from pytest_promptopt.storage.repositories import OVERALL, judged_criteria

    who = labeller_name(labeller)
    wanted = list(dict.fromkeys(criteria)) or [OVERALL]
    with open_db(ctx) as (db, _):
        with transaction(db) as repos:  # read, then let go: no lock held while a person reads
            run = get_run(repos, _check_run_ref(run_ref))
            run_suites = repos.runs.suites(run.id)
            unknown = [s for s in suites if s not in run_suites]
            if unknown:
                raise click.ClickException(for_terminal(
                    f"run {run.id} has no suite {', '.join(map(repr, unknown))}; "
                    f"its suites: {', '.join(run_suites) or 'none'}"
                ))  # fmt: skip
            prompts = {info["prompt_id"] for info in judged_results(repos, run.id).values()}
            chosen = suites or None
            judged = repos.labels.targets(run.id, suites=chosen, prompt_ids=prompts)
            scored = {OVERALL, *(c for t in judged for c in judged_criteria(t.evaluation))}
            missing = [c for c in wanted if c not in scored]
            if missing:
                raise click.ClickException(for_terminal(
                    f"criterion {', '.join(map(repr, missing))} was not judged in run {run.id}; "
                    f"its criteria: {', '.join(sorted(scored))}"
                ))  # fmt: skip
            targets = repos.labels.unlabelled(
                run.id, who, suites=chosen, criteria=wanted, prompt_ids=prompts
            )
            answers = [answer_of(t) for t in targets]
        if not answers:
            click.echo(for_terminal(
                f"run {run.id}: every judged answer has a label by {who} "
                f"({', '.join(wanted)}); nothing to label"
            ))  # fmt: skip
            return
        click.echo(for_terminal(
            f"run {run.id}: {len(answers)} answer(s) to label as {who} ({', '.join(wanted)}); "
            f"keys: {KEYS}, then Enter"
        ))  # fmt: skip
        tally = label_answers(db, answers, who)
    left = len(answers) - tally.answers
    line = f"wrote {tally.labels} label(s); {tally.answers} answer(s) labelled"
    if tally.skipped:
        line += f", {tally.skipped} skipped"
    line += f"; {left} left" if left else "; none left"
    if left:
        line += " (`promptopt label` goes on from the next one)"
    click.echo(for_terminal(line))


@label.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run", "run_ref", default=None, metavar="RUN", help=f"{RUN_HELP} of `case` rows")
@click.option("--suite", default=None, metavar="NAME", help="the suite of rows without one")
@click.option(
    "--labeller",
    envvar="PROMPTOPT_LABELLER",
    default=None,
    metavar="NAME",
    help="who labelled rows without a `labeller` (default: $PROMPTOPT_LABELLER, else the OS user)",
)
@click.pass_context
def label_import(
    ctx: click.Context, file: Path, run_ref: str | None, suite: str | None, labeller: str | None
) -> None:
    """Read labels from FILE: CSV with header `case,criterion,level` (or `pass`), or JSONL.

    `case` is the case's answer with sample 0 in the run (a `run` column, else --run, else the
    newest); `evaluation` names an answer by id. Nothing is written when a line is bad.
    """
    from pytest_promptopt.cli.label_file import read_rows
    from pytest_promptopt.cli.label_import import Defaults, import_rows

    parent = ctx.parent.params if ctx.parent is not None else {}
    given = Defaults(
        run=_check_run_ref(run_ref or parent.get("run_ref") or "latest"),
        suite=suite or (parent.get("suites") or (None,))[0],
        labeller=labeller_name(labeller or parent.get("labeller")),
    )
    rows, problems = read_rows(file)
    with open_db(ctx) as (_, repos):
        written = import_rows(repos, file, rows, given, problems)
    click.echo(for_terminal(
        f"imported {written.new + written.replaced} label(s) from {file}: {written.new} new, "
        f"{written.replaced} replaced"
    ))  # fmt: skip
