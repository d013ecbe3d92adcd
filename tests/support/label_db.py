"""A SQLite file of judged answers for the label tests, its labels, and the CLI run on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from pytest_promptopt.cli.main import main
from pytest_promptopt.storage import Database, transaction


def seed_run(path: Path, uid: str, answers: dict[str, str], suite: str = "support") -> int:
    """A finished run of `suite` with one judged answer per case key; its id."""
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    with transaction(db) as repos:
        run = repos.runs.create(uid, "test", {})
        prompt = repos.prompts.add(run.id, suite, "You are helpful.", stage="given")
        cases = [
            {"case_key": k, "input_message": f"question {k}", "expected_behavior": f"expect {k}"}
            for k in answers
        ]
        ids = repos.test_cases.upsert_many(run.id, suite, cases)
        rows: list[dict[str, Any]] = [
            {
                "run_id": run.id, "prompt_id": prompt.id, "test_case_id": ids[key], "sample": 0,
                "model_response": text, "overall_score": 0.5, "passed": False,
                "functionality": 0.5, "safety": 1.0,
                "scores": {"functionality": 0.5, "safety": 1.0, "tone": None},
                "reasoning": f"REASONING-{key}", "judge_version": "2",
                "tool_calls": [{"id": "t1", "name": "lookup", "input": {"order": 7}}]
                if key == "c1" else None,
            }
            for key, text in answers.items()
        ]  # fmt: skip
        repos.evaluations.add_many(rows)
        repos.runs.finish(run.id, "failed")
        run_id = run.id
    db.dispose()
    return run_id


def labels_of(path: Path) -> dict[tuple[str, str, str], tuple[int | None, bool | None, Any]]:
    """(case key, criterion, labeller) -> (level, passed, note) of every stored label."""
    db = Database(f"sqlite:///{path}")
    try:
        with transaction(db) as repos:
            return {
                (x.case_key, x.criterion, x.labeller): (x.level, x.passed, x.note)
                for x in repos.labels.for_suite()
            }
    finally:
        db.dispose()


def run_cli(path: Path, *args: str, keys: str = "", env: dict[str, str] | None = None) -> Result:
    """`promptopt --db PATH ARGS` with `keys` typed in."""
    return CliRunner().invoke(main, ["--db", str(path), *args], input=keys, env=env)
