"""StageResultRepository: start (and restart), complete and read the stages of a run."""

from __future__ import annotations

from pytest_promptopt.storage import Database, StageResultRepository


def test_stage_result_repository(db: Database, seeded: tuple[int, int, int]) -> None:
    run_id, _, _ = seeded
    with db.session_scope() as s:
        stages = StageResultRepository(s)
        row, done = stages.start(run_id, "support", "quick")
        assert not done and row.status == "running" and row.finished_at is None
        again, done = stages.start(run_id, "support", "quick")
        assert again.id == row.id and not done
        completed = stages.complete(row.id, {"best": 0.9})
        assert completed.status == "completed" and completed.finished_at is not None
        rig, _ = stages.start(run_id, "support", "rigorous")
        stages.complete(rig.id, {"spent": 1.0}, status="budget_exhausted")
        stages.start(run_id, "other", "quick")
    with db.session_scope() as s:
        stages = StageResultRepository(s)
        resumed, done = stages.start(run_id, "support", "quick")
        assert done and resumed.summary == {"best": 0.9}
        retried, done = stages.start(run_id, "support", "rigorous")
        assert not done and retried.status == "running" and retried.finished_at is None
        got = stages.get(run_id, "support", "quick")
        assert got is not None and got.status == "completed"
        assert stages.get(run_id, "support", "missing") is None
        assert [(r.suite, r.stage) for r in stages.for_run(run_id)] == [
            ("support", "quick"),
            ("support", "rigorous"),
            ("other", "quick"),
        ]
        assert [r.stage for r in stages.for_run(run_id, suite="other")] == ["quick"]
