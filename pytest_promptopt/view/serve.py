"""Run the viewer under uvicorn: check the database, warn off loopback, open a browser."""

from __future__ import annotations

import ipaddress
import threading
import webbrowser
from typing import TYPE_CHECKING

import click
import uvicorn

from pytest_promptopt.view.app import create_app
from pytest_promptopt.view.security import allowed_hosts

if TYPE_CHECKING:
    from starlette.applications import Starlette


def is_loopback(host: str) -> bool:
    """True for 127.0.0.1, ::1, localhost and the like."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_database(url: str) -> None:
    """Refuse a SQLite file that does not exist (the viewer never creates a database)."""
    from pytest_promptopt.storage import Database

    path = Database(url).sqlite_path
    if path is not None and not path.exists():
        raise click.ClickException(
            f"no promptopt database at {path}: run pytest with the plugin first, or pass --db URL"
        )


def build(url: str, host: str, labels: bool) -> Starlette:
    """The application, answering only the Host names of `host`."""
    return create_app(url, labels=labels, hosts=allowed_hosts(host))


def serve(url: str, host: str, port: int, open_browser: bool, labels: bool) -> None:
    """Serve the viewer until interrupted."""
    check_database(url)
    if not is_loopback(host):
        click.echo(
            f"warning: the viewer listens on {host}, not only on this machine: anyone who can "
            "reach it can read every answer, prompt and case in the database"
            + (", and write labels" if labels else ""),
            err=True,
        )
    app = build(url, host, labels)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    click.echo(f"promptopt view: {address} ({'labels on' if labels else 'read-only'}); "
               "Ctrl+C stops it", err=True)  # fmt: skip
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [address]).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
