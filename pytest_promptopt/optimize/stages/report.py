"""Stages 10 and 11, `reporting` and `save_reports`: score every prompt and summarise the
choice of the best; write its files."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluate_quick import EvaluateQuickSummary
from pytest_promptopt.optimize.stages.evaluate_rigorous import EvaluateRigorousSummary
from pytest_promptopt.optimize.stages.refinement import RefinementSummary
from pytest_promptopt.optimize.stages.select_best import SelectBestSummary, finalist_ids
from pytest_promptopt.records.choice import CHOICE_STAGE, BestChoice
from pytest_promptopt.records.finalist import Finalist
from pytest_promptopt.records.summary import StageProgress, StageSummaryBase
from pytest_promptopt.reporting.build import prompt_summary
from pytest_promptopt.reporting.writers import suite_dir, write_suite_files

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


def suite_folder(ctx: RunContext) -> Path:
    """Where this suite's optimize files go, beside the run's reports."""
    return suite_dir(ctx.settings.report_dir / str(ctx.run_id), ctx.suite.name)


def _mean(means: dict[int, float], ids: list[int]) -> tuple[float | None, int]:
    """Mean over the ids that have a score (None when none has), and how many had one."""
    found = [means[i] for i in ids if i in means]
    return (statistics.fmean(found) if found else None), len(found)


class ReportingSummary(BestChoice, StageSummaryBase):
    """Stage 10: the best prompt on the given cases, and the original's figures beside it."""


class SaveReportsSummary(StageSummaryBase):
    """Stage 11: the files written for the best prompt."""

    best_prompt_id: int | None = None
    best_prompt_path: str = ""
    lineage_path: str = ""
    prompts: int = Field(0, description="Prompts in the lineage file.")
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


class Reporting(Stage[ReportingSummary]):
    """Stage 10: `average_score` for every evaluated prompt; feedback and held-out figures of
    the finalists; the best prompt as `select_best` chose it."""

    name = CHOICE_STAGE
    summary_model = ReportingSummary
    derived = True

    async def run(self, ctx: RunContext) -> ReportingSummary:
        """Score the finalists on the feedback and held-out cases and summarise the choice."""
        original_id = ctx.original_prompt_id()
        stored = ctx.cases(["given"])
        given = [c.id for c in stored]
        split = ctx.split()
        held_keys, confirm_keys = set(split.holdout), set(split.confirm)
        held = [c.id for c in stored if c.key in held_keys]
        confirm = [c.id for c in stored if c.key in confirm_keys]
        feedback = [c.id for c in stored if c.key not in held_keys | confirm_keys]
        rows: dict[int, Finalist] = {}
        with ctx.repos() as r:
            for p in r.prompts.for_suite(ctx.run_id, ctx.suite.name):
                means = r.evaluations.mean_scores(int(p.id))
                if not means:
                    continue
                average = statistics.fmean(means.values())
                r.prompts.set_scores(int(p.id), average=average)
                evaluated = r.evaluations.for_prompt(int(p.id), given)
                passed = {e.test_case_id for e in evaluated}
                failed = {e.test_case_id for e in evaluated if not e.passed}
                on_feedback, n_feedback = _mean(means, feedback)
                on_held, n_held = _mean(means, held)
                rows[int(p.id)] = Finalist(
                    prompt_id=int(p.id),
                    stage=p.stage,
                    strategy=p.strategy,
                    parent_prompt_id=p.parent_prompt_id,
                    track_id=p.track_id,
                    iteration=p.iteration,
                    original=bool(p.is_original_system_prompt),
                    average=average,
                    covers_given=all(i in means for i in given),
                    given=_mean(means, given)[0] or 0.0,
                    given_passed=len(passed - failed),
                    feedback=on_feedback,
                    holdout=on_held,
                    feedback_cases=n_feedback,
                    holdout_cases=n_held,
                )
        choice = ctx.stage_summary(SelectBestSummary)
        finalists = choice.finalist_ids or finalist_ids(ctx, original_id)
        pool = [row for pid, row in rows.items() if finalists is None or pid in finalists]
        best_id, decision = judged_prompt(ctx, choice, original_id)
        best_id = best_id if best_id in rows else original_id
        best, original = rows.get(best_id), rows.get(original_id)
        winner = choice.winner_prompt_id
        summary = ReportingSummary(
            original_prompt_id=original_id,
            best_prompt_id=best_id,
            given_cases=len(given),
            finalists=[
                row.rounded()
                for row in sorted(pool, key=lambda x: (-(x.holdout or 0.0), -(x.feedback or 0.0)))
            ],
            partial=finalists is None,
            feedback_cases=len(feedback),
            holdout_cases=len(held),
            split_note=ctx.split().note,
            gate_significant=choice.significant,
            gate_gain=choice.gain,
            gate_verdict=choice.verdict,
            winner_prompt_id=winner,
            proven=choice.significant,
            decision=decision,
            confirm_cases=len(confirm),
            original_confirm_score=choice.confirm_scores.get(str(original_id)),
            winner_confirm_score=(
                None if winner is None else choice.confirm_scores.get(str(winner))
            ),
            deterministic=choice.deterministic,
            repeat_note=choice.repeat_note,
            errored=errored_count(ctx),
        )
        if best is not None and original is not None:
            summary.original_given_score = round(original.given, 6)
            summary.best_given_score = round(best.given, 6)
            summary.original_given_passed = original.given_passed
            summary.best_given_passed = best.given_passed
            summary.original_average_score = round(original.average, 6)
            summary.best_average_score = round(best.average, 6)
            summary.original_feedback_score = _round(original.feedback)
            summary.best_feedback_score = _round(best.feedback)
            summary.original_holdout_score = _round(original.holdout)
            summary.best_holdout_score = _round(best.holdout)
            summary.best_stage = best.stage
            summary.best_strategy = best.strategy
            summary.best_track = best.track_id
            summary.best_iteration = best.iteration
            summary.headline = (
                f"best #{best.prompt_id}: {original.given:.2f} -> "
                f"{best.given:.2f} on {len(given)} given cases"
            )
        return summary


