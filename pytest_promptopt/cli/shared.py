"""What the `promptopt` commands share: the database of --db, the run named by RUN, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.redaction import for_terminal, redact

if TYPE_CHECKING:
    from pytest_promptopt.storage import Database, OptimizationRun, Prompt, Repositories


class MissingDatabaseError(click.ClickException):
    """The SQLite file named by --db does not exist (exit code 2)."""

    exit_code = 2


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
def open_db(ctx: click.Context, create: bool = False) -> Iterator[tuple[Database, Repositories]]:
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


def emit(data: Any, as_json: bool, render: Any) -> None:
    """Print `data` as JSON or through its human renderer.

    JSON escapes control characters itself; the human text has them written out (`\\x1b`), so
    an answer or a case id cannot drive the terminal. Both lose any secret.
    """
    if as_json:
        click.echo(redact(json.dumps(data, indent=2, default=str)))
    else:
        click.echo(for_terminal(render(data)))


def get_run(repos: Repositories, ref: str) -> OptimizationRun:
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


def prompt_dict(prompt: Prompt) -> dict[str, Any]:
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


def finished(run: OptimizationRun) -> bool:
    """True for a run that ran to its end (`passed` or `failed`)."""
    from pytest_promptopt.storage.repositories import FINISHED_RUN_STATUSES

    return run.status in FINISHED_RUN_STATUSES


def cases_of(repos: Repositories, run: OptimizationRun) -> str:
    """`6 of 40 cases judged`: how far a run got."""
    from pytest_promptopt.reporting.baseline import judged_results

    judged = sum(len(v["cases"]) for v in judged_results(repos, run.id).values())
    total = len(repos.test_cases.for_run(run.id, stage="given"))
    return f"{judged} of {total} cases judged"


def warn_unfinished(runs: list[OptimizationRun]) -> None:
    """A warning on stderr for each run that did not finish."""
    for run in runs:
        if not finished(run):
            click.echo(
                f"warning: run {run.id} did not finish (status {run.status}): "
                "its results are partial",
                err=True,
            )
