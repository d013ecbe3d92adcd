"""`promptopt` finds the database where pytest put it: the rootdir and ini from the current
directory up, `promptopt_db` from the ini; else it says where it looked (issue 20, finding 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.storage import Database


def make_db(path: Path) -> None:
    """An empty, migrated promptopt database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    db.dispose()


def runs(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`promptopt runs` started in `cwd`, with no --db and no PROMPTOPT_DB."""
    monkeypatch.delenv("PROMPTOPT_DB", raising=False)
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, ["runs"])
    return result.exit_code, result.output


def test_from_a_subfolder_it_finds_the_rootdirs_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\npromptopt_model = simulated\n")
    make_db(tmp_path / ".promptopt" / "promptopt.db")
    (tmp_path / "suites" / "deep").mkdir(parents=True)
    code, out = runs(tmp_path / "suites" / "deep", monkeypatch)
    assert code == 0, out
    assert "no runs" in out.lower() or out.startswith("id")


def test_it_reads_promptopt_db_from_the_ini_under_the_rootdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npromptopt_db = "state/history.db"\n'
    )
    make_db(tmp_path / "state" / "history.db")
    (tmp_path / "src").mkdir()
    code, out = runs(tmp_path / "src", monkeypatch)
    assert code == 0, out


def test_from_the_repository_root_after_the_quick_start_it_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's quick start runs `pytest example_project`: its database is the example's.
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-q'\n")
    example = tmp_path / "example_project"
    example.mkdir()
    (example / "pytest.ini").write_text("[pytest]\n")
    make_db(example / ".promptopt" / "promptopt.db")
    code, out = runs(tmp_path, monkeypatch)
    assert code == 2
    assert out.strip() == (
        f"Error: no promptopt database at {tmp_path / '.promptopt' / 'promptopt.db'} (the "
        f"default under the rootdir {tmp_path} from pyproject.toml); found one under a "
        f"subfolder: {example / '.promptopt' / 'promptopt.db'} (pass --db PATH or cd there)"
    )
    # ...and from the example's folder it is found.
    assert runs(example, monkeypatch)[0] == 0
