"""The typed stage summaries: round trips, old rows, and what the pipeline writes and reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.optimize.pipeline import Pipeline
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluate_quick import EvaluateQuickSummary, EvaluationProgress
from pytest_promptopt.optimize.stages.generation import GeneratePromptsSummary
from pytest_promptopt.optimize.stages.order import STAGES as STAGE_CLASSES
from pytest_promptopt.optimize.stages.order import SUMMARY_MODELS, default_stages, parse_summary
from pytest_promptopt.optimize.stages.refinement import (
    RefinementProgress,
    RefinementStep,
    RefinementSummary,
    RefinementTrack,
)
from pytest_promptopt.optimize.stages.report import ReportingSummary
from pytest_promptopt.optimize.stages.select_top_k import SelectionProgress, SelectionRecord
from pytest_promptopt.optimize.stages.select_top_m import SelectTopMSummary
from pytest_promptopt.records.finalist import Finalist
from pytest_promptopt.records.summary import StageProgress, StageSummaryBase, StoredSummary
from pytest_promptopt.reporting.build import _suite_summary
from pytest_promptopt.storage.models import StageResult
from pytest_promptopt.storage.repositories import PromptRepository
from pytest_promptopt.storage.repositories.claims import ClaimSummary
from tests.support.optimize import STAGES, make_runtime, make_suite


def recording(stages: list[Stage], produced: dict[str, StageSummaryBase]) -> list[Stage]:
    """The stages, each keeping the summary its `run` returned in `produced`."""
    for stage in stages:

        async def run(
            ctx: RunContext, _run: Any = stage.run, _name: str = stage.name
        ) -> StageSummaryBase:
            """Run the stage and keep what it returned."""
            produced[_name] = summary = await _run(ctx)
            return summary

        stage.run = run  # type: ignore[method-assign]
    return stages


def stored(runtime: Runtime) -> list[StageResult]:
    """Every stage row, oldest first."""
    with runtime.db.session_scope() as s:
        return list(s.scalars(select(StageResult).order_by(StageResult.id)))


Done = tuple[Runtime, RunContext, OptimizeOutcome, dict[str, StageSummaryBase]]


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Done]:
    """One full optimize run, with the summary every stage's `run` returned."""
    runtime = make_runtime(tmp_path_factory.mktemp("summaries"))
    ctx = RunContext.from_runtime(runtime, make_suite())
    produced: dict[str, StageSummaryBase] = {}
    outcome = runtime.loop.run(Pipeline(ctx, recording(default_stages(), produced)).run())
    yield runtime, ctx, outcome, produced
    runtime.close("passed")


def test_the_registry_has_one_model_per_pipeline_stage() -> None:
    assert list(SUMMARY_MODELS) == STAGES == [stage.name for stage in STAGE_CLASSES]
    assert all(name == model.STAGE for name, model in SUMMARY_MODELS.items())
    assert len(set(SUMMARY_MODELS.values())) == len(STAGES)


def test_a_stage_names_its_own_model_and_no_other_stage_may_take_it(done: Done) -> None:
    class Probe(StageSummaryBase):
        """A summary model no stage owns yet."""

    with pytest.raises(TypeError, match="is no stage's summary model"):
        done[1].stage_summary(Probe)

    class ProbeStage(Stage[Probe]):
        name = "probe"
        summary_model = Probe

        async def run(self, ctx: RunContext) -> Probe:
            return Probe()

    assert Probe.STAGE == "probe"
    with pytest.raises(TypeError, match="needs a summary model of its own"):

        class Thief(Stage[Probe]):
            name = "thief"
            summary_model = Probe

            async def run(self, ctx: RunContext) -> Probe:
                return Probe()


def test_every_stage_writer_returns_its_registered_model(done: Done) -> None:
    produced = done[3]
    assert list(produced) == STAGES
    for name, summary in produced.items():
        assert type(summary) is SUMMARY_MODELS[name], name


