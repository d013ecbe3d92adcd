"""Small repositories over one `Session` each; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.orm import Session, contains_eager

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import (
    Evaluation,
    LLMCall,
    OptimizationRun,
    Prompt,
    StageResult,
    TestCase,
    WeaknessAnalysis,
    utcnow,
)
from pytest_promptopt.storage.stage_summaries import ReportingSummary

FINISHED_RUN_STATUSES: tuple[str, ...] = ("passed", "failed")
_CHUNK = 500


def prompt_hash(text: str) -> str:
    """Return the sha256 hex digest that identifies a prompt text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_responses(
    connection: Connection, request_hashes: Iterable[str]
) -> dict[str, tuple[Any, int, int]]:
    """Hash -> (response, input tokens, output tokens): the cache's hot path, no ORM objects."""
    hashes = sorted(set(request_hashes))
    found: dict[str, tuple[Any, int, int]] = {}
    cols = (LLMCall.request_hash, LLMCall.response, LLMCall.input_tokens, LLMCall.output_tokens)
    for start in range(0, len(hashes), _CHUNK):
        stmt = select(*cols).where(LLMCall.request_hash.in_(hashes[start : start + _CHUNK]))
        for key, response, tokens_in, tokens_out in connection.execute(stmt):
            found[key] = (response, tokens_in, tokens_out)
    return found


class CallStats(TypedDict):
    """Totals of the model calls recorded for one run."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class _Repository:
    """Holds the session every repository works in."""

    def __init__(self, session: Session) -> None:
        """Work inside `session`; committing is the caller's job."""
        self.session = session


class RunRepository(_Repository):
    """Rows of `optimization_runs`."""

    def create(self, session_uid: str, mode: str, settings: dict[str, Any]) -> OptimizationRun:
        """Get or create the run of a pytest session (safe when xdist workers race)."""
        row = {"session_uid": session_uid, "mode": mode, "settings": settings}
        insert_ignore(self.session, OptimizationRun, [row], ["session_uid"])
        run = self.by_uid(session_uid)
        assert run is not None
        return run

    def get(self, run_id: int) -> OptimizationRun | None:
        """Return the run with this id."""
        return self.session.get(OptimizationRun, run_id)

    def by_uid(self, session_uid: str) -> OptimizationRun | None:
        """Return the run of a pytest session."""
        stmt = select(OptimizationRun).where(OptimizationRun.session_uid == session_uid)
        return self.session.scalars(stmt).one_or_none()

    def latest(
        self, mode: str | None = None, statuses: Sequence[str] | None = None
    ) -> OptimizationRun | None:
        """Return the most recently started run, optionally of one mode and some statuses."""
        stmt = select(OptimizationRun)
        if mode is not None:
            stmt = stmt.where(OptimizationRun.mode == mode)
        if statuses is not None:
            stmt = stmt.where(OptimizationRun.status.in_(list(statuses)))
        stmt = stmt.order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
        return self.session.scalars(stmt.limit(1)).first()

    def finish(
        self, run_id: int, status: str, summary: dict[str, Any] | None = None
    ) -> OptimizationRun:
        """Mark a run finished now with `status` (and `summary` when given)."""
        run = self.session.get_one(OptimizationRun, run_id)
        run.status = status
        run.finished_at = utcnow()
        if summary is not None:
            run.summary = summary
        self.session.flush()
        return run

    def list_recent(self, limit: int = 20) -> list[OptimizationRun]:
        """Return the newest runs first."""
        stmt = select(OptimizationRun).order_by(
            OptimizationRun.started_at.desc(), OptimizationRun.id.desc()
        )
        return list(self.session.scalars(stmt.limit(limit)))


