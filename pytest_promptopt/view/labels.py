"""The Label page's data and its one write: judged answers without a label, a label written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.view.records import judged_evaluations

if TYPE_CHECKING:
    from pytest_promptopt.storage import Repositories

QUEUE = 50


class LabelError(ValueError):
    """A label the viewer refuses: no such answer, or no level nor pass/fail."""


def label_queue(repos: Repositories, run_id: int | None = None) -> dict[str, Any]:
    """The judged answers of a run (the latest by default) that nobody labelled, up to QUEUE."""
    from pytest_promptopt.storage.repositories import evaluation_answer_hash

    run = repos.runs.get(run_id) if run_id is not None else repos.runs.latest()
    if run is None:
        return {"run_id": None, "items": [], "left": 0}
    done = repos.labels.labelled_hashes()
    items = []
    for suite, by_key in judged_evaluations(repos, run.id).items():
        for key, samples in by_key.items():
            for e in samples:
                if e.reasoning is None or evaluation_answer_hash(e, e.test_case) in done:
                    continue
                items.append({
                    "evaluation_id": e.id, "suite": suite, "case_key": key,
                    "input": e.test_case.input_message, "expected": e.test_case.expected_behavior,
                    "answer": e.model_response, "tool_calls": e.tool_calls or [],
                    # shown only once labelled, so the judge does not lead the labeller
                    "judge": {"reasoning": e.reasoning, "score": e.overall_score,
                              "passed": e.passed, "criteria": e.scores or {}},
                })  # fmt: skip
    return {"run_id": run.id, "items": items[:QUEUE], "left": len(items)}


def write_label(repos: Repositories, body: dict[str, Any]) -> dict[str, Any]:
    """Write one label through `LabelRepository.put`; return what was stored."""
    from pytest_promptopt.storage.repositories import OVERALL, LabelInput

    evaluation_id = body.get("evaluation_id")
    if not isinstance(evaluation_id, int) or isinstance(evaluation_id, bool):
        raise LabelError("evaluation_id: an integer id of a judged answer is required")
    evaluation = repos.evaluations.get(evaluation_id)
    if evaluation is None:
        raise LabelError(f"evaluation_id: no evaluation {evaluation_id}")
    level, passed = body.get("level"), body.get("passed")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise LabelError("level: an integer 1-5")
    if passed is not None and not isinstance(passed, bool):
        raise LabelError("passed: true or false")
    labeller = str(body.get("labeller") or "viewer")[:255]
    criterion = str(body.get("criterion") or OVERALL)[:128]
    note = body.get("note")
    try:
        row = repos.labels.put(
            evaluation,
            LabelInput(criterion=criterion, level=level, passed=passed, labeller=labeller,
                       note=str(note)[:2000] if note else None),
        )  # fmt: skip
    except ValueError as exc:
        raise LabelError(str(exc)) from None
    return {"id": row.id, "evaluation_id": evaluation.id, "suite": row.suite,
            "case_key": row.case_key, "criterion": row.criterion, "level": row.level,
            "passed": row.passed, "labeller": row.labeller}  # fmt: skip