def test_stored_rows_round_trip_byte_for_byte(done: Done) -> None:
    rows = stored(done[0])
    assert [r.stage for r in rows] == STAGES
    for row in rows:
        parsed = parse_summary(row.stage, row.summary)
        assert type(parsed) is SUMMARY_MODELS[row.stage]
        # Same keys in the same order: report.json and the stored JSON keep their shape.
        assert json.dumps(parsed.to_json()) == json.dumps(row.summary), row.stage
        assert parsed.headline and parsed.calls is not None and parsed.duration_s is not None


def test_what_the_writer_returned_is_what_readers_see(done: Done) -> None:
    runtime, ctx, outcome, produced = done
    for row in stored(runtime):
        assert parse_summary(row.stage, row.summary) == produced[row.stage]
    reporting = ctx.stage_summary(ReportingSummary)
    assert reporting.best_prompt_id == outcome.best_prompt_id
    assert reporting.original_given_score == outcome.original_score
    assert reporting.best_given_score == outcome.best_score
    assert reporting.finalists and all(isinstance(f, Finalist) for f in reporting.finalists)
    top_m = ctx.stage_summary(SelectTopMSummary)
    refinement = ctx.stage_summary(RefinementSummary)
    assert [t.start_prompt_id for t in refinement.tracks] == top_m.selected
    assert ctx.stage_summary(GeneratePromptsSummary).prompt_ids[0] == outcome.original_prompt_id


def test_the_report_and_the_chosen_prompt_read_the_reporting_summary(done: Done) -> None:
    runtime, ctx, outcome, _ = done
    with runtime.db.session_scope() as s:
        suite = _suite_summary(s, ctx.run_id, ctx.suite.name, [], None, {}, True)
        chosen = PromptRepository(s).chosen_ids(ctx.run_id)
    assert suite.best_prompt_id == outcome.best_prompt_id
    assert suite.original_mean_score == outcome.original_score
    assert suite.best_mean_score == outcome.best_score
    assert suite.stopped_by is None
    assert chosen == {ctx.suite.name: outcome.best_prompt_id}
    by_stage = {st.stage: st.summary for st in suite.stages}
    assert by_stage == {r.stage: r.summary for r in stored(runtime)}


def test_a_budget_stop_is_written_as_the_stage_model_with_its_progress(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, max_calls=60)
    ctx = RunContext.from_runtime(runtime, make_suite())
    outcome = runtime.loop.run(Pipeline(ctx).run())
    rows = {r.stage: r for r in stored(runtime)}
    stopped = rows["evaluate_quick"]
    assert stopped.status == "budget_exhausted"
    summary = parse_summary("evaluate_quick", stopped.summary)
    assert isinstance(summary, EvaluateQuickSummary)
    assert summary.stopped_by == "max_calls" == outcome.stopped_by
    assert summary.error and summary.calls and not summary.prompt_ids
    generated = ctx.stage_summary(GeneratePromptsSummary)
    assert summary.partial == EvaluationProgress(prompts=len(generated.prompt_ids), cases=9)
    keys = ["stopped_by", "error", "partial", "duration_s", "calls", "cost_usd"]
    assert list(stopped.summary) == keys
    skipped = parse_summary("select_top_k", rows["select_top_k"].summary)
    assert skipped.to_json() == {"reason": "stopped by max_calls"}
    # A stage that did not complete reads as "never finished", so reporting keeps the original.
    assert ctx.stage_summary(SelectTopMSummary).selected is None
    reporting = ctx.stage_summary(ReportingSummary)
    assert reporting.partial is True and reporting.best_prompt_id == outcome.best_prompt_id
    with runtime.db.session_scope() as s:
        suite = _suite_summary(s, ctx.run_id, ctx.suite.name, [], None, {}, True)
    assert suite.stopped_by == "max_calls"
    runtime.close("interrupted")