class PromptRepository(_Repository):
    """Rows of `prompts`."""

    def add(
        self,
        run_id: int,
        suite: str,
        prompt_text: str,
        *,
        stage: str,
        strategy: str | None = None,
        parent_prompt_id: int | None = None,
        track_id: int | None = None,
        iteration: int = 0,
        is_original: bool = False,
    ) -> Prompt:
        """Get or create the prompt with this text in (run, suite); an existing row is kept."""
        digest = prompt_hash(prompt_text)
        row = {
            "run_id": run_id,
            "suite": suite,
            "prompt_text": prompt_text,
            "prompt_hash": digest,
            "stage": stage,
            "strategy": strategy,
            "parent_prompt_id": parent_prompt_id,
            "track_id": track_id,
            "iteration": iteration,
            "is_original_system_prompt": is_original,
        }
        insert_ignore(self.session, Prompt, [row], ["run_id", "suite", "prompt_hash"])
        stmt = select(Prompt).where(
            Prompt.run_id == run_id, Prompt.suite == suite, Prompt.prompt_hash == digest
        )
        return self.session.scalars(stmt).one()

    def get(self, prompt_id: int) -> Prompt | None:
        """Return the prompt with this id."""
        return self.session.get(Prompt, prompt_id)

    def for_suite(self, run_id: int, suite: str, stage: str | None = None) -> list[Prompt]:
        """Return the prompts of a suite in a run, oldest first."""
        stmt = select(Prompt).where(Prompt.run_id == run_id, Prompt.suite == suite)
        if stage is not None:
            stmt = stmt.where(Prompt.stage == stage)
        return list(self.session.scalars(stmt.order_by(Prompt.id)))

    def set_scores(
        self,
        prompt_id: int,
        quick: float | None = None,
        rigorous: float | None = None,
        average: float | None = None,
    ) -> Prompt:
        """Set the scores that are given, leaving the others as they are."""
        prompt = self.session.get_one(Prompt, prompt_id)
        if quick is not None:
            prompt.quick_score = quick
        if rigorous is not None:
            prompt.rigorous_score = rigorous
        if average is not None:
            prompt.average_score = average
        self.session.flush()
        return prompt

    def best(self, run_id: int, suite: str) -> Prompt | None:
        """Return the scored prompt with the highest average (ties: original, then oldest)."""
        stmt = (
            select(Prompt)
            .where(
                Prompt.run_id == run_id,
                Prompt.suite == suite,
                Prompt.average_score.is_not(None),
            )
            .order_by(
                Prompt.average_score.desc(),
                Prompt.is_original_system_prompt.desc(),
                Prompt.id,
            )
        )
        return self.session.scalars(stmt.limit(1)).first()

    def lineage(self, prompt_id: int) -> list[Prompt]:
        """Return the chain of parents from the root prompt down to this one."""
        chain: list[Prompt] = []
        seen: set[int] = set()
        current = self.session.get(Prompt, prompt_id)
        while current is not None and current.id not in seen:
            chain.append(current)
            seen.add(current.id)
            parent_id = current.parent_prompt_id
            current = self.session.get(Prompt, parent_id) if parent_id is not None else None
        chain.reverse()
        return chain

    def latest_best(self, suite: str) -> Prompt | None:
        """The best prompt of the most recent finished optimize run of `suite`.

        "Best" is what that run's `reporting` stage chose (the gate's pick: the highest mean
        on the given cases); runs from before that stage existed fall back to average_score.
        """
        runs = (
            select(OptimizationRun.id)
            .join(Prompt, Prompt.run_id == OptimizationRun.id)
            .where(
                Prompt.suite == suite,
                OptimizationRun.mode == "optimize",
                OptimizationRun.finished_at.is_not(None),
                OptimizationRun.status.in_(FINISHED_RUN_STATUSES),
            )
            .order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
            .limit(1)
        )
        run_id = self.session.scalars(runs).first()
        return None if run_id is None else self.chosen(run_id, suite)

    def chosen_ids(self, run_id: int) -> dict[str, int]:
        """Suite -> the prompt an optimize run's `reporting` stage chose (what its items judged)."""
        stmt = select(StageResult.suite, StageResult.summary).where(
            StageResult.run_id == run_id, StageResult.stage == ReportingSummary.STAGE
        )
        chosen = {suite: ReportingSummary.parse(data) for suite, data in self.session.execute(stmt)}
        return {s: c.best_prompt_id for s, c in chosen.items() if c.best_prompt_id is not None}

    def chosen(self, run_id: int, suite: str) -> Prompt | None:
        """The run's best prompt of a suite: the `reporting` stage's pick, else `best`."""
        chosen_id = self.chosen_ids(run_id).get(suite)
        prompt = self.get(chosen_id) if chosen_id is not None else None
        return prompt if prompt is not None else self.best(run_id, suite)


