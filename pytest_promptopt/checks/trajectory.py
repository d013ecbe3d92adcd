"""What trajectory checks read of an answer: its steps (one, for an answer without a tool
loop), the calls of one step, the results that were errors."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered


def steps_of(answer: Answered) -> list[dict[str, Any]]:
    """The answer's steps (model calls; a simulated user's turns left out): its trajectory,
    else the answer itself as step 1."""
    if answer.trajectory is not None:
        return [s for s in answer.trajectory if s.get("speaker") != "user"]
    return [
        {
            "step": 1,
            "text": answer.text,
            "tool_calls": list(answer.tool_calls),
            "stop_reason": answer.stop_reason,
            "results": [],
        }
    ]


def calls_at(answer: Answered, step: int | None) -> list[dict[str, Any]]:
    """The tool calls of step `step` (1-based), or of every step when None."""
    steps = steps_of(answer)
    chosen = steps if step is None else steps[step - 1 : step]
    return [c for s in chosen for c in s.get("tool_calls") or ()]


def names_at(answer: Answered, step: int | None) -> list[str]:
    """The names of the tools called at step `step` (every step when None), in order."""
    return [str(c.get("name")) for c in calls_at(answer, step)]


def step_note(answer: Answered, step: int | None) -> str:
    """` at step 2` ('' for the whole trajectory); ` (only 1 step(s))` past the last."""
    if step is None:
        return ""
    count = len(steps_of(answer))
    return f" at step {step}" + (f" (only {count} step(s))" if step > count else "")


def error_results(answer: Answered) -> list[str]:
    """`step 2 issue_refund` for every tool result that was an error."""
    return [
        f"step {s.get('step')} {r.get('name')}"
        for s in steps_of(answer)
        for r in s.get("results") or ()
        if r.get("is_error")
    ]
