"""`promptopt view`: its errors and warnings, and a plain session never imports the viewer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.plugin import ENV_VARS
from tests.view.sessions import History

PROBE = """
import json, sys
def pytest_unconfigure(config):
    names = ("starlette", "uvicorn", "pytest_promptopt.view")
    with open("modules.json", "w") as fh:
        json.dump({m: m in sys.modules for m in names}, fh)
"""


def test_a_session_that_runs_suites_does_not_import_the_viewer(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\npromptopt_model = simulated\n")
    (tmp_path / "conftest.py").write_text(PROBE)
    (tmp_path / "hello.promptopt.yaml").write_text(
        "prompt: Be brief.\ncases:\n  - {id: a, input: hi, judge: false, "
        "assert: [{max_chars: 5000}]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "modules.json").read_text()) == {
        "starlette": False, "uvicorn": False, "pytest_promptopt.view": False}  # fmt: skip


def test_without_the_extra_the_command_names_the_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(sys.modules):
        if name.startswith(("pytest_promptopt.view", "starlette", "uvicorn")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette -> ImportError
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "view"])
    assert result.exit_code == 1
    assert 'pip install "pytest-promptopt[view]"' in result.output
    assert "starlette is missing" in result.output


def _served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Calls of uvicorn.run, which does not run."""
    from pytest_promptopt.view import serve

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_bound_beyond_loopback_it_warns(monkeypatch: pytest.MonkeyPatch, history: History) -> None:
    calls = _served(monkeypatch)
    result = CliRunner().invoke(main, ["view", "--db", history.url, "--host", "0.0.0.0",
                                       "--port", "9999"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: the viewer listens on 0.0.0.0" in result.output
    assert calls == [{"host": "0.0.0.0", "port": 9999, "log_level": "warning"}]


def test_on_loopback_it_is_quiet_and_read_only(
    monkeypatch: pytest.MonkeyPatch, history: History
) -> None:
    calls = _served(monkeypatch)
    result = CliRunner().invoke(main, ["--db", history.url, "view"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "http://127.0.0.1:8765/ (read-only)" in result.output
    assert calls[0]["host"] == "127.0.0.1"


def test_a_missing_database_file_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["view", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no promptopt database at" in result.output
    assert not (tmp_path / "none.db").exists()
