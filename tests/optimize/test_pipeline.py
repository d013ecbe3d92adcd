"""The optimize pipeline end to end on the simulator: stages, lineage, budget stop and resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.settings import OptimizeSettings
from pytest_promptopt.storage.models import (
    Evaluation,
    Prompt,
    StageResult,
    TestCase,
    WeaknessAnalysis,
)
from tests.support.optimize import STAGES, make_runtime, make_suite, run_pipeline

TABLES = (Prompt, TestCase, Evaluation, StageResult, WeaknessAnalysis)


def counts(runtime: Runtime) -> dict[str, int]:
    """Rows per table."""
    with runtime.db.session_scope() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0) for m in TABLES
        }


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, OptimizeOutcome]]:
    """One full optimize run, shared by the read-only tests below (its three cases are too few
    to confirm a winner, so --promptopt-use-best makes the items judge the search's best)."""
    tmp = tmp_path_factory.mktemp("optimize")
    runtime = make_runtime(tmp, use_best=True)
    outcome = run_pipeline(runtime, make_suite())
    yield runtime, outcome
    runtime.close("passed")


def rows(runtime: Runtime, model: Any) -> list[Any]:
    """Every row of a table, oldest first."""
    with runtime.db.session_scope() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def test_every_stage_is_recorded_completed_with_a_summary(done: Any) -> None:
    runtime, outcome = done
    stages = rows(runtime, StageResult)
    assert [s.stage for s in stages] == STAGES
    assert all(s.status == "completed" and s.summary and s.finished_at for s in stages)
    assert all("duration_s" in s.summary and "calls" in s.summary for s in stages)
    assert outcome.stopped_by is None and outcome.error is None


def test_original_is_kept_as_a_candidate(done: Any) -> None:
    runtime, outcome = done
    prompts = rows(runtime, Prompt)
    original = [p for p in prompts if p.is_original_system_prompt]
    assert len(original) == 1
    assert original[0].stage == "initial" and original[0].strategy == "original"
    assert original[0].prompt_text == make_suite().prompt
    gen = next(s for s in rows(runtime, StageResult) if s.stage == "generate_prompts")
    assert gen.summary["prompt_ids"][0] == original[0].id
    strategies = {p.strategy for p in prompts if p.stage == "initial"} - {"original"}
    assert len(strategies) >= 5
    assert outcome.original_prompt_id == original[0].id
    assert original[0].quick_score is not None


def test_generated_cases_are_stored_with_their_stage(done: Any) -> None:
    runtime, _ = done
    cases = rows(runtime, TestCase)
    by_stage: dict[str, list[str]] = {}
    for c in cases:
        by_stage.setdefault(c.stage, []).append(c.case_key)
    knobs = OptimizeSettings()
    assert sorted(by_stage["given"]) == ["delivery", "refund", "status"]
    assert by_stage["quick"] == [f"quick-{n}" for n in range(1, knobs.quick_tests + 1)]
    assert by_stage["rigorous"] == [f"rigorous-{n}" for n in range(1, knobs.rigorous_tests + 1)]


def test_given_cases_count_in_every_evaluation(done: Any) -> None:
    runtime, _ = done
    given = {c.id for c in rows(runtime, TestCase) if c.stage == "given"}
    evaluated: dict[int, set[int]] = {}
    for e in rows(runtime, Evaluation):
        evaluated.setdefault(e.prompt_id, set()).add(e.test_case_id)
    assert evaluated and all(given <= ids for ids in evaluated.values())


def test_lineage_links_and_weakness_analyses(done: Any) -> None:
    runtime, _ = done
    prompts = {p.id: p for p in rows(runtime, Prompt)}
    analyses = {(w.prompt_id, w.track_id, w.iteration): w for w in rows(runtime, WeaknessAnalysis)}
    summary = next(s for s in rows(runtime, StageResult) if s.stage == "refinement").summary
    top_m = next(s for s in rows(runtime, StageResult) if s.stage == "select_top_m").summary
    assert [t["start_prompt_id"] for t in summary["tracks"]] == top_m["selected"]
    refined = [p for p in prompts.values() if p.stage == "refined"]
    assert refined, "the simulator should produce at least one refined child"
    for child in refined:
        parent = prompts[child.parent_prompt_id]
        assert child.track_id is not None and child.iteration >= 1
        assert parent.iteration == child.iteration - 1
        assert parent.track_id in (None, child.track_id)
        analysis = analyses[(parent.id, child.track_id, child.iteration)]
        assert analysis.weaknesses and analysis.case_keys


def test_a_child_is_kept_only_on_a_significant_paired_gain(done: Any) -> None:
    runtime, outcome = done
    summary = next(s for s in rows(runtime, StageResult) if s.stage == "refinement").summary
    steps = [it for t in summary["tracks"] for it in t["iterations"] if it["child_prompt_id"]]
    assert steps
    for step in steps:
        low, mean, high = step["paired_diff"]
        assert low <= mean <= high
        assert step["kept"] == (low > 0 and step["cases"] >= 3 and low < high)
        assert step["reason"].startswith("kept: paired gain" if step["kept"] else "rejected: ")
    for track in summary["tracks"]:
        its = track["iterations"]
        kept = [it["child_prompt_id"] for it in its if it["kept"]]
        assert track["final_prompt_id"] == (kept[-1] if kept else track["start_prompt_id"])
    # lineage.json says of every refined child whether it was kept or rejected, and why.
    folder = runtime.settings.report_dir / str(outcome.run_id) / "shop_bot"
    lineage = json.loads((folder / "lineage.json").read_text())
    verdicts = {p["id"]: p["verdict"] for p in lineage if p["stage"] == "refined"}
    assert verdicts and all(v.startswith(("kept: ", "rejected: ")) for v in verdicts.values())


def test_best_prompt_beats_the_original_and_reports_are_written(done: Any) -> None:
    runtime, outcome = done
    assert outcome.best_score is not None and outcome.original_score is not None
    assert outcome.best_score >= outcome.original_score
    assert outcome.best_passed is not None and outcome.original_passed is not None
    assert outcome.best_passed > outcome.original_passed
    assert outcome.describe().startswith(f"optimized: {outcome.original_score:.2f} -> ")
    folder = runtime.settings.report_dir / str(outcome.run_id) / "shop_bot"
    assert (folder / "best_prompt.txt").read_text().strip() == outcome.best_prompt_text.strip()
    assert (folder / "lineage.json").is_file()
    assert all(p.average_score is not None for p in rows(runtime, Prompt))


def test_a_suite_too_small_to_confirm_keeps_the_original_and_says_why(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    outcome = run_pipeline(runtime, make_suite())
    assert outcome.best_prompt_id == outcome.original_prompt_id
    assert outcome.winner_prompt_id is not None and not outcome.proven
    assert outcome.decision.startswith("kept the original: too small for a confirmation split")
    assert "3 given cases (at least 6 needed" in outcome.decision
    assert outcome.decision in outcome.describe()
    choice = next(s for s in rows(runtime, StageResult) if s.stage == "select_best").summary
    assert choice["chosen_prompt_id"] == outcome.original_prompt_id
    assert choice["decision"] == outcome.decision and not choice.get("significant")
    runtime.close("passed")


def test_resume_on_the_same_run_makes_no_calls_and_no_duplicates(tmp_path: Path) -> None:
    first = make_runtime(tmp_path)
    suite = make_suite()
    outcome = run_pipeline(first, suite)
    before = counts(first)
    first.close("interrupted")
    second = make_runtime(tmp_path)
    again = run_pipeline(second, suite, run_id=outcome.run_id)
    assert second.llm.calls == 0
    assert counts(second) == before
    assert again.best_prompt_id == outcome.best_prompt_id
    second.close("passed")


def test_max_calls_stops_cleanly_and_keeps_the_best_so_far(tmp_path: Path) -> None:
    cap = 60
    runtime = make_runtime(tmp_path, max_calls=cap)
    outcome = run_pipeline(runtime, make_suite())
    assert runtime.budget.calls == cap
    assert outcome.stopped_by == "max_calls"
    status = {s.stage: s.status for s in rows(runtime, StageResult)}
    stopped = [name for name, st in status.items() if st == "budget_exhausted"]
    assert len(stopped) == 1
    after = STAGES[STAGES.index(stopped[0]) + 1 :]
    assert all(status[n] in ("skipped", "completed") for n in after)
    assert status["reporting"] == status["save_reports"] == "completed"
    assert outcome.best_prompt_text
    assert outcome.best_score is None or outcome.best_score >= (outcome.original_score or 0)
    assert "stopped by max_calls" in outcome.describe()
    runtime.close("interrupted")

    # Resuming with no cap finishes the run and re-runs only what did not complete.
    resumed = make_runtime(tmp_path)
    final = run_pipeline(resumed, make_suite(), run_id=outcome.run_id)
    assert final.stopped_by is None
    assert all(s.status == "completed" for s in rows(resumed, StageResult))
    resumed.close("passed")
