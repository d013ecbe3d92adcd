"""The `promptopt` command line on a SQLite file filled through the repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pytest_promptopt.cli.main import main, resolve_url
from pytest_promptopt.storage import (
    Database,
    EvaluationRepository,
    LLMCallRepository,
    PromptRepository,
    RunRepository,
    StageResultRepository,
    TestCaseRepository,
    migrate,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
BEST_TEXT = "You are a concise assistant.\nAnswer in one sentence."
LONG_REASONING = "The answer misses the greeting entirely " + "and rambles " * 20


@dataclass
class Filled:
    """Ids of the rows the fixture stored."""

    path: Path
    test_run: int
    opt_run: int
    original: int
    initial: int
    refined: int


def _cases(keys: list[str], stage: str = "given") -> list[dict[str, Any]]:
    return [
        {"case_key": k, "input_message": f"msg {k}", "expected_behavior": "greet", "stage": stage}
        for k in keys
    ]


def _evals(
    run_id: int, prompt_id: int, ids: dict[str, int], scores: dict[str, float]
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id, "prompt_id": prompt_id, "test_case_id": ids[key], "sample": 0,
            "model_response": f"reply {key}", "functionality": score, "safety": 1.0,
            "consistency": score, "edge_case_handling": score, "overall_score": score,
            "passed": score >= 0.7,
            "reasoning": LONG_REASONING if key == "c1" and score < 0.7 else f"ok {key}",
        }
        for key, score in scores.items()
    ]  # fmt: skip


@pytest.fixture
def filled(tmp_path: Path) -> Filled:
    """A database with a test run and a later optimize run of suite `greet`."""
    path = tmp_path / "history.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    settings = {"model": "claude-haiku-4-5", "db_url": "postgresql://u:secret@h/db"}
    with db.session_scope() as s:
        runs, prompts = RunRepository(s), PromptRepository(s)
        cases, evals = TestCaseRepository(s), EvaluationRepository(s)
        # Run 1: test mode, one given prompt.
        run1 = runs.create("s1", "test", {**settings, "optimize": False})
        p1 = prompts.add(run1.id, "greet", "You are helpful.", stage="given", is_original=True)
        ids1 = cases.upsert_many(run1.id, "greet", _cases(["c1", "c2", "c3", "c4"]))
        evals.add_many(_evals(run1.id, p1.id, ids1, {"c1": 0.9, "c2": 0.6, "c3": 0.4, "c4": 0.7}))
        runs.finish(run1.id, "failed")
        run1.started_at, run1.finished_at = T0, T0 + timedelta(seconds=5)
        # Run 2: optimize mode with a lineage original -> initial -> refined.
        run2 = runs.create("s2", "optimize", {**settings, "optimize": True})
        orig = prompts.add(run2.id, "greet", "You are helpful.", stage="given", is_original=True)
        init = prompts.add(
            run2.id, "greet", "Be short.", stage="initial", strategy="concise",
            parent_prompt_id=orig.id, track_id=1,
        )  # fmt: skip
        ref = prompts.add(
            run2.id, "greet", BEST_TEXT, stage="refined", strategy="concise",
            parent_prompt_id=init.id, track_id=1, iteration=1,
        )  # fmt: skip
        prompts.set_scores(orig.id, quick=0.6, rigorous=0.6, average=0.6)
        prompts.set_scores(init.id, quick=0.7, rigorous=0.7, average=0.7)
        prompts.set_scores(ref.id, quick=0.9, rigorous=0.8, average=0.85)
        ids2 = cases.upsert_many(run2.id, "greet", _cases(["c1", "c2", "c3", "c5"]))
        quick = cases.upsert_many(run2.id, "greet", _cases(["q1"], stage="quick"))
        # The original is judged first; the refined prompt is judged last and counts.
        evals.add_many(_evals(run2.id, orig.id, ids2, {"c1": 0.1, "c2": 0.1, "c3": 0.1}))
        evals.add_many(_evals(run2.id, ref.id, quick, {"q1": 0.2}))
        evals.add_many(_evals(run2.id, ref.id, ids2, {"c1": 0.5, "c2": 0.85, "c3": 0.4, "c5": 0.9}))
        stages = StageResultRepository(s)
        for offset, stage in enumerate(("quick", "rigorous")):
            row, _ = stages.start(run2.id, "greet", stage)
            stages.complete(row.id, {"cases": 6})
            row.started_at = T0 + timedelta(hours=1, minutes=offset)
            row.finished_at = row.started_at + timedelta(seconds=42)
        calls = LLMCallRepository(s)
        for n in range(2):
            calls.add({"request_hash": f"h{n}", "model": "m", "role": "judge", "request": {},
                       "response": {}, "input_tokens": 100, "output_tokens": 10,
                       "cost_usd": 0.25, "run_id": run2.id})  # fmt: skip
        runs.finish(run2.id, "passed")
        run2.started_at, run2.finished_at = (
            T0 + timedelta(hours=1),
            T0 + timedelta(hours=1, minutes=3),
        )
        filled = Filled(path, run1.id, run2.id, orig.id, init.id, ref.id)
    db.dispose()
    return filled


def _run(filled: Filled, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(filled.path), *args])


def test_resolve_url_treats_plain_paths_as_sqlite_files(tmp_path: Path) -> None:
    assert resolve_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    assert resolve_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert resolve_url(None).endswith(str(Path(".promptopt") / "promptopt.db"))


def test_runs_human_lists_newest_first(filled: Filled) -> None:
    result = _run(filled, "runs")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["id", "started", "(UTC)"]
    assert lines[1].split()[0] == str(filled.opt_run)
    assert lines[2].split()[0] == str(filled.test_run)
    assert "optimize" in lines[1] and "3m 00s" in lines[1] and "50.0%" in lines[1]
    assert "$0.5000" in lines[1] and "greet" in lines[1]
    assert "test" in lines[2] and "5.0s" in lines[2] and "50.0%" in lines[2]


def test_runs_json_and_limit(filled: Filled) -> None:
    data = json.loads(_run(filled, "runs", "--json").output)
    assert [r["id"] for r in data] == [filled.opt_run, filled.test_run]
    newest = data[0]
    assert newest["mode"] == "optimize" and newest["status"] == "passed"
    assert newest["suites"] == ["greet"] and newest["cases"] == 4
    assert newest["pass_rate"] == 0.5 and newest["calls"] == 2
    assert newest["cost_usd"] == pytest.approx(0.5)
    assert newest["duration_s"] == 180.0
    assert data[1]["pass_rate"] == 0.5 and data[1]["calls"] == 0
    limited = json.loads(_run(filled, "runs", "--limit", "1", "--json").output)
    assert [r["id"] for r in limited] == [filled.opt_run]


def test_show_human(filled: Filled) -> None:
    result = _run(filled, "show", str(filled.opt_run))
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Run {filled.opt_run}  mode optimize  status passed" in out
    assert "claude-haiku-4-5" in out and "secret" not in out
    assert "Suite greet: 2/4 cases passed, mean score 0.66" in out
    assert f"judged prompt #{filled.refined} (refined)" in out
    assert f"lineage: #{filled.original} -> #{filled.initial} -> #{filled.refined}" in out
    assert "q1" not in out  # generated cases are not given cases
    case_line = next(line for line in out.splitlines() if line.strip().startswith("c1 "))
    assert "0.50" in case_line and "FAIL" in case_line and case_line.endswith("\u2026")
    assert LONG_REASONING.strip() not in out
    assert "Stages:" in out and "42.0s" in out and "rigorous" in out
    assert "Model calls: 2 calls, 200 input tokens, 20 output tokens, $0.5000" in out


def test_show_json_latest(filled: Filled) -> None:
    result = _run(filled, "show", "latest", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["run"]["id"] == filled.opt_run
    assert data["settings"]["db_url"] == "postgresql://u:***@h/db"
    (suite,) = data["suites"]
    assert suite["judged_prompt"]["id"] == filled.refined
    assert suite["judged_prompt"]["prompt_text"] == BEST_TEXT
    assert suite["best_prompt_id"] == filled.refined
    assert suite["lineage"] == [filled.original, filled.initial, filled.refined]
    assert len(suite["prompts"]) == 3
    cases = {c["case_key"]: c for c in suite["cases"]}
    assert set(cases) == {"c1", "c2", "c3", "c5"}
    assert cases["c2"]["score"] == 0.85 and cases["c2"]["passed"] is True
    assert cases["c1"]["reasoning"] == LONG_REASONING  # full text in JSON
    assert [(s["stage"], s["status"], s["duration_s"]) for s in data["stages"]] == [
        ("quick", "completed", 42.0),
        ("rigorous", "completed", 42.0),
    ]
    assert data["calls"]["calls"] == 2


def test_show_test_run_has_no_stages(filled: Filled) -> None:
    data = json.loads(_run(filled, "show", str(filled.test_run), "--json").output)
    assert data["stages"] == [] and data["run"]["cases_passed"] == 2
    assert "Stages:" not in _run(filled, "show", str(filled.test_run)).output


@pytest.mark.parametrize("ref", ["999", "nope"])
def test_show_unknown_run(filled: Filled, ref: str) -> None:
    result = _run(filled, "show", ref)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    message = "no run with id 999" if ref == "999" else "must be a run id or 'latest'"
    assert message in result.stderr


def test_diff_json(filled: Filled) -> None:
    result = _run(filled, "diff", str(filled.test_run), str(filled.opt_run), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary"] == {
        "regressed": 1, "improved": 1, "unchanged": 1, "only_a": 1, "only_b": 1,
    }  # fmt: skip
    cases = data["cases"]
    assert [(c["case_key"], c["change"]) for c in cases] == [
        ("c1", "regressed"), ("c2", "improved"), ("c3", "unchanged"),
        ("c4", "only_a"), ("c5", "only_b"),
    ]  # fmt: skip
    assert cases[0]["pass_to_fail"] and cases[0]["delta"] == pytest.approx(-0.4)
    assert cases[1]["fail_to_pass"] and not cases[1]["pass_to_fail"]
    assert cases[3]["score_b"] is None and cases[4]["score_a"] is None
    (suite,) = data["suites"]
    assert suite["mean_a"] == pytest.approx(0.65) and suite["mean_b"] == pytest.approx(0.6625)


def test_diff_human_regression_first(filled: Filled) -> None:
    result = _run(filled, "diff", str(filled.test_run), "latest")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("greet ")]
    assert rows[0].split()[1] == "c1" and "REGRESSED (pass->fail)" in rows[0]
    assert "-0.40" in rows[0]
    assert "improved (fail->pass)" in rows[1]
    assert "only in A" in rows[3] and "only in B" in rows[4]
    assert "improved 1, regressed 1, unchanged 1, only in A 1, only in B 1" in result.output


def test_diff_unknown_run(filled: Filled) -> None:
    result = _run(filled, "diff", str(filled.test_run), "42")
    assert result.exit_code == 1 and "no run with id 42" in result.stderr


def test_best_prints_exactly_the_prompt(filled: Filled) -> None:
    result = _run(filled, "best", "greet")
    assert result.exit_code == 0, result.output
    assert result.stdout == BEST_TEXT
    assert f"prompt #{filled.refined} from run {filled.opt_run}" in result.stderr
    assert "0.850" in result.stderr


def test_best_json(filled: Filled) -> None:
    data = json.loads(_run(filled, "best", "greet", "--json").stdout)
    assert data["id"] == filled.refined and data["run_id"] == filled.opt_run
    assert data["prompt_text"] == BEST_TEXT and data["average_score"] == 0.85
    assert data["lineage"] == [filled.original, filled.initial, filled.refined]


def test_best_unknown_suite(filled: Filled) -> None:
    result = _run(filled, "best", "farewell")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no finished optimize run" in result.stderr and "'farewell'" in result.stderr


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "none.db"
    for args in (
        ["runs"],
        ["show", "latest"],
        ["diff", "1", "2"],
        ["best", "x"],
        ["db", "current"],
    ):
        result = CliRunner().invoke(main, ["--db", str(missing), *args])
        assert result.exit_code == 2, (args, result.output)
        assert str(missing) in result.stderr and "Traceback" not in result.output
    assert "run pytest" in CliRunner().invoke(main, ["--db", str(missing), "runs"]).stderr
    assert not missing.exists() and not missing.parent.exists()


def test_default_database_is_cwd_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMPTOPT_DB", raising=False)
    result = CliRunner().invoke(main, ["runs"])
    assert result.exit_code == 2
    assert str(tmp_path / ".promptopt" / "promptopt.db") in result.stderr
    assert not (tmp_path / ".promptopt").exists()
    env_db = tmp_path / "env.db"
    result = CliRunner().invoke(main, ["runs"], env={"PROMPTOPT_DB": str(env_db)})
    assert result.exit_code == 2 and str(env_db) in result.stderr


def test_db_upgrade_creates_database(tmp_path: Path) -> None:
    target = tmp_path / "new" / "p.db"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{target}", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert target.exists() and migrate.head_revision() in result.output
    current = CliRunner().invoke(main, ["--db", str(target), "db", "current"])
    assert current.exit_code == 0
    assert current.output.count(migrate.head_revision()) == 2
    empty = CliRunner().invoke(main, ["--db", str(target), "runs"])
    assert empty.exit_code == 0 and "no runs recorded yet" in empty.output
    assert (
        json.loads(CliRunner().invoke(main, ["--db", str(target), "runs", "--json"]).output) == []
    )


def test_foreign_file_is_a_clean_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    result = CliRunner().invoke(main, ["--db", str(junk), "runs"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a pytest-promptopt database" in result.stderr


def test_an_optimize_run_shows_the_prompt_its_pipeline_chose(tmp_path: Path) -> None:
    """The items re-use the pipeline's evaluations, so the chosen prompt's given-case rows can
    be older than another candidate's; and the pick is made on the given cases, so it need not
    have the highest average. `show`, `runs` and `best` follow the pick, like the reports."""
    path = tmp_path / "history.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    with db.session_scope() as s:
        runs, prompts = RunRepository(s), PromptRepository(s)
        cases, evals = TestCaseRepository(s), EvaluationRepository(s)
        run = runs.create("s", "optimize", {"optimize": True})
        picked = prompts.add(run.id, "greet", BEST_TEXT, stage="initial", is_original=False)
        other = prompts.add(run.id, "greet", "Be short.", stage="initial", is_original=False)
        prompts.set_scores(picked.id, quick=0.8, rigorous=0.8, average=0.8)
        prompts.set_scores(other.id, quick=0.9, rigorous=0.9, average=0.9)
        ids = cases.upsert_many(run.id, "greet", _cases(["c1", "c2"]))
        evals.add_many(_evals(run.id, picked.id, ids, {"c1": 0.9, "c2": 0.8}))
        evals.add_many(_evals(run.id, other.id, ids, {"c1": 0.2, "c2": 0.9}))  # written later
        stages = StageResultRepository(s)
        row, _ = stages.start(run.id, "greet", "reporting")
        stages.complete(row.id, {"best_prompt_id": picked.id})
        runs.finish(run.id, "passed")
    db.dispose()
    filled = Filled(path, 0, run.id, 0, 0, picked.id)

    shown = json.loads(_run(filled, "show", str(run.id), "--json").output)
    (suite,) = shown["suites"]
    assert suite["judged_prompt"]["id"] == picked.id and suite["best_prompt_id"] == picked.id
    assert {c["case_key"]: c["score"] for c in suite["cases"]} == {"c1": 0.9, "c2": 0.8}
    listed = json.loads(_run(filled, "runs", "--json").output)
    assert listed[0]["pass_rate"] == 1.0
    best = _run(filled, "best", "greet")
    assert best.exit_code == 0 and best.stdout.startswith(BEST_TEXT)


def test_show_lists_a_suites_own_criteria(tmp_path: Path) -> None:
    path = tmp_path / "own.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    with db.session_scope() as s:
        run = RunRepository(s).create("s", "test", {})
        prompt = PromptRepository(s).add(run.id, "tone", "Be warm.", stage="given")
        ids = TestCaseRepository(s).upsert_many(run.id, "tone", _cases(["warm", "plain"]))
        rows = _evals(run.id, prompt.id, ids, {"warm": 0.9, "plain": 0.8})
        rows[0]["scores"] = {"functionality": 0.9, "tone": 0.5, "correct": 1.0}
        EvaluationRepository(s).add_many(rows)
        RunRepository(s).finish(run.id, "passed")
    db.dispose()
    filled = Filled(path, run.id, run.id, prompt.id, prompt.id, prompt.id)
    data = json.loads(_run(filled, "show", "latest", "--json").output)
    cases = {c["case_key"]: c["scores"] for c in data["suites"][0]["cases"]}
    assert cases == {"warm": {"functionality": 0.9, "tone": 0.5, "correct": 1.0}, "plain": {}}
    out = _run(filled, "show", "latest").output
    assert "own criteria" in out
    warm = next(line for line in out.splitlines() if line.strip().startswith("warm "))
    assert "tone 0.50 correct 1.00" in warm and "functionality" not in warm


def test_diff_notes_runs_judged_by_different_judge_versions(filled: Filled) -> None:
    import sqlite3

    runs = (str(filled.test_run), str(filled.opt_run))
    same = _run(filled, "diff", *runs, "--json")
    assert json.loads(same.output)["judge_note"] is None
    con = sqlite3.connect(filled.path)
    with con:
        con.execute("UPDATE evaluations SET judge_version = '2' WHERE run_id = ?", (runs[1],))
    con.close()
    result = _run(filled, "diff", *runs)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        "note: the runs were judged by different judge versions (A: unknown (before "
        "versioning), B: 2); score changes may come from the judge, not the prompt"
    )
    data = json.loads(_run(filled, "diff", *runs, "--json").output)
    assert data["judge_versions"] == {"a": [], "b": ["2"]}
