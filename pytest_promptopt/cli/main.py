"""The `promptopt` command line: read runs, results and best prompts from the database."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.redaction import escape_control, for_terminal, redact
from pytest_promptopt.stats import DEFAULT_MARGIN

if TYPE_CHECKING:
    from pytest_promptopt.storage import Database, OptimizationRun, Prompt, Repositories


def _judged_mean(cases: list[dict[str, Any]]) -> float | None:
    """The mean score over the cases that did not error (None when none was judged)."""
    scores = [c["score"] for c in cases if not c.get("error")]
    return sum(scores) / len(scores) if scores else None


class MissingDatabaseError(click.ClickException):
    """The SQLite file named by --db does not exist (exit code 2)."""

    exit_code = 2


class _Group(click.Group):
    """A group that turns the plugin's and SQLAlchemy's errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; report expected errors without a traceback."""
        try:
            return super().invoke(ctx)
        except PromptOptError as exc:
            raise click.ClickException(for_terminal(str(exc))) from exc
        except Exception as exc:
            from pytest_promptopt.storage.database import is_driver_error

            if is_driver_error(exc):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise click.ClickException(for_terminal(f"database error: {first}")) from exc
            raise


def resolve_url(value: str | None) -> str:
    """Return the database URL for --db: a URL as is, a plain path as a SQLite file; without
    one, the project's database, found as pytest finds its rootdir and ini."""
    if not value:
        from pytest_promptopt.cli.project import locate

        return locate(Path.cwd()).url
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    return value


@contextmanager
def _open(ctx: click.Context, create: bool = False) -> Iterator[tuple[Database, Repositories]]:
    """Open the database of --db (refusing to create it unless asked); yield its repositories."""
    from pytest_promptopt.storage import Database, transaction

    db = Database(ctx.find_root().obj["url"])
    path = db.sqlite_path
    if not create and path is not None and not path.exists():
        if ctx.find_root().obj.get("located"):
            from pytest_promptopt.cli.project import locate

            raise MissingDatabaseError(locate(Path.cwd()).missing_message())
        raise MissingDatabaseError(
            f"no promptopt database at {path}: run pytest with the plugin first, "
            "or pass --db URL (or set PROMPTOPT_DB)"
        )
    try:
        db.ensure_schema()
        with transaction(db) as repos:
            repos.runs.mark_abandoned()  # runs whose process is gone stop showing `running`
        with transaction(db) as repos:
            yield db, repos
    finally:
        db.dispose()


def _emit(data: Any, as_json: bool, render: Any) -> None:
    """Print `data` as JSON or through its human renderer.

    JSON escapes control characters itself; the human text has them written out (`\\x1b`), so
    an answer or a case id cannot drive the terminal. Both lose any secret.
    """
    if as_json:
        click.echo(redact(json.dumps(data, indent=2, default=str)))
    else:
        click.echo(for_terminal(render(data)))


def _get_run(repos: Repositories, ref: str) -> OptimizationRun:
    """Return the run named by an id or `latest`; raise a ClickException otherwise."""
    runs = repos.runs
    if ref == "latest":
        run = runs.latest()
        if run is None:
            raise click.ClickException("the database holds no runs yet")
        return run
    try:
        run_id = int(ref)
    except ValueError:
        raise click.ClickException(f"RUN must be a run id or 'latest', got {ref!r}") from None
    found = runs.get(run_id)
    if found is None:
        raise click.ClickException(f"no run with id {run_id} (see `promptopt runs`)")
    return found


def _prompt_dict(prompt: Prompt) -> dict[str, Any]:
    """Return a prompt row as JSON-ready data."""
    return {
        "id": prompt.id,
        "stage": prompt.stage,
        "strategy": prompt.strategy,
        "parent_prompt_id": prompt.parent_prompt_id,
        "track_id": prompt.track_id,
        "iteration": prompt.iteration,
        "is_original_system_prompt": prompt.is_original_system_prompt,
        "quick_score": prompt.quick_score,
        "rigorous_score": prompt.rigorous_score,
        "average_score": prompt.average_score,
        "prompt_text": prompt.prompt_text,
    }


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
    from pytest_promptopt.cli.render import run_summary, run_usage
    from pytest_promptopt.reporting.baseline import judged_results

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
                "judged_prompt": _prompt_dict(judged_prompt) if judged_prompt else None,
                "best_prompt_id": best.id if best else None,
                "lineage": [p.id for p in prompts_repo.lineage(best.id)] if best else [],
                "prompts": [_prompt_dict(p) for p in prompts],
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


@click.group(cls=_Group, name="promptopt")
@click.option(
    "--db",
    envvar="PROMPTOPT_DB",
    default=None,
    metavar="URL",
    help="database URL or SQLite file path (default: the project's, found as pytest finds its "
    "rootdir and ini from the current directory up: promptopt_db, else "
    "<rootdir>/.promptopt/promptopt.db)",
)
@click.version_option(package_name="pytest-promptopt", prog_name="promptopt")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Inspect pytest-promptopt runs, compare them and fetch optimized prompts."""
    ctx.obj = {"url": resolve_url(db), "located": not db}


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List recent runs, newest first."""
    from pytest_promptopt.cli.render import render_runs, run_summary

    with _open(ctx) as (_, repos):
        data = [run_summary(repos, run) for run in repos.runs.list_recent(limit)]
    _emit(data, as_json, render_runs)


@main.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def show(ctx: click.Context, run: str, as_json: bool) -> None:
    """Show one run (an id or `latest`): settings, prompts, case results, stages, calls."""
    from pytest_promptopt.cli.render import render_show

    with _open(ctx) as (_, repos):
        data = _show_data(repos, _get_run(repos, run))
    _emit(data, as_json, render_show)


