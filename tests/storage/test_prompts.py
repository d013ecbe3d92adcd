"""PromptRepository: get-or-create by text, scores, the best prompt, lineage and picks."""

from __future__ import annotations

from datetime import timedelta

from pytest_promptopt.storage import (
    Database,
    PromptRepository,
    RunRepository,
    StageResultRepository,
    prompt_hash,
)


def test_prompt_repository(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-p", "optimize", {})
        prompts = PromptRepository(s)
        root = prompts.add(run.id, "s", "root text", stage="given", is_original=True)
        dup = prompts.add(run.id, "s", "root text", stage="refined", strategy="x")
        assert dup.id == root.id and dup.stage == "given" and dup.is_original_system_prompt
        assert root.prompt_hash == prompt_hash("root text") and len(root.prompt_hash) == 64
        other_suite = prompts.add(run.id, "t", "root text", stage="given")
        assert other_suite.id != root.id
        child = prompts.add(
            run.id,
            "s",
            "child",
            stage="initial",
            strategy="cot",
            parent_prompt_id=root.id,
            track_id=1,
        )
        grandchild = prompts.add(
            run.id,
            "s",
            "grandchild",
            stage="refined",
            parent_prompt_id=child.id,
            track_id=1,
            iteration=2,
        )
        assert grandchild.iteration == 2 and child.iteration == 0
        assert prompts.best(run.id, "s") is None  # nothing scored yet
        prompts.set_scores(root.id, quick=0.5)
        prompts.set_scores(root.id, average=0.8)
        prompts.set_scores(child.id, quick=0.9, rigorous=0.7, average=0.8)
        prompts.set_scores(grandchild.id, average=0.6)
    with db.session_scope() as s:
        prompts = PromptRepository(s)
        stored = prompts.get(root.id)
        assert stored is not None
        assert (stored.quick_score, stored.rigorous_score, stored.average_score) == (0.5, None, 0.8)
        assert prompts.get(999) is None
        assert [p.prompt_text for p in prompts.for_suite(run.id, "s")] == [
            "root text",
            "child",
            "grandchild",
        ]
        assert [p.id for p in prompts.for_suite(run.id, "s", stage="refined")] == [grandchild.id]
        # Tie at 0.8: the original wins.
        best = prompts.best(run.id, "s")
        assert best is not None and best.id == root.id
        prompts.set_scores(child.id, average=0.85)
        assert prompts.best(run.id, "s").id == child.id  # type: ignore[union-attr]
        assert [p.id for p in prompts.lineage(grandchild.id)] == [root.id, child.id, grandchild.id]
        assert [p.id for p in prompts.lineage(root.id)] == [root.id]
        assert prompts.lineage(424242) == []


def test_prompt_best_ties_without_original_pick_lowest_id(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-tie", "optimize", {})
        prompts = PromptRepository(s)
        a = prompts.add(run.id, "s", "a", stage="initial")
        b = prompts.add(run.id, "s", "b", stage="initial")
        prompts.set_scores(b.id, average=0.7)
        prompts.set_scores(a.id, average=0.7)
        assert prompts.best(run.id, "s").id == a.id  # type: ignore[union-attr]


def test_prompt_latest_best_across_runs(db: Database) -> None:
    with db.session_scope() as s:
        runs, prompts = RunRepository(s), PromptRepository(s)
        old = runs.create("old", "optimize", {})
        p_old = prompts.add(old.id, "s", "old best", stage="refined")
        prompts.set_scores(p_old.id, average=0.9)
        runs.finish(old.id, "passed")
        new = runs.create("new", "optimize", {})
        new.started_at = old.started_at + timedelta(minutes=1)
        p_new_a = prompts.add(new.id, "s", "new a", stage="refined")
        p_new_b = prompts.add(new.id, "s", "new b", stage="refined")
        prompts.set_scores(p_new_a.id, average=0.4)
        prompts.set_scores(p_new_b.id, average=0.6)
        # Still running: not considered yet.
        assert prompts.latest_best("s").id == p_old.id  # type: ignore[union-attr]
        runs.finish(new.id, "failed")
        newest = runs.create("newest-test", "test", {})
        newest.started_at = old.started_at + timedelta(minutes=2)
        p_test = prompts.add(newest.id, "s", "test mode", stage="given")
        prompts.set_scores(p_test.id, average=1.0)
        runs.finish(newest.id, "passed")
        interrupted = runs.create("interrupted", "optimize", {})
        interrupted.started_at = old.started_at + timedelta(minutes=3)
        p_int = prompts.add(interrupted.id, "s", "partial", stage="refined")
        prompts.set_scores(p_int.id, average=1.0)
        runs.finish(interrupted.id, "interrupted")
    with db.session_scope() as s:
        prompts = PromptRepository(s)
        assert prompts.latest_best("s").id == p_new_b.id  # type: ignore[union-attr]
        assert prompts.latest_best("unknown") is None


def test_latest_best_is_the_prompt_the_reporting_stage_chose(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-best", "optimize", {})
        prompts = PromptRepository(s)
        gate_pick = prompts.add(run.id, "bot", "gate pick", stage="initial")
        higher_average = prompts.add(run.id, "bot", "higher average", stage="initial")
        prompts.set_scores(gate_pick.id, average=0.70)
        prompts.set_scores(higher_average.id, average=0.90)
        stages = StageResultRepository(s)
        row, _ = stages.start(run.id, "bot", "reporting")
        stages.complete(row.id, {"best_prompt_id": gate_pick.id})
        RunRepository(s).finish(run.id, "passed")
    with db.session_scope() as s:
        best = PromptRepository(s).latest_best("bot")
        assert best is not None and best.prompt_text == "gate pick"
        assert PromptRepository(s).latest_best("other") is None
