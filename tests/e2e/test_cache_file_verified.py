"""End to end: a poisoned cache file is refused naming its line (issue 18, finding 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.example import copy_example, outcomes, run_pytest

ANGRY = "suites/support_bot.promptopt.yaml::support_bot[angry-customer]"
ANGRY_INPUT = "This is the third time my delivery is late"


def _functionality(entry: dict[str, Any]) -> int:
    """The judge's functionality level in a judge entry's answer."""
    tool = next(b for b in entry["response"]["content"] if b["type"] == "tool_use")
    return int(tool["input"]["functionality"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The example project's cache file after one run, and that run's outcomes."""
    tmp_path = tmp_path_factory.mktemp("recorded")
    project = copy_example(tmp_path, "recorded")
    first = run_pytest(project, "-rA")
    assert first.returncode == 1, first.stdout[-3000:]
    out = tmp_path / "promptopt-cache.jsonl"
    db = project / ".promptopt" / "promptopt.db"
    result = CliRunner().invoke(main, ["--db", str(db), "cache", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out, outcomes(first.stdout)


def test_the_exported_file_replays_the_run_on_an_empty_database(
    tmp_path: Path, exported: tuple[Path, dict[str, str]]
) -> None:
    cache_file, recorded = exported
    project = copy_example(tmp_path, "replay")
    replay = run_pytest(
        project, "-rA", "--promptopt-cache=replay", f"--promptopt-cache-file={cache_file}"
    )
    assert outcomes(replay.stdout) == recorded, replay.stdout[-3000:]


def test_a_judge_answer_moved_under_a_failing_case_s_key_is_refused_naming_the_line(
    tmp_path: Path, exported: tuple[Path, dict[str, str]]
) -> None:
    cache_file, recorded = exported
    lines = cache_file.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    judged = [(n, e) for n, e in enumerate(entries) if e["role"] == "judge"]
    # support_bot[angry-customer] fails on its judge alone: a passing verdict under its key
    # made it pass before entries were verified.
    assert recorded[ANGRY] == "FAILED"
    failing = next(n for n, e in judged if ANGRY_INPUT in json.dumps(e["request"]))
    assert _functionality(entries[failing]) <= 3  # 0.50, under the functionality gate
    passing = next(e for _, e in judged if _functionality(e) >= 5)
    # The failing case's line keeps its key; its request and levels are another case's.
    entries[failing] = {
        **entries[failing],
        "request": passing["request"],
        "response": passing["response"],
    }
    poisoned = tmp_path / "poisoned.jsonl"
    poisoned.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))

    project = copy_example(tmp_path, "poisoned")
    run = run_pytest(
        project, "-rA", "--promptopt-cache=replay", f"--promptopt-cache-file={poisoned}"
    )
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"{poisoned}:{failing + 1}: request_hash {entries[failing]['request_hash']}" in (
        run.stderr
    )
    assert ANGRY not in run.stdout  # nothing ran on the poisoned file

    # `promptopt cache import` reads it with the same reader: exit 1, nothing imported.
    db = tmp_path / "import.db"
    result = CliRunner().invoke(main, ["--db", str(db), "cache", "import", str(poisoned)])
    assert result.exit_code == 1
    assert f"{poisoned}:{failing + 1}: request_hash" in result.output
    assert not db.exists()
