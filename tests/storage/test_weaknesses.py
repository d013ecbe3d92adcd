"""WeaknessRepository: one analysis per prompt in a run, read back with its prompt."""

from __future__ import annotations

from pytest_promptopt.storage import Database, PromptRepository, WeaknessRepository


def test_weakness_repository(db: Database, seeded: tuple[int, int, int]) -> None:
    run_id, prompt_id, _ = seeded
    with db.session_scope() as s:
        other = PromptRepository(s).add(run_id, "billing", "Other prompt", stage="given")
        weak = WeaknessRepository(s)
        first = weak.add(run_id, prompt_id, 1, 0, ["too terse"], "add detail", ["c1"])
        dup = weak.add(run_id, prompt_id, 1, 0, ["changed"], "other", [])
        assert dup.id == first.id and dup.weaknesses == ["too terse"]
        weak.add(run_id, other.id, 2, 1, [{"issue": "x"}], "fix x", ["k"])
    with db.session_scope() as s:
        weak = WeaknessRepository(s)
        all_rows = weak.for_run(run_id)
        assert [(w.track_id, w.iteration) for w in all_rows] == [(1, 0), (2, 1)]
        assert all_rows[0].case_keys == ["c1"] and all_rows[0].suggestions == "add detail"
        billing = weak.for_run(run_id, suite="billing")
        assert len(billing) == 1 and billing[0].weaknesses == [{"issue": "x"}]
    # `.prompt` is loaded by the join, usable after the session closed.
    assert billing[0].prompt.suite == "billing"
    assert weak.for_run(run_id + 1) == []
