"""Under xdist, one worker runs a suite's pipeline; the others wait for its best prompt."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.runtime import Runtime

CLAIM_STAGE = "pipeline_owner"
POLL_S = 0.2


def claim_pipeline(runtime: Runtime, suite: str, worker: str) -> bool:
    """True when this worker won the suite's pipeline (first insert wins, in the database)."""
    from pytest_promptopt.storage.database import insert_ignore
    from pytest_promptopt.storage.models import StageResult
    from pytest_promptopt.storage.repositories import StageResultRepository

    row = {
        "run_id": runtime.run_id,
        "suite": suite,
        "stage": CLAIM_STAGE,
        "status": "running",
        "summary": {"worker": worker},
    }
    with runtime.db.session_scope() as session:
        insert_ignore(session, StageResult, [row], ["run_id", "suite", "stage"])
    with runtime.db.session_scope() as session:
        owner = StageResultRepository(session).get(runtime.run_id, suite, CLAIM_STAGE)
        return owner is not None and (owner.summary or {}).get("worker") == worker


def release_pipeline(runtime: Runtime, suite: str, worker: str, best_prompt_id: int | None) -> None:
    """Tell the waiting workers the pipeline ended, and with which best prompt (None: failed)."""
    from pytest_promptopt.storage.repositories import StageResultRepository

    with runtime.db.session_scope() as session:
        repo = StageResultRepository(session)
        owner = repo.get(runtime.run_id, suite, CLAIM_STAGE)
        if owner is not None:
            status = "completed" if best_prompt_id is not None else "failed"
            summary = {"worker": worker, "best_prompt_id": best_prompt_id}
            repo.complete(owner.id, summary, status=status)


def wait_for_pipeline(runtime: Runtime, suite: str) -> tuple[int, str] | None:
    """Block until the owning worker finishes; its best prompt, or None when it failed."""
    from pytest_promptopt.storage.repositories import PromptRepository, StageResultRepository

    while True:
        with runtime.db.session_scope() as session:
            owner = StageResultRepository(session).get(runtime.run_id, suite, CLAIM_STAGE)
            if owner is not None and owner.status in ("completed", "failed"):
                best_id = (owner.summary or {}).get("best_prompt_id")
                if best_id is None:
                    return None
                prompt = PromptRepository(session).get(int(best_id))
                return None if prompt is None else (prompt.id, prompt.prompt_text)
        time.sleep(POLL_S)