def judged_prompt(ctx: RunContext, choice: SelectBestSummary, original_id: int) -> tuple[int, str]:
    """The prompt the items judge and why: the winner when the confirmation proved it (or
    under --promptopt-use-best), else the original."""
    winner = choice.winner_prompt_id
    chosen = choice.chosen_prompt_id if choice.chosen_prompt_id is not None else original_id
    decision = choice.decision
    if ctx.settings.use_best and winner is not None and winner != chosen:
        return winner, (
            f"{decision}; --promptopt-use-best: the items judge the search's best #{winner} anyway"
        )
    return chosen, decision


def errored_count(ctx: RunContext) -> int:
    """Evaluations that still errored after their retry, over every stage that scores."""
    count = len(ctx.stage_summary(SelectBestSummary).errored)
    for model in (EvaluateQuickSummary, EvaluateRigorousSummary):
        count += len(ctx.stage_summary(model).errored)
    for track in ctx.stage_summary(RefinementSummary).tracks:
        count += sum(len(step.errors) for step in track.iterations)
    return count


def _round(value: float | None) -> float | None:
    """A score rounded to 6 places, or None."""
    return None if value is None else round(value, 6)


class SaveReports(Stage[SaveReportsSummary]):
    """Stage 11: `best_prompt.txt` and `lineage.json` under `<report_dir>/<run_id>/<suite>/`."""

    name = "save_reports"
    summary_model = SaveReportsSummary
    derived = True

    async def run(self, ctx: RunContext) -> SaveReportsSummary:
        """Write the best prompt and the candidate lineage."""
        best_id = ctx.stage_summary(ReportingSummary).best_prompt_id or ctx.original_prompt_id()
        verdicts = {
            step.child_prompt_id: step.reason
            for track in ctx.stage_summary(RefinementSummary).tracks
            for step in track.iterations
            if step.child_prompt_id is not None
        }
        with ctx.repos() as r:
            titles: dict[int, list[str]] = {}
            for w in r.weaknesses.for_run(ctx.run_id, ctx.suite.name):
                titles.setdefault(w.prompt_id, []).extend(
                    str(x.get("title", "")) for x in (w.weaknesses or [])
                )
            prompts = r.prompts.for_suite(ctx.run_id, ctx.suite.name)
            lineage = [
                prompt_summary(p, titles).model_copy(update={"verdict": verdicts.get(p.id)})
                for p in prompts
            ]
            lineage_json = [p.model_dump(mode="json") for p in lineage]
            text = next(
                (p.prompt_text for p in prompts if p.id == best_id), ctx.suite.system_template
            )
        best_path, lineage_path = write_suite_files(
            ctx.settings.report_dir / str(ctx.run_id), ctx.suite.name, text, lineage_json
        )
        return SaveReportsSummary(
            best_prompt_id=best_id,
            best_prompt_path=str(best_path),
            lineage_path=str(lineage_path),
            prompts=len(lineage_json),
            headline=f"wrote {best_path.parent}",
        )