def sample(name: str) -> StageSummaryBase:
    """A completed summary of each stage with every field set."""
    run = {"headline": "h", "duration_s": 0.5, "calls": 2, "cost_usd": 0.001}
    selection = {
        "selected": [2],
        "ranking": [
            {"prompt_id": 2, "mean": 0.9, "low": 0.8, "high": 1.0, "tier": 0}
            | {"original": False, "cases": 3}
        ],
        "tiers": [[2, 1]],
        "contested": [2, 1],
        "reasoning": ["tied"],
    }
    step = RefinementStep(iteration=1, parent_prompt_id=2, failures=1, kept=True)
    step.child_prompt_id, step.parent_mean, step.child_mean = 5, 0.5, 0.7
    step.paired_diff, step.cases, step.reason = [0.1, 0.2, 0.3], 3, "better"
    step.left_out, step.errors = 0, []
    track = RefinementTrack(track_id=1, start_prompt_id=2, final_prompt_id=5, iterations=[step])
    finalist = Finalist(
        prompt_id=5,
        stage="refined",
        strategy="persona",
        track_id=1,
        iteration=1,
        original=False,
        average=0.6,
        covers_given=True,
        given=0.7,
        given_passed=2,
        feedback=0.75,
        holdout=0.6,
        feedback_cases=2,
        holdout_cases=1,
    )
    split = {"feedback": ["a", "b"], "holdout": ["c"], "note": "1 of 3 given cases held out"}
    split |= {"confirm": ["d"], "confirm_note": "1 of 4 given cases confirm"}
    error = {"prompt_id": 2, "case_key": "c", "error": "judge call failed"}
    data: dict[str, dict[str, Any]] = {
        "generate_prompts": {"split": split, "original_prompt_id": 1, "prompt_ids": [1, 2]}
        | {"strategies": ["concise"], "descriptions": {"2": "short"}, "requested": 1}
        | {"generated": 1}
        | {"rejected": [{"strategy": "persona", "reason": "the candidate drops {{ shop }}"}]},
        "generate_tests_quick": {"tier": "quick", "requested": 2, "case_keys": ["quick-1"]}
        | {"given_cases": 3, "categories": {"general": 1}}
        | {"dropped": [{"case_key": "quick-2", "reason": "undefined variable 'order'"}]},
        "evaluate_quick": {"evaluated": 6, "reused": 0, "errors": 1, "prompt_ids": [1, 2]}
        | {"case_ids": [1, 2, 3], "scores": {"1": 0.5, "2": 0.9}, "errored": [error]},
        "select_top_k": selection
        | {"k": 1, "case_ids": [1], "resampled": [2, 1], "before_resampling": selection},
        "refinement": {"tracks": [track], "kept_prompt_ids": [5], "final_prompt_ids": [5]},
        "reporting": {"original_prompt_id": 1, "best_prompt_id": 5, "given_cases": 3}
        | {"finalists": [finalist], "partial": False, "original_given_score": 0.5}
        | {"best_given_score": 0.7, "original_given_passed": 1, "best_given_passed": 2}
        | {"original_average_score": 0.4, "best_average_score": 0.6, "best_stage": "refined"}
        | {"best_strategy": "persona", "best_track": 1, "best_iteration": 1}
        | {"feedback_cases": 2, "holdout_cases": 1, "split_note": "1 of 3 held out"}
        | {"original_feedback_score": 0.5, "best_feedback_score": 0.75}
        | {"original_holdout_score": 0.5, "best_holdout_score": 0.6}
        | {"gate_significant": True, "gate_gain": [0.01, 0.1, 0.2], "gate_verdict": "significant"}
        | {"winner_prompt_id": 5, "proven": True, "decision": "replaced the original with #5"}
        | {"confirm_cases": 3, "original_confirm_score": 0.5, "winner_confirm_score": 0.6}
        | {"deterministic": False, "repeat_note": "repeated samples differ"}
        | {"errored": 1},
        "select_best": {"split": split, "finalist_ids": [1, 5], "case_ids": [3]}
        | {"chosen_prompt_id": 5, "selection": selection, "holdout_scores": {"1": 0.5, "5": 0.6}}
        | {"winner_prompt_id": 5, "selection_gain": [0.0, 0.1, 0.2], "confirm_case_ids": [4]}
        | {"confirm_scores": {"1": 0.5, "5": 0.58}, "winners_curse": 0.02}
        | {"gain": [0.01, 0.08, 0.15], "gate_cases": 3, "significant": True}
        | {"decision": "replaced the original with #5", "deterministic": True}
        | {"repeat_note": "deterministic backend", "verdict": "significant", "errored": [error]},
        "save_reports": {"best_prompt_id": 5, "best_prompt_path": "/r/best_prompt.txt"}
        | {"lineage_path": "/r/lineage.json", "prompts": 5},
    }
    data["generate_tests_rigorous"] = data["generate_tests_quick"] | {"tier": "rigorous"}
    data["evaluate_rigorous"] = data["evaluate_quick"]
    data["select_top_m"] = data["select_top_k"]
    return SUMMARY_MODELS[name](**data[name], **run)


