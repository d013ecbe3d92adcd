"""Stages 9 and 10: score every prompt, pick the best on the given cases, write its files."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.reporting.build import prompt_summary
from pytest_promptopt.reporting.writers import suite_dir, write_suite_files
from pytest_promptopt.storage.stage_summaries import (
    Finalist,
    RefinementSummary,
    ReportingSummary,
    SaveReportsSummary,
    SelectTopMSummary,
)

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


def finalist_ids(ctx: RunContext, original_id: int) -> list[int] | None:
    """The original, the top M and the kept children; None when selection never finished."""
    chosen = ctx.stage_summary(SelectTopMSummary).selected
    if chosen is None:
        return None
    kept = ctx.stage_summary(RefinementSummary).kept_prompt_ids
    return list(dict.fromkeys([original_id, *chosen, *kept]))


def suite_folder(ctx: RunContext) -> Path:
    """Where this suite's optimize files go, beside the run's reports."""
    return suite_dir(ctx.settings.report_dir / str(ctx.run_id), ctx.suite.name)


class Reporting(Stage):
    """Stage 9: `average_score` for every evaluated prompt; the best prompt on the given cases."""

    name = "reporting"
    derived = True

    async def run(self, ctx: RunContext) -> ReportingSummary:
        """Score, pick the best (given-case mean, then average, then the original) and summarise."""
        original_id = ctx.original_prompt_id()
        given = [c.id for c in ctx.cases(["given"])]
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
                rows[int(p.id)] = Finalist(
                    prompt_id=int(p.id),
                    stage=p.stage,
                    strategy=p.strategy,
                    track_id=p.track_id,
                    iteration=p.iteration,
                    original=bool(p.is_original_system_prompt),
                    average=average,
                    covers_given=all(i in means for i in given),
                    given=statistics.fmean(means.get(i, 0.0) for i in given) if given else 0.0,
                    given_passed=len(passed - failed),
                )
        finalists = finalist_ids(ctx, original_id)
        pool = [
            row
            for pid, row in rows.items()
            if row.covers_given and (finalists is None or pid in finalists)
        ]
        best = max(
            pool,
            key=lambda x: (round(x.given, 9), round(x.average, 9), x.original, -x.prompt_id),
            default=None,
        )
        original = rows.get(original_id)
        summary = ReportingSummary(
            original_prompt_id=original_id,
            best_prompt_id=best.prompt_id if best else original_id,
            given_cases=len(given),
            finalists=[row.rounded() for row in sorted(pool, key=lambda x: -x.given)],
            partial=finalists is None,
        )
        if best is not None and original is not None and original.covers_given:
            summary.original_given_score = round(original.given, 6)
            summary.best_given_score = round(best.given, 6)
            summary.original_given_passed = original.given_passed
            summary.best_given_passed = best.given_passed
            summary.original_average_score = round(original.average, 6)
            summary.best_average_score = round(best.average, 6)
            summary.best_stage = best.stage
            summary.best_strategy = best.strategy
            summary.best_track = best.track_id
            summary.best_iteration = best.iteration
            summary.headline = (
                f"best #{best.prompt_id}: {original.given:.2f} -> "
                f"{best.given:.2f} on {len(given)} given cases"
            )
        return summary


class SaveReports(Stage):
    """Stage 10: `best_prompt.txt` and `lineage.json` under `<report_dir>/<run_id>/<suite>/`."""

    name = "save_reports"
    derived = True

    async def run(self, ctx: RunContext) -> SaveReportsSummary:
        """Write the best prompt and the candidate lineage."""
        best_id = ctx.stage_summary(ReportingSummary).best_prompt_id or ctx.original_prompt_id()
        with ctx.repos() as r:
            titles: dict[int, list[str]] = {}
            for w in r.weaknesses.for_run(ctx.run_id, ctx.suite.name):
                titles.setdefault(w.prompt_id, []).extend(
                    str(x.get("title", "")) for x in (w.weaknesses or [])
                )
            prompts = r.prompts.for_suite(ctx.run_id, ctx.suite.name)
            lineage = [prompt_summary(p, titles).model_dump(mode="json") for p in prompts]
            text = next(
                (p.prompt_text for p in prompts if p.id == best_id), ctx.suite.system_template
            )
        best_path, lineage_path = write_suite_files(
            ctx.settings.report_dir / str(ctx.run_id), ctx.suite.name, text, lineage
        )
        return SaveReportsSummary(
            best_prompt_id=best_id,
            best_prompt_path=str(best_path),
            lineage_path=str(lineage_path),
            prompts=len(lineage),
            headline=f"wrote {best_path.parent}",
        )
