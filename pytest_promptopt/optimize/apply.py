"""--promptopt-apply: write an optimization's best prompt to the suite's prompt file when proven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.reporting.verdict import AppliedPrompt
from pytest_promptopt.suites.spec import Suite


def apply_best(suite: Suite, outcome: OptimizeOutcome) -> str:
    """Write the best prompt to the prompt file when its held-out gain is significant; say why.

    What it did is kept as data in `outcome.apply` (and the file in `outcome.applied_to`).
    """
    message = _write_best(suite, outcome)
    outcome.apply = _applied_prompt(suite, outcome, message)
    return message


def _write_best(suite: Suite, outcome: OptimizeOutcome) -> str:
    """Write the best prompt when it is proven and in a file; the line that says what happened."""
    if outcome.best_prompt_id == outcome.original_prompt_id:
        why = outcome.decision or outcome.gate_verdict or "the best prompt is the original"
        return f"not applied to {suite.name}: {why}"
    if not outcome.gate_significant:
        why = outcome.decision or outcome.gate_verdict or "no significant gain"
        return f"not applied to {suite.name}: {why}"
    if not suite.prompt_path or not Path(suite.prompt_path).is_file():
        return f"not applied to {suite.name}: its prompt is inline, not in a file"
    path = Path(suite.prompt_path)
    text = outcome.best_prompt_text
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    outcome.applied_to = path
    best = outcome.best_prompt_id
    return f"applied: wrote the best prompt #{best} to {path} ({outcome.gate_verdict})"


def _applied_prompt(suite: Suite, outcome: OptimizeOutcome, message: str) -> AppliedPrompt:
    """What `apply_best` did, as data: the file written, or why none was, with the held-out
    test's figures (the means the decision rests on, the paired gain and its interval)."""
    gain = outcome.gate_gain
    applied = outcome.applied_to is not None
    reason = message.split(": ", 1)[1] if not applied and ": " in message else message
    return AppliedPrompt(
        suite=suite.name,
        applied=applied,
        file=str(outcome.applied_to) if applied else None,
        prompt_id=outcome.best_prompt_id,
        **_decided_on(outcome),
        gain=gain[1] if len(gain) == 3 else None,
        # one held-out case gives no interval (the test's three figures are then equal)
        interval=(gain[0], gain[2]) if len(gain) == 3 and gain[0] < gain[2] else None,
        reason=reason,
    )


def _decided_on(outcome: OptimizeOutcome) -> dict[str, Any]:
    """The means the apply decision rests on: the confirmation cases', else the held-out's."""
    if outcome.confirm_cases and outcome.winner_confirm is not None:
        return {
            "before": outcome.original_confirm,
            "after": outcome.winner_confirm,
            "measured_on": "confirmation",
        }
    return {"before": outcome.original_holdout, "after": outcome.best_holdout}
