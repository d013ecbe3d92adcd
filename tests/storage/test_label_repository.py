"""`labels`: people's labels attach to the answer's hash; one per answer, criterion and person."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import (
    OVERALL,
    LabelInput,
    answer_hash,
    judged_criteria,
)


def _run(
    db: Database, uid: str, answers: dict[str, str], judged: bool = True
) -> tuple[int, list[int]]:
    """A run of suite `support` answering each case key: its id and its evaluation ids."""
    with transaction(db) as repos:
        run = repos.runs.create(uid, "test", {})
        prompt = repos.prompts.add(run.id, "support", "You are helpful.", stage="given")
        ids = repos.test_cases.upsert_many(
            run.id, "support", [{"case_key": k, "input_message": f"q {k}"} for k in answers]
        )
        rows: list[dict[str, Any]] = [
            {
                "run_id": run.id, "prompt_id": prompt.id, "test_case_id": ids[key], "sample": 0,
                "model_response": text, "overall_score": 0.75, "passed": True,
                "scores": {"functionality": 0.75, "tone": None} if judged else None,
                "reasoning": f"why {key}" if judged else None,
                "judge_version": "2" if judged else None,
            }
            for key, text in answers.items()
        ]  # fmt: skip
        repos.evaluations.add_many(rows)
        return run.id, [e.id for e in repos.evaluations.for_run(run.id)]


def _check_labels(db: Database) -> None:
    run1, first = _run(db, "u1", {"c1": "yes", "c2": "no"})
    with transaction(db) as repos:
        ev = repos.evaluations.get(first[0])
        assert ev is not None
        row = repos.labels.put(ev, LabelInput(level=4, labeller="ann", note="fine"))
        assert row.answer_hash == answer_hash("support", "c1", "yes")
        assert (row.suite, row.case_key, row.evaluation_id) == ("support", "c1", first[0])
        repos.labels.put(ev, LabelInput(criterion="tone", passed=False, labeller="ann"))
        repos.labels.put(ev, LabelInput(level=2, labeller="bob"))
    with transaction(db) as repos:  # labelling again replaces the labeller's own label
        ev = repos.evaluations.get(first[0])
        assert ev is not None
        repos.labels.put(ev, LabelInput(level=5, labeller="ann"))
    with transaction(db) as repos:
        found = repos.labels.for_hashes([answer_hash("support", "c1", "yes")] * 2)
        got = {(x.criterion, x.labeller): (x.level, x.passed, x.note) for x in found}
        assert got == {
            (OVERALL, "ann"): (5, None, None),
            ("tone", "ann"): (None, False, None),
            (OVERALL, "bob"): (2, None, None),
        }
        assert repos.labels.for_hashes([answer_hash("support", "c2", "no")]) == []
        assert repos.labels.labelled_hashes("bob") == {answer_hash("support", "c1", "yes")}
    # The same answer in a later run: found by its hash; a new answer is unlabelled.
    run2, second = _run(db, "u2", {"c1": "yes", "c2": "no", "c3": "maybe"})
    with transaction(db) as repos:
        left = repos.labels.unlabelled(run2, "ann")
        assert [t.case.case_key for t in left] == ["c2", "c3"]
        assert all(t.missing == (OVERALL,) for t in left)
        left = repos.labels.unlabelled(run2, "ann", criteria=(OVERALL, "tone", "nope"))
        assert [(t.case.case_key, t.missing) for t in left] == [
            ("c2", (OVERALL, "tone")),
            ("c3", (OVERALL, "tone")),
        ]
        assert [t.evaluation.id for t in repos.labels.targets(run2)] == second
    # The labelled run deleted: the label stays, its evaluation_id becomes NULL.
    with transaction(db) as repos:
        repos.session.delete(repos.runs.get(run1))
    with transaction(db) as repos:
        kept = repos.labels.for_suite("support")
        assert len(kept) == 3 and {x.evaluation_id for x in kept} == {None}
        assert [t.case.case_key for t in repos.labels.unlabelled(run2, "ann")] == ["c2", "c3"]


def test_labels_put_replace_find_and_outlive_their_evaluation(db: Database) -> None:
    _check_labels(db)


@pytest.mark.postgres
def test_labels_on_postgres(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        database.ensure_schema()
        _check_labels(database)
    finally:
        database.dispose()


def test_unjudged_answers_are_not_targets_and_a_level_is_checked(db: Database) -> None:
    run, ids = _run(db, "u1", {"c1": "yes"}, judged=False)
    with transaction(db) as repos:
        assert repos.labels.targets(run) == []
        assert [t.evaluation.id for t in repos.labels.targets(run, judged_only=False)] == ids
        ev = repos.evaluations.get(ids[0])
        assert ev is not None and judged_criteria(ev) == []
        with pytest.raises(ValueError, match="1-5"):
            repos.labels.put(ev, LabelInput(level=7))
        with pytest.raises(ValueError, match="level or pass"):
            repos.labels.put(ev, LabelInput())
