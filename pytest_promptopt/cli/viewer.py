"""`promptopt view`: serve the local web viewer over the database (the `view` extra)."""

from __future__ import annotations

import click

from pytest_promptopt.cli.shared import resolve_url

INSTALL_HINT = 'pip install "pytest-promptopt[view]"'


@click.command()
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="database URL or SQLite file (default: the one `promptopt --db` names)",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="the address to listen on; anything but loopback is warned about",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="open the viewer in a browser")
@click.option(
    "--labels", is_flag=True, help="allow writing labels from the Label page (read-only otherwise)"
)
@click.pass_context
def view(
    ctx: click.Context, db_url: str | None, host: str, port: int, open_browser: bool,
    labels: bool,
) -> None:  # fmt: skip
    """Browse runs, cases, comparisons and optimizations in a local web viewer."""
    try:
        from pytest_promptopt.view.serve import serve
    except ImportError as exc:
        missing = (exc.name or "a dependency").split(".")[0]
        raise click.ClickException(
            f"promptopt view needs Starlette and uvicorn ({missing} is missing): {INSTALL_HINT}"
        ) from None
    url = resolve_url(db_url) if db_url else ctx.find_root().obj["url"]
    serve(url, host=host, port=port, open_browser=open_browser, labels=labels)
