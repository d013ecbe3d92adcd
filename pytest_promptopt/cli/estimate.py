"""`promptopt estimate`: the calls, tokens and dollars a run would make, before running it.

It runs pytest's own collection (`pytest --promptopt-dry-run`, in a subprocess), so the suites,
settings and selection are exactly the run's, and reads the estimate the session writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from pytest_promptopt.cli.shared import emit
from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.optimize.run_estimate import ESTIMATE_FILE_ENV


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[PATHS/PYTEST ARGS]...")
@click.option("--optimize", is_flag=True, help="estimate an --optimize run")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.pass_context
def estimate(ctx: click.Context, args: tuple[str, ...], optimize: bool, as_json: bool) -> None:
    """Print the model calls, tokens and dollars `pytest [ARGS]` (or with --optimize) would
    make, per role, from the suites and the response cache (cached calls cost nothing), with
    the batch discount under --promptopt-batch. Makes no model call."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--promptopt-dry-run", *(["--optimize"] if optimize else []), *args]
    root = ctx.find_root().obj or {}
    if not root.get("located", True):  # --db given: the session uses it too
        command += ["--promptopt-db", str(root["url"])]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "estimate.json"
        env = {**os.environ, ESTIMATE_FILE_ENV: str(target)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if not target.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise PromptOptError(
                f"pytest collected no estimate (exit code {done.returncode}):\n{tail}"
            )
        data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    emit(data, as_json, _render)


def _render(data: dict[str, Any]) -> str:
    """The estimate as the dry run prints it."""
    from pytest_promptopt.optimize.run_estimate import render_estimate

    return "\n".join(render_estimate(data))