class TestCaseRepository(_Repository):
    """Rows of `test_cases`."""

    __test__ = False  # not a pytest test class despite the name

    def upsert_many(self, run_id: int, suite: str, cases: list[dict[str, Any]]) -> dict[str, int]:
        """Insert the cases not yet stored; return the id of every given case key."""
        rows = [{**case, "run_id": run_id, "suite": suite} for case in cases]
        insert_ignore(self.session, TestCase, rows, ["run_id", "suite", "case_key"])
        wanted = {str(case["case_key"]) for case in cases}
        stmt = select(TestCase.case_key, TestCase.id).where(
            TestCase.run_id == run_id, TestCase.suite == suite
        )
        return {key: id_ for key, id_ in self.session.execute(stmt) if key in wanted}

    def for_suite(
        self, run_id: int, suite: str, stages: Sequence[str] | None = None
    ) -> list[TestCase]:
        """Return the cases of a suite in a run, oldest first, optionally of some stages."""
        stmt = select(TestCase).where(TestCase.run_id == run_id, TestCase.suite == suite)
        if stages is not None:
            stmt = stmt.where(TestCase.stage.in_(list(stages)))
        return list(self.session.scalars(stmt.order_by(TestCase.id)))

    def ids_and_categories(
        self, run_id: int, suite: str, stages: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        """Case key -> (row id, category) for a suite's cases of some stages (no ORM objects)."""
        stmt = select(TestCase.case_key, TestCase.id, TestCase.category).where(
            TestCase.run_id == run_id, TestCase.suite == suite, TestCase.stage.in_(list(stages))
        )
        return {key: (id_, category) for key, id_, category in self.session.execute(stmt)}

    def by_keys(self, run_id: int, suite: str, keys: Iterable[str]) -> dict[str, TestCase]:
        """Return the stored cases with these keys, by key (missing keys are left out)."""
        wanted = set(keys)
        stmt = select(TestCase).where(TestCase.run_id == run_id, TestCase.suite == suite)
        return {
            case.case_key: case for case in self.session.scalars(stmt) if case.case_key in wanted
        }


class EvaluationRepository(_Repository):
    """Rows of `evaluations`."""

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert evaluations, skipping any (prompt, case, sample) already stored."""
        insert_ignore(self.session, Evaluation, rows, ["prompt_id", "test_case_id", "sample"])

    def for_prompt(
        self, prompt_id: int, test_case_ids: Iterable[int] | None = None
    ) -> list[Evaluation]:
        """Return a prompt's evaluations ordered by case and sample."""
        stmt = select(Evaluation).where(Evaluation.prompt_id == prompt_id)
        if test_case_ids is not None:
            stmt = stmt.where(Evaluation.test_case_id.in_(list(test_case_ids)))
        stmt = stmt.order_by(Evaluation.test_case_id, Evaluation.sample)
        return list(self.session.scalars(stmt))

    def report_rows(self, prompt_id: int) -> Sequence[Row[Any]]:
        """What the reports show of a prompt's evaluations, by case and sample (no ORM objects)."""
        stmt = (
            select(
                Evaluation.test_case_id,
                Evaluation.reasoning,
                Evaluation.model_response,
                Evaluation.assertion_results,
                Evaluation.cached,
            )
            .where(Evaluation.prompt_id == prompt_id)
            .order_by(Evaluation.test_case_id, Evaluation.sample)
        )
        return self.session.execute(stmt).all()

    def done_keys(self, prompt_id: int) -> set[tuple[int, int]]:
        """Return the (test_case_id, sample) pairs already evaluated for a prompt."""
        stmt = select(Evaluation.test_case_id, Evaluation.sample).where(
            Evaluation.prompt_id == prompt_id
        )
        return {(case_id, sample) for case_id, sample in self.session.execute(stmt)}

    def mean_scores(
        self, prompt_id: int, test_case_ids: Iterable[int] | None = None
    ) -> dict[int, float]:
        """Return the mean overall score per test case over its samples."""
        stmt = select(Evaluation.test_case_id, func.avg(Evaluation.overall_score)).where(
            Evaluation.prompt_id == prompt_id
        )
        if test_case_ids is not None:
            stmt = stmt.where(Evaluation.test_case_id.in_(list(test_case_ids)))
        stmt = stmt.group_by(Evaluation.test_case_id)
        return {case_id: float(mean) for case_id, mean in self.session.execute(stmt)}

    def count(self, run_id: int) -> int:
        """Return how many evaluations a run stored."""
        stmt = select(func.count()).select_from(Evaluation).where(Evaluation.run_id == run_id)
        return int(self.session.scalar(stmt) or 0)

    def for_run(self, run_id: int) -> list[Evaluation]:
        """Return every evaluation of a run in insertion order."""
        stmt = select(Evaluation).where(Evaluation.run_id == run_id).order_by(Evaluation.id)
        return list(self.session.scalars(stmt))


class StageResultRepository(_Repository):
    """Rows of `stage_results`."""

    def start(self, run_id: int, suite: str, stage: str) -> tuple[StageResult, bool]:
        """Get or create a stage row; return it and whether it had already completed."""
        row = {"run_id": run_id, "suite": suite, "stage": stage, "status": "running"}
        insert_ignore(self.session, StageResult, [row], ["run_id", "suite", "stage"])
        result = self.get(run_id, suite, stage)
        assert result is not None
        if result.status == "completed":
            return result, True
        if result.status != "running":
            # Re-running a failed, skipped or budget-stopped stage.
            result.status = "running"
            result.started_at = utcnow()
            result.finished_at = None
            self.session.flush()
        return result, False

    def complete(
        self, result_id: int, summary: dict[str, Any], status: str = "completed"
    ) -> StageResult:
        """Finish a stage now with `status` and `summary`."""
        result = self.session.get_one(StageResult, result_id)
        result.status = status
        result.summary = summary
        result.finished_at = utcnow()
        self.session.flush()
        return result

    def get(self, run_id: int, suite: str, stage: str) -> StageResult | None:
        """Return the row of one stage of a suite in a run."""
        stmt = select(StageResult).where(
            StageResult.run_id == run_id, StageResult.suite == suite, StageResult.stage == stage
        )
        return self.session.scalars(stmt).one_or_none()

    def for_run(self, run_id: int, suite: str | None = None) -> list[StageResult]:
        """Return a run's stage rows in the order they started."""
        stmt = select(StageResult).where(StageResult.run_id == run_id)
        if suite is not None:
            stmt = stmt.where(StageResult.suite == suite)
        return list(self.session.scalars(stmt.order_by(StageResult.id)))


class WeaknessRepository(_Repository):
    """Rows of `weakness_analyses`."""

    def add(
        self,
        run_id: int,
        prompt_id: int,
        track_id: int,
        iteration: int,
        weaknesses: list[Any],
        suggestions: str,
        case_keys: list[str],
    ) -> WeaknessAnalysis:
        """Get or create the analysis of a prompt in a run; an existing row is kept."""
        row = {
            "run_id": run_id,
            "prompt_id": prompt_id,
            "track_id": track_id,
            "iteration": iteration,
            "weaknesses": weaknesses,
            "suggestions": suggestions,
            "case_keys": case_keys,
        }
        insert_ignore(self.session, WeaknessAnalysis, [row], ["run_id", "prompt_id"])
        stmt = select(WeaknessAnalysis).where(
            WeaknessAnalysis.run_id == run_id, WeaknessAnalysis.prompt_id == prompt_id
        )
        return self.session.scalars(stmt).one()

    def for_run(self, run_id: int, suite: str | None = None) -> list[WeaknessAnalysis]:
        """Return a run's analyses with `.prompt` loaded, by track and iteration."""
        stmt = (
            select(WeaknessAnalysis)
            .join(Prompt, WeaknessAnalysis.prompt_id == Prompt.id)
            .options(contains_eager(WeaknessAnalysis.prompt))
            .where(WeaknessAnalysis.run_id == run_id)
        )
        if suite is not None:
            stmt = stmt.where(Prompt.suite == suite)
        stmt = stmt.order_by(
            WeaknessAnalysis.track_id, WeaknessAnalysis.iteration, WeaknessAnalysis.id
        )
        return list(self.session.scalars(stmt))


class LLMCallRepository(_Repository):
    """Rows of `llm_calls`, the response cache."""

    def get(self, request_hash: str) -> LLMCall | None:
        """Return the cached call for a request hash."""
        stmt = select(LLMCall).where(LLMCall.request_hash == request_hash)
        return self.session.scalars(stmt).one_or_none()

    def get_many(self, request_hashes: Iterable[str]) -> dict[str, LLMCall]:
        """Return the cached calls for many hashes, by hash (looked up 500 at a time)."""
        hashes = sorted(set(request_hashes))
        found: dict[str, LLMCall] = {}
        for start in range(0, len(hashes), _CHUNK):
            stmt = select(LLMCall).where(LLMCall.request_hash.in_(hashes[start : start + _CHUNK]))
            found.update((call.request_hash, call) for call in self.session.scalars(stmt))
        return found

    def add(self, row: dict[str, Any]) -> None:
        """Record a call unless its request hash is already cached."""
        insert_ignore(self.session, LLMCall, [row], ["request_hash"])

    def stats(self, run_id: int) -> CallStats:
        """Return the number of calls, tokens and cost recorded by a run."""
        stmt = select(
            func.count(),
            func.coalesce(func.sum(LLMCall.input_tokens), 0),
            func.coalesce(func.sum(LLMCall.output_tokens), 0),
            func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
        ).where(LLMCall.run_id == run_id)
        calls, tokens_in, tokens_out, cost = self.session.execute(stmt).one()
        return CallStats(
            calls=int(calls),
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            cost_usd=float(cost),
        )
