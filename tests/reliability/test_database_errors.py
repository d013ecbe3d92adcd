"""Every database error is one `promptopt error` line with the URL masked: plain, --optimize,
-n 2 and the CLI, each reproduction of the issue; the password is looked for in all the output
(stdout and stderr, pytest's default traceback style)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from pytest_promptopt.storage import Database
from tests.support.reliability import FIGURES, Run, run_pytest, write_project

pytestmark = pytest.mark.slow

PASSWORD = "hunter2"
BAD_URLS = {
    "connect-timeout": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1/test?connect_timeout=abc",
    "port": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:54x2/test",
    # an unescaped '@': SQLAlchemy alone would take "zz@127.0.0.1" for the host
    "unescaped-at": f"postgresql+psycopg://postgres:{PASSWORD}@zz@127.0.0.1/test",
    "unreachable": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/x",
    "mysql": f"mysql://root:{PASSWORD}@127.0.0.1/x",
}  # fmt: skip
SECRETS = (PASSWORD, "zz@127")
MODES = {"plain": (), "optimize": ("--optimize",), "xdist": ("-n", "2")}
XDIST_URLS = ("connect-timeout", "unreachable")


def _one_error_line(run: Run, *, shown: str) -> str:
    """The run failed with exactly one `promptopt error` line, no traceback, no secret."""
    out = run.out + run.err
    assert run.rc != 0, out[-3000:]
    for secret in SECRETS:
        assert secret not in out, out[-5000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-5000:]
    lines = [line for line in out.splitlines() if "promptopt error:" in line]
    assert len(lines) == 1, out[-5000:]
    assert shown in lines[0], lines[0]
    FIGURES["database_errors_one_line"] += 1
    return lines[0]


def _pytest(root: Path, url: str, *args: str) -> Run:
    write_project(root)
    return run_pytest(root, None, f"--promptopt-db={url}", "--promptopt-model=simulated", *args)


# Every URL plain and under --optimize; under -n 2 (slower to start) two of them.
COMBOS = [(n, m) for n in BAD_URLS for m in MODES if m != "xdist" or n in XDIST_URLS]


@pytest.mark.parametrize(("name", "mode"), COMBOS, ids=[f"{n}-{m}" for n, m in COMBOS])
def test_a_bad_database_url_is_one_line_without_the_password(
    tmp_path: Path, name: str, mode: str
) -> None:
    run = _pytest(tmp_path, BAD_URLS[name], *MODES[mode])
    line = _one_error_line(run, shown="postgres:***@" if name != "mysql" else "root:***@")
    if name == "connect-timeout":
        assert "connect_timeout='abc'" in line and "whole number" in line
    if name == "port":
        assert "port" in line and "not a number" in line
    if name == "unescaped-at":
        assert "%40" in line
    if name == "mysql":
        assert "'mysql'" in line and "does not support" in line


def _future(url: str) -> None:
    database = Database(url)
    database.ensure_schema()
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'promptopt_9999_future'"))
    database.dispose()


@pytest.mark.parametrize("mode", list(MODES))
def test_a_database_at_a_future_revision_is_one_line(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "future.db"
    _future(f"sqlite:///{db}")
    run = _pytest(tmp_path, str(db), *MODES[mode])
    line = _one_error_line(run, shown=str(db))
    assert "newer pytest-promptopt" in line and "pip install -U pytest-promptopt" in line


@pytest.mark.postgres
@pytest.mark.parametrize("mode", list(MODES))
def test_a_postgres_database_at_a_future_revision_hides_the_password(
    tmp_path: Path, pg_url: str, mode: str
) -> None:
    # the local server trusts every connection, so a password in the URL is accepted as is
    url = make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    _future(url)
    run = _pytest(tmp_path, url, *MODES[mode])
    line = _one_error_line(run, shown="postgres:***@127.0.0.1")
    assert "newer pytest-promptopt" in line


@pytest.mark.parametrize("mode", list(MODES))
def test_a_truncated_sqlite_file_is_one_error_at_the_start(tmp_path: Path, mode: str) -> None:
    """A half-copied database: one error naming the file and the fix, not one per item."""
    good = tmp_path / "good"
    write_project(good)
    run_pytest(good, None, "--promptopt-model=simulated")
    full = (good / ".promptopt" / "promptopt.db").read_bytes()
    db = tmp_path / "truncated.db"
    db.write_bytes(full[: len(full) // 3])
    run = _pytest(tmp_path / "p", str(db), *MODES[mode])
    line = _one_error_line(run, shown=str(db))
    assert "damaged" in line and "restore it from a backup" in line
    assert "PASSED" not in run.out and "FAILED " not in run.out  # stopped before any item


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTOPT_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_URLS))
@pytest.mark.parametrize("command", [("runs",), ("bless", "latest"), ("db", "current")])
def test_the_cli_gives_one_line_without_the_password(name: str, command: tuple[str, ...]) -> None:
    proc = _cli("--db", BAD_URLS[name], *command)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    for secret in SECRETS:
        assert secret not in out, out
    assert "Traceback" not in out, out
    assert out.strip().count("\n") == 0 and out.startswith("Error: "), out
    assert "***@" in out, out