@main.command()
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
    from pytest_promptopt.cli.render import diff_data, render_diff

    with _open(ctx) as (_, repos):
        first, second = _get_run(repos, run_a), _get_run(repos, run_b)
        _warn_unfinished([first, second])
        data = diff_data(repos, first, second, margin)
    _emit(data, as_json, render_diff)
    if fail_on_regression and data["regressed_suites"]:
        click.echo(for_terminal(f"regressed: {', '.join(data['regressed_suites'])}"), err=True)
        ctx.exit(1)


@main.command()
@click.argument("run", default="latest")
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="only this suite")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def bless(ctx: click.Context, run: str, suites: tuple[str, ...], as_json: bool) -> None:
    """Make RUN (an id or `latest`) the baseline of its suites (or of --suite NAME only)."""
    with _open(ctx) as (_, repos):
        found = _get_run(repos, run)
        if not _finished(found):
            raise click.ClickException(
                f"run {found.id} did not finish (status {found.status}, "
                f"{_cases_of(repos, found)}): it cannot be a baseline; bless a finished run "
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
    _emit(data, as_json, lambda rows: "\n".join(
        f"blessed run {r['run_id']} as the baseline of {r['suite']}" for r in rows
    ))  # fmt: skip


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def baselines(ctx: click.Context, as_json: bool) -> None:
    """List each suite's current baseline run."""
    from pytest_promptopt.cli.render import table, when

    with _open(ctx) as (_, repos):
        data = [_baseline_dict(b) for b in repos.baselines.current()]

    def render(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "no baselines yet: `promptopt bless [RUN]` makes one"
        cells = [[r["suite"], r["run_id"], when(r["blessed_at"])] for r in rows]
        return table(["suite", "run", "blessed at"], cells)

    _emit(data, as_json, render)


def _finished(run: OptimizationRun) -> bool:
    """True for a run that ran to its end (`passed` or `failed`)."""
    from pytest_promptopt.storage.repositories import FINISHED_RUN_STATUSES

    return run.status in FINISHED_RUN_STATUSES


def _cases_of(repos: Repositories, run: OptimizationRun) -> str:
    """`6 of 40 cases judged`: how far a run got."""
    judged = sum(len(v["cases"]) for v in _judged(repos, run.id).values())
    total = len(repos.test_cases.for_run(run.id, stage="given"))
    return f"{judged} of {total} cases judged"


def _judged(repos: Repositories, run_id: int) -> dict[str, dict[str, Any]]:
    from pytest_promptopt.reporting.baseline import judged_results

    return judged_results(repos, run_id)


def _warn_unfinished(runs: list[OptimizationRun]) -> None:
    """A warning on stderr for each run that did not finish."""
    for run in runs:
        if not _finished(run):
            click.echo(
                f"warning: run {run.id} did not finish (status {run.status}): "
                "its results are partial",
                err=True,
            )


def _baseline_dict(row: Any) -> dict[str, Any]:
    """A `baselines` row as JSON-ready data."""
    return {"suite": row.suite, "run_id": row.run_id, "blessed_at": row.blessed_at}


@main.command()
@click.argument("suite")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def best(ctx: click.Context, suite: str, as_json: bool) -> None:
    """Print the best prompt of SUITE from the latest finished optimize run."""
    with _open(ctx) as (_, repos):
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
        data = {"suite": suite, "run_id": prompt.run_id, **_prompt_dict(prompt)}
        data["lineage"] = [p.id for p in repos.prompts.lineage(prompt.id)]
    if as_json:
        _emit(data, True, None)
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


@main.group()
def cache() -> None:
    """Export the response cache to a reviewable JSONL file, or import one."""


@cache.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--allow-secret-looking",
    "allowed",
    multiple=True,
    metavar="KEY",
    help="export this entry (its request hash, or a prefix of 8+ characters) although a value "
    "in it looks like a credential (never the environment's own key); repeatable",
)
@click.pass_context
def cache_export(ctx: click.Context, file: Path, allowed: tuple[str, ...]) -> None:
    """Write every cache entry to FILE as sorted JSONL (one entry a line, no secrets)."""
    from pytest_promptopt.llm import cachefile

    short = [key for key in allowed if len(key) < 8]
    if short:
        raise click.BadParameter(
            f"{', '.join(short)}: give at least 8 characters of the request hash",
            param_hint="--allow-secret-looking",
        )
    with _open(ctx) as (_, repos):
        rows = repos.llm_calls.entries()
    written = cachefile.write(file, rows, allowed)
    click.echo(f"wrote {written} cache entries to {file}")


@cache.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def cache_import(ctx: click.Context, file: Path) -> None:
    """Load the entries of FILE into the cache (entries already cached are kept as they are).

    Every line is verified first (its key recomputed from its request, one line a key); on
    any error nothing is imported and the exit code is 1.
    """
    from pytest_promptopt.llm import cachefile

    entries = cachefile.read(file)
    with _open(ctx, create=True) as (_, repos):
        added = repos.llm_calls.add_many(entries)
    click.echo(
        f"imported {added} new cache entries from {file} ({len(entries) - added} already cached)"
    )


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply pending migrations (creating the database if needed)."""
    with _open(ctx, create=True) as (database, _):
        revision = database.current_revision()
        click.echo(f"{database.url_for_display}: schema at revision {revision} (head)")


@db.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """Print the database's schema revision and the newest one this version knows."""
    from pytest_promptopt.storage import Database, migrate

    database = Database(ctx.find_root().obj["url"])
    path = database.sqlite_path
    if path is not None and not path.exists():
        raise MissingDatabaseError(f"no promptopt database at {path}: run `promptopt db upgrade`")
    try:
        click.echo(f"current: {database.current_revision()}")
        click.echo(f"head:    {migrate.head_revision()}")
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
