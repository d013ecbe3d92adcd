"""The orchestrator: runs the stages in order, records each in stage_results, resumes and stops."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import BudgetExceededError, PromptOptError
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.optimize.progress import Progress
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.order import default_stages
from pytest_promptopt.optimize.stages.report import ReportingSummary, suite_folder
from pytest_promptopt.records.summary import StageSummaryBase

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


class Pipeline:
    """Runs stages for one suite; completed stages are skipped, a cap stops it cleanly."""

    def __init__(
        self,
        ctx: RunContext,
        stages: Sequence[Stage[Any]] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.ctx = ctx
        self.stages = list(stages) if stages is not None else default_stages()
        self.progress = progress or Progress(None, ctx.budget)
        self.stopped_by: str | None = None
        self.error: str | None = None

    async def run(self) -> OptimizeOutcome:
        """Run every stage and return the suite's outcome (the best prompt so far when stopped)."""
        ctx = self.ctx
        original_id = ctx.original_prompt_id()
        ctx.store_given_cases()
        total = len(self.stages)
        for index, stage in enumerate(self.stages, start=1):
            with ctx.repos() as r:
                row, done = r.stage_results.start(ctx.run_id, ctx.suite.name, stage.name)
                row_id = int(row.id)
            if done and not stage.derived:
                self.progress.stage_end(
                    ctx.suite.name,
                    stage.name,
                    index,
                    total,
                    "reused",
                    0.0,
                    "completed in an earlier run",
                )
                continue
            if (self.stopped_by or self.error) and not stage.derived:
                reason = f"stopped by {self.stopped_by}" if self.stopped_by else "an earlier error"
                self._finish(row_id, stage.summary_model(reason=reason), "skipped")
                self.progress.stage_end(
                    ctx.suite.name, stage.name, index, total, "skipped", 0.0, reason
                )
                continue
            await self._run_stage(stage, row_id, index, total)
        return self._outcome(original_id)

    async def _run_stage(self, stage: Stage[Any], row_id: int, index: int, total: int) -> None:
        ctx = self.ctx
        self.progress.stage_start(ctx.suite.name, stage.name, index, total)
        calls, spent, unpriced = ctx.budget.calls, ctx.budget.spent_usd, ctx.budget.unpriced_calls
        started = time.perf_counter()
        status = "completed"
        model = stage.summary_model
        summary: StageSummaryBase
        try:
            summary = await stage.run(ctx)
        except BudgetExceededError as exc:
            self.stopped_by = exc.cap
            status = "budget_exhausted"
            summary = model.failed(str(exc), stage.partial, stopped_by=exc.cap)
        except PromptOptError as exc:
            self.error = str(exc)
            status = "failed"
            summary = model.failed(str(exc), stage.partial)
        except BaseException as exc:
            self._finish(row_id, model.failed(repr(exc), stage.partial), "failed")
            raise
        seconds = time.perf_counter() - started
        summary.duration_s = round(seconds, 3)
        summary.calls = ctx.budget.calls - calls
        cost = ctx.budget.spent_since(spent, unpriced)
        summary.cost_usd = None if cost is None else round(cost, 6)
        self._finish(row_id, summary, status)
        note = stage.headline(summary) if status == "completed" else str(summary.error)
        self.progress.stage_end(ctx.suite.name, stage.name, index, total, status, seconds, note)

    def _finish(self, row_id: int, summary: StageSummaryBase, status: str) -> None:
        with self.ctx.repos() as r:
            r.stage_results.complete(row_id, summary.to_json(), status=status)

    def _outcome(self, original_id: int) -> OptimizeOutcome:
        ctx = self.ctx
        data = ctx.stage_summary(ReportingSummary)
        best_id = data.best_prompt_id if data.best_prompt_id is not None else original_id
        with ctx.repos() as r:
            best = r.prompts.get(best_id)
            text = best.prompt_text if best is not None else ctx.suite.system_template
        outcome = OptimizeOutcome.from_summary(ctx.suite.name, ctx.run_id, original_id, text, data)
        outcome.stopped_by = self.stopped_by
        outcome.error = self.error
        outcome.report_dir = suite_folder(ctx)
        return outcome
