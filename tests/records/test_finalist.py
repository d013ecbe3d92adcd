"""The one finalist type: its label, its stored form and the choice that holds it."""

from __future__ import annotations

from pytest_promptopt.records.choice import BestChoice
from pytest_promptopt.records.finalist import Finalist


def _finalist(**update: object) -> Finalist:
    base = Finalist(
        prompt_id=5, stage="refined", strategy="persona", parent_prompt_id=2, track_id=1,
        iteration=2, average=0.61234567, covers_given=True, given=0.7, given_passed=2,
        feedback=0.75, holdout=None,
    )  # fmt: skip
    return base.model_copy(update=update)


def test_a_finalist_is_labelled_by_the_pipelines_own_names() -> None:
    assert _finalist().label == "#5 refined from #2 (persona, track 1 iter 2)"
    assert _finalist(parent_prompt_id=None, strategy=None).label == (
        "#5 refined (refined, track 1 iter 2)"
    )
    assert _finalist(stage="initial", strategy="concise").label == "#5 concise"
    assert _finalist(stage="initial", strategy=None, original=True).label == "#5 original"


def test_the_stored_finalist_is_rounded_and_reads_back_with_its_label() -> None:
    stored = _finalist().rounded()
    assert stored.average == 0.612346 and stored.holdout is None
    dumped = stored.model_dump(mode="json", exclude_unset=True)
    assert dumped["label"] == stored.label and "best" not in dumped
    choice = BestChoice.parse({"best_prompt_id": 5, "finalists": [dumped], "retired": 1})
    assert choice.finalists == [stored] and choice.best_prompt_id == 5
    assert choice.to_json() == {"best_prompt_id": 5, "finalists": [dumped]}


def test_a_finalist_stored_before_labels_were_stored_reads_back_labelled() -> None:
    old = {
        "prompt_id": 3, "stage": "initial", "strategy": "concise", "average": 0.5,
        "covers_given": True, "given": 0.5, "given_passed": 1, "feedback": 0.5,
    }  # fmt: skip
    choice = BestChoice.parse({"best_prompt_id": 3, "finalists": [old], "partial": False})
    assert choice.finalists[0].label == "#3 concise" and not choice.finalists[0].best
    assert choice.partial is False
