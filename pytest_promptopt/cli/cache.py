"""`promptopt cache export|import`: the response cache as a reviewable JSONL file."""

from __future__ import annotations

from pathlib import Path

import click

from pytest_promptopt.cli.shared import open_db


@click.group()
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
    with open_db(ctx) as (_, repos):
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
    with open_db(ctx, create=True) as (_, repos):
        added = repos.llm_calls.add_many(entries)
    click.echo(
        f"imported {added} new cache entries from {file} ({len(entries) - added} already cached)"
    )
