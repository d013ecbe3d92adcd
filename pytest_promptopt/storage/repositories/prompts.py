"""Rows of `prompts`: candidates by text, their scores, lineage and the chosen best."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from pytest_promptopt.records.choice import CHOICE_STAGE, BestChoice
from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import OptimizationRun, Prompt, StageResult
from pytest_promptopt.storage.repositories.base import Repository
from pytest_promptopt.storage.repositories.runs import FINISHED_RUN_STATUSES


def prompt_hash(text: str) -> str:
    """Return the sha256 hex digest that identifies a prompt text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PromptRepository(Repository):
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
            StageResult.run_id == run_id, StageResult.stage == CHOICE_STAGE
        )
        chosen = {suite: BestChoice.parse(data) for suite, data in self.session.execute(stmt)}
        return {s: c.best_prompt_id for s, c in chosen.items() if c.best_prompt_id is not None}

    def chosen(self, run_id: int, suite: str) -> Prompt | None:
        """The run's best prompt of a suite: the `reporting` stage's pick, else `best`."""
        chosen_id = self.chosen_ids(run_id).get(suite)
        prompt = self.get(chosen_id) if chosen_id is not None else None
        return prompt if prompt is not None else self.best(run_id, suite)
