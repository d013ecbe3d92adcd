"""The confirmation split, the deterministic-backend check and the pipeline's own labels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pytest_promptopt.optimize.split import split_cases
from pytest_promptopt.optimize.stages.generation import own_strategy
from pytest_promptopt.simulator.core import Simulator
from pytest_promptopt.storage.models import StageResult
from tests.support.optimize import make_runtime, make_suite, run_pipeline

CATEGORIES = ["refund"] * 4 + ["delivery"] * 4 + ["product"] * 2


def pairs(n: int) -> list[tuple[str, str]]:
    """(key, category) of `n` cases."""
    return [(f"c{i}", CATEGORIES[i % len(CATEGORIES)]) for i in range(n)]


def test_three_splits_are_disjoint_seeded_and_stratified() -> None:
    split = split_cases(pairs(10), 0.3, seed=5, confirm=None)
    assert split == split_cases(pairs(10), 0.3, seed=5, confirm=None)
    assert (len(split.feedback), len(split.holdout), len(split.confirm)) == (4, 3, 3)
    parts = [set(split.feedback), set(split.holdout), set(split.confirm)]
    assert set().union(*parts) == {k for k, _ in pairs(10)} and sum(map(len, parts)) == 10
    categories = dict(pairs(10))
    assert len({categories[k] for k in split.confirm}) == 3  # one of each category
    assert "3 of 10 given cases confirm" in split.confirm_note
    assert split.part_of()[split.confirm[0]] == "confirm"
    twenty = split_cases(pairs(20), 0.3, seed=5, confirm=None)
    assert (len(twenty.holdout), len(twenty.confirm)) == (6, 6)
    assert len(split_cases(pairs(20), 0.3, seed=5, confirm=0.5).confirm) == 10


def test_a_suite_too_small_for_three_splits_says_so() -> None:
    small = split_cases(pairs(5), 0.3, seed=1, confirm=None)
    assert small.confirm == () and len(small.holdout) == 2  # the two-way split as before
    assert small.confirm_note.startswith("too small for a confirmation split: 5 given cases")
    assert small.confirm_note.endswith("so the original stays")
    assert split_cases(pairs(10), 0.3, seed=1, confirm=0.1).confirm == ()  # 1 case: under 3
    off = split_cases(pairs(10), 0.3, seed=1, confirm=0.0)
    assert off.confirm == () and "--promptopt-confirm is 0" in off.confirm_note
    # Without a confirmation share the split is the two-way one of before, case for case.
    assert off.holdout == split_cases(pairs(10), 0.3, seed=1).holdout


def test_candidates_get_the_pipelines_names_not_the_writers_words() -> None:
    asked = ["concise", "persona", "step_by_step"]
    assert own_strategy("Persona", asked, set(), 0) == "persona"
    assert own_strategy("or your that details details your step or", asked, set(), 1) == "persona"
    assert own_strategy("noise", asked, {"persona"}, 1) == "concise"


def deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the simulator answer as temperature 0 would: the same request, the same answer
    (it ignores the sample index, which never reaches a real API's request)."""
    respond = Simulator.respond

    def same(self: Simulator, method: str, path: str, raw: bytes, *, sample: int = 0) -> Any:
        return respond(self, method, path, raw, sample=0)

    monkeypatch.setattr(Simulator, "respond", same)


def choice_summary(runtime: Any) -> dict[str, Any]:
    """The select_best stage's stored summary."""
    with runtime.db.session_scope() as s:
        row = s.scalars(select(StageResult).where(StageResult.stage == "select_best")).one()
        return dict(row.summary)


def test_a_deterministic_backend_is_detected_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deterministic(monkeypatch)
    runtime = make_runtime(tmp_path)
    outcome = run_pipeline(runtime, make_suite())
    assert outcome.deterministic is True
    assert re.match(
        r"deterministic backend: all \d+ repeated samples were byte-identical", outcome.repeat_note
    )
    assert "repeats count as one sample" in outcome.describe()
    summary = choice_summary(runtime)
    assert summary["deterministic"] is True and summary["repeat_note"] == outcome.repeat_note
    # Once repeats are known to be identical, a later tie is not re-sampled for nothing.
    with runtime.db.session_scope() as s:
        rows = {r.stage: dict(r.summary) for r in s.scalars(select(StageResult))}
    reasons = [r for st in ("select_top_k", "select_top_m") for r in rows[st].get("reasoning", [])]
    assert any("byte-identical" in r or "not re-sampling the tie" in r for r in reasons), reasons
    runtime.close("passed")


def test_a_backend_with_fresh_randomness_is_not_called_deterministic(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    outcome = run_pipeline(runtime, make_suite())
    assert outcome.deterministic is False
    assert outcome.repeat_note.startswith("repeated samples differ")
    assert "deterministic backend" not in outcome.describe()
    runtime.close("passed")
