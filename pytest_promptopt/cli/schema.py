"""`promptopt db upgrade|current`: the database schema."""

from __future__ import annotations

import click

from pytest_promptopt.cli.shared import MissingDatabaseError, open_db


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply pending migrations (creating the database if needed)."""
    with open_db(ctx, create=True) as (database, _):
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
