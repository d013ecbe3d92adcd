"""A tool loop's trajectory shown: compactly in failures, reports and `promptopt show`, and
bounded for the judge. A step is {step, text, tool_calls, stop_reason, results[, stopped]};
a simulated user's conversation adds {speaker, turn} to each and the user's turns
{speaker: user, turn, text, goal_reached}, its last entry saying how it `ended`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

SHOWN_CHARS = 80
"""How much of a tool input, result or text one line of a compact trajectory shows."""
SHOWN_STEPS = 12
"""The most steps a compact trajectory lists (the first few and the last ones)."""
JUDGED_CHARS = 600
"""How much of each text, input or result the judge is given."""
JUDGED_STEPS = 24
"""The most steps the judge is given (the first few and the last ones, the rest counted)."""


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"... [{len(text)} chars]"


def _json(value: Any) -> str:
    """A value as compact JSON text (a string as it is)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _content(result: dict[str, Any]) -> str:
    """A tool result's content as text (content blocks: their texts)."""
    content = result.get("content")
    if isinstance(content, list):
        return " ".join(str(b.get("text", f"[{b.get('type')}]")) for b in content)
    return _json(content)


def step_lines(step: dict[str, Any]) -> list[str]:
    """One step as lines: `2. issue_refund({...}) -> ERROR: ...`, or its stop and text; a
    simulated user's turn as `user (turn 2): '...'`."""
    if step.get("speaker") == "user":
        mark = " [goal reached]" if step.get("goal_reached") else ""
        ended = f" [ended: {step['ended']}]" if step.get("ended") else ""
        text = _cut(str(step.get("text") or ""), SHOWN_CHARS)
        return [f"user (turn {step.get('turn')}): {text!r}{mark}{ended}"]
    number = step.get("step", "?")
    results = list(step.get("results") or ())
    out = []
    for n, call in enumerate(step.get("tool_calls") or ()):
        shown = f"{call.get('name')}({_cut(_json(call.get('input')), SHOWN_CHARS)})"
        if n < len(results):
            result = results[n]
            mark = "ERROR: " if result.get("is_error") else ""
            shown += f" -> {mark}{_cut(_content(result), SHOWN_CHARS)}"
        elif step.get("stopped"):
            shown += f" -> not run (stopped at {step['stopped']})"
        out.append(f"{number}. {shown}")
    if not out:
        text = _cut(str(step.get("text") or ""), SHOWN_CHARS)
        out.append(f"{number}. {step.get('stop_reason') or 'answer'}: {text!r}")
    if step.get("ended"):
        out[-1] += f" [ended: {step['ended']}]"
    return out


def trajectory_lines(steps: Sequence[dict[str, Any]]) -> list[str]:
    """The trajectory in a few lines: a heading, then each step's calls or final answer."""
    stopped = next((s.get("stopped") for s in steps if s.get("stopped")), None)
    heading = f"trajectory ({len(steps)} step(s)" + (f", stopped at {stopped})" if stopped else ")")
    lines = [heading + ":"]
    head = SHOWN_STEPS // 3
    for n, s in enumerate(steps):
        if head <= n < len(steps) - (SHOWN_STEPS - head):
            if n == head:
                lines.append(f"  ... {len(steps) - SHOWN_STEPS} step(s) left out")
            continue
        lines += ["  " + line for line in step_lines(s)]
    return lines


def tool_errors(steps: Sequence[dict[str, Any]]) -> list[str]:
    """`step 2 issue_refund: ValueError: ...` for every tool result that is an error."""
    return [
        f"step {s.get('step')} {r.get('name')}: {_cut(_content(r), SHOWN_CHARS)}"
        for s in steps
        for r in s.get("results") or ()
        if r.get("is_error")
    ]


def judged_trajectory(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps as the judge reads them: texts, calls, results, each bounded; no ids."""
    shown = list(steps)
    if len(shown) > JUDGED_STEPS:
        head = JUDGED_STEPS // 4
        left = len(shown) - JUDGED_STEPS
        gap = {"step": f"{left} step(s) left out"}
        shown = [*shown[:head], gap, *shown[len(shown) - (JUDGED_STEPS - head) :]]
    out = []
    for s in shown:
        step: dict[str, Any] = {"step": s.get("step")} if "step" in s else {}
        step |= {k: s[k] for k in ("speaker", "turn", "goal_reached", "ended") if k in s}
        if s.get("text"):
            step["text"] = _cut(str(s["text"]), JUDGED_CHARS)
        calls = s.get("tool_calls") or ()
        if calls:
            step["tool_calls"] = [
                {"name": c.get("name"), "input": _cut(_json(c.get("input")), JUDGED_CHARS)}
                for c in calls
            ]
        results = s.get("results") or ()
        if results:
            step["results"] = [
                {"name": r.get("name"), "content": _cut(_content(r), JUDGED_CHARS)}
                | ({"is_error": True} if r.get("is_error") else {})
                for r in results
            ]
        if s.get("stopped"):
            step["stopped"] = s["stopped"]
        out.append(step)
    return out
