"""Builds a RunReport from the database plus the per-case figures the item reports carried."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.pass_rate import pass_rate_requirements
from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.evaluation.results import is_truncated
from pytest_promptopt.evaluation.variants import variant_comparisons
from pytest_promptopt.records.choice import CHOICE_STAGE, BestChoice
from pytest_promptopt.records.summary import StoredSummary
from pytest_promptopt.reporting.model import (
    CaseRow,
    PromptSummary,
    RunReport,
    StageSummary,
    SuiteSummary,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.stats.pairwise import PairwiseComparison
    from pytest_promptopt.storage.database import Database

RESPONSE_CHARS = 2000


def build_report(
    db: Database,
    run_id: int,
    records: Mapping[str, Sequence[CaseRecord]],
    *,
    variant_pairs: Mapping[str, PairwiseComparison] | None = None,
) -> RunReport:
    """Everything the reports show about a run: the items' case records (grouped by suite)
    and what the database holds about their prompts, cases and evaluations."""
    from pytest_promptopt.storage.repositories import (
        EvaluationRepository,
        PromptRepository,
        RunRepository,
        TestCaseRepository,
        WeaknessRepository,
    )

    judged = {
        name: next((r.prompt_id for r in rows if r.prompt_id is not None), None)
        for name, rows in records.items()
    }
    with db.session_scope() as s:
        run = RunRepository(s).get(run_id)
        assert run is not None
        suites: list[SuiteSummary] = []
        cases: list[CaseRow] = []
        weaknesses: dict[int, list[str]] = defaultdict(list)
        for w in WeaknessRepository(s).for_run(run_id):
            weaknesses[w.prompt_id].extend(x.get("title", "") for x in (w.weaknesses or []))
        for name, suite_records in records.items():
            prompt_id = judged.get(name)
            prompt = PromptRepository(s).get(prompt_id) if prompt_id else None
            given = TestCaseRepository(s).ids_and_categories(run_id, name, stages=["given"])
            evals: dict[int, list[Any]] = defaultdict(list)
            if prompt_id:
                for e in EvaluationRepository(s).report_rows(prompt_id):
                    evals[e.test_case_id].append(e)
            for r in suite_records:
                tc_id, category = given.get(r.case_id, (None, ""))
                samples = evals.get(tc_id, []) if tc_id is not None else []
                first = samples[0] if samples else None
                cases.append(
                    CaseRow(
                        **r.model_dump(),
                        category=category,
                        reasoning=(first.reasoning or "") if first is not None else "",
                        failed_assertions=[
                            f"{a['kind']} {a['expected']}"
                            + (f" ({a['detail']})" if a.get("detail") else "")
                            for e in samples
                            for a in (e.assertion_results or [])
                            if not a.get("passed")
                        ],
                        response=(
                            first.model_response[:RESPONSE_CHARS] if first is not None else ""
                        ),
                        samples=max(1, len(samples)),
                        cached=bool(samples) and all(e.cached for e in samples),
                        tool_calls=(first.tool_calls or []) if first is not None else [],
                        trajectory=first.trajectory if first is not None else None,
                        stop_reason=first.stop_reason if first is not None else None,
                        truncated=any(is_truncated(e.stop_reason) for e in samples),
                    )
                )
            suites.append(
                _suite_summary(
                    s, run_id, name, suite_records, prompt, weaknesses, run.mode == "optimize"
                )
            )
        return RunReport(
            run_id=run_id,
            session_uid=run.session_uid,
            mode=run.mode,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            settings=dict(run.settings or {}),
            suites=suites,
            cases=cases,
            variants=variant_comparisons(records, variant_pairs),
            pass_rate_gates=pass_rate_requirements(records),
        )


def prompt_summary(p: Any, weakness_titles: dict[int, list[str]]) -> PromptSummary:
    """A `prompts` row for the reports, with the weaknesses it was refined to fix."""
    return PromptSummary(
        id=p.id,
        suite=p.suite,
        stage=p.stage,
        strategy=p.strategy,
        parent_prompt_id=p.parent_prompt_id,
        track_id=p.track_id,
        iteration=p.iteration,
        is_original=p.is_original_system_prompt,
        quick_score=p.quick_score,
        rigorous_score=p.rigorous_score,
        average_score=p.average_score,
        prompt_text=p.prompt_text,
        weakness_titles=weakness_titles.get(p.parent_prompt_id, []) if p.parent_prompt_id else [],
    )


def _suite_summary(
    s: Any,
    run_id: int,
    name: str,
    records: Sequence[CaseRecord],
    prompt: Any,
    weaknesses: dict[int, list[str]],
    optimize: bool,
) -> SuiteSummary:
    """Totals of a suite, plus lineage and stages when it was optimized."""
    from pytest_promptopt.storage.repositories import PromptRepository, StageResultRepository

    summary = SuiteSummary(
        **SuiteTotals.of(name, records).model_dump(),
        prompt_id=prompt.id if prompt is not None else None,
        prompt_text=prompt.prompt_text if prompt is not None else "",
    )
    if not optimize:
        return summary
    prompts = PromptRepository(s).for_suite(run_id, name)
    summary.lineage = [prompt_summary(p, weaknesses) for p in prompts]
    stages = [
        (st, StoredSummary.parse(st.summary))
        for st in StageResultRepository(s).for_run(run_id, name)
    ]
    summary.stages = [
        StageSummary(
            stage=st.stage,
            status=st.status,
            duration_s=(st.finished_at - st.started_at).total_seconds() if st.finished_at else None,
            summary=data.to_json(),
        )
        for st, data in stages
    ]
    for st, data in stages:
        choice = BestChoice.parse(st.summary) if st.stage == CHOICE_STAGE else None
        if choice is not None and choice.original_given_score is not None:
            summary.original_mean_score = choice.original_given_score
            summary.best_mean_score = choice.best_given_score
            summary.best_prompt_id = choice.best_prompt_id
            summary.feedback_cases = choice.feedback_cases
            summary.holdout_cases = choice.holdout_cases
            summary.split_note, summary.gate_verdict = choice.split_note, choice.gate_verdict
            summary.finalists = [
                f.model_copy(update={"best": f.prompt_id == choice.best_prompt_id})
                for f in choice.finalists
            ]
        if st.status == "budget_exhausted":
            summary.stopped_by = data.stopped_by or "budget"
    if summary.best_prompt_id is None and prompt is not None:
        summary.best_prompt_id = prompt.id
    return summary