@pytest.mark.parametrize("name", STAGES)
def test_every_model_round_trips_with_every_field_set(name: str) -> None:
    summary = sample(name)
    unset = set(type(summary).model_fields) - summary.model_fields_set
    assert unset <= {"stopped_by", "error", "reason", "partial"}, unset
    dumped = summary.to_json()
    assert json.loads(json.dumps(dumped)) == dumped
    again = parse_summary(name, dumped)
    assert again == summary and again.to_json() == dumped
    assert list(dumped)[-4:] == ["headline", "duration_s", "calls", "cost_usd"]


@pytest.mark.parametrize("name", STAGES)
def test_every_model_round_trips_a_failure_and_a_skip(name: str) -> None:
    model = SUMMARY_MODELS[name]
    failed = model.failed("boom", StageProgress(), stopped_by="budget_usd")
    assert failed.to_json() == {"stopped_by": "budget_usd", "error": "boom", "partial": {}}
    assert parse_summary(name, failed.to_json()) == failed
    assert model(reason="stopped by max_calls").to_json() == {"reason": "stopped by max_calls"}


def test_a_failure_keeps_the_stage_progress() -> None:
    track = RefinementTrack(track_id=1, start_prompt_id=2, final_prompt_id=2, iterations=[])
    track.iterations.append(RefinementStep(iteration=1, parent_prompt_id=2))
    failed = RefinementSummary.failed("cap", RefinementProgress(tracks=[track]))
    assert failed.partial.tracks[0].iterations[0].parent_prompt_id == 2
    assert failed.to_json()["partial"] == {
        "tracks": [
            {"track_id": 1, "start_prompt_id": 2, "final_prompt_id": 2}
            | {"iterations": [{"iteration": 1, "parent_prompt_id": 2}]}
        ]
    }
    first = SelectionRecord(selected=[1], contested=[1, 2])
    progress = SelectionProgress(first=first, resampling=[1, 2])
    parsed = SelectTopMSummary.parse(SelectTopMSummary.failed("x", progress).to_json())
    assert parsed.partial == progress and parsed.selected is None


def test_an_old_row_with_missing_keys_parses_with_defaults() -> None:
    old = parse_summary("reporting", {"best_prompt_id": 4, "retired_key": [1, 2]})
    assert isinstance(old, ReportingSummary)
    assert old.best_prompt_id == 4 and old.original_prompt_id is None
    assert old.finalists == [] and old.partial is False and old.best_given_score is None
    assert old.to_json() == {"best_prompt_id": 4}  # the unknown key is dropped
    outcome = OptimizeOutcome.from_summary("s", 1, 2, "text", old)
    assert (outcome.original_prompt_id, outcome.best_prompt_id) == (2, 4)
    assert outcome.best_stage == "initial" and outcome.best_iteration == 0
    assert outcome.original_score is None and not outcome.improved
    empty = parse_summary("select_top_m", None)
    assert isinstance(empty, SelectTopMSummary) and empty.selected is None
    assert empty.to_json() == {}
    track = {"track_id": 1, "start_prompt_id": 2, "final_prompt_id": 2}
    assert RefinementSummary.parse({"tracks": [track]}).tracks[0].iterations == []


def test_unknown_stages_and_the_claim_row_keep_their_keys() -> None:
    claim = {"worker": "gw1", "heartbeat": 12.5}
    other = parse_summary("pipeline_owner", claim)
    assert isinstance(other, StoredSummary) and other.to_json() == claim
    assert ClaimSummary.parse(claim).to_json() == claim
    released = ClaimSummary(worker="gw1", best_prompt_id=None)
    assert released.to_json() == {"worker": "gw1", "best_prompt_id": None}
    assert ClaimSummary.parse(released.to_json()).best_prompt_id is None
