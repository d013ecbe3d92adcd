"""The `promptopt` command line: read runs, results and best prompts from the database."""

from __future__ import annotations

from typing import Any

import click

from pytest_promptopt.cli import (
    agreement,
    baselines,
    cache,
    comment,
    estimate,
    gate,
    labels,
    plan,
    runs,
    schema,
    viewer,
)
from pytest_promptopt.cli.shared import resolve_url
from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.redaction import for_terminal

__all__ = ["main", "resolve_url"]


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


for command in (
    runs.runs,
    runs.show,
    runs.diff,
    baselines.bless,
    baselines.baselines,
    labels.label,
    runs.best,
    cache.cache,
    gate.gate,
    comment.comment,
    schema.db,
    plan.plan,
    agreement.judge_agreement,
    viewer.view,
    estimate.estimate,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
