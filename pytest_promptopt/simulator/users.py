"""The simulated user and the `conversation` criterion, played offline.

The user's first message comes from its persona and goal; after each assistant reply it
reaches its goal when the reply covers the goal's key words (at least GOAL_COVERAGE of their
stems), else it restates the goal as a follow-up (an impatient one when the persona says so).
Its answers depend on the data only, so each sample's replies are the same on every run.
"""

from __future__ import annotations

import random
from typing import Any

from pytest_promptopt.simulator import text as tx

GOAL_COVERAGE = 0.75
"""The share of the goal's key words a reply must cover for the simulated user to be done."""
_IMPATIENT = tx.wordset("impatient angry annoyed rushed hurry frustrated demanding irritated")


def goal_words(goal: str) -> set[str]:
    """The stems of the goal's content words (its key words)."""
    return tx.stems(goal, drop_meta=True)


def covers(goal: str, reply: str) -> tuple[bool, list[str]]:
    """Whether `reply` covers the goal's key words, and the ones it misses."""
    wanted = goal_words(goal)
    if not wanted:
        return bool(reply.strip()), []
    have = tx.stems(reply)
    missed = sorted(wanted - have)
    return (len(wanted) - len(missed)) / len(wanted) >= GOAL_COVERAGE, missed


def _last_reply(conversation: list[dict[str, Any]]) -> str | None:
    """The assistant's last reply (None before it has said anything)."""
    replies = [str(t.get("text") or "") for t in conversation if t.get("role") == "assistant"]
    return replies[-1] if replies else None


def submit_user_turn(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The user's next message: the opening, thanks once the goal is met, else a follow-up."""
    del rng  # the same data gets the same reply
    persona = str(payload.get("persona") or "a user").strip().rstrip(".")
    goal = str(payload.get("goal") or "").strip().rstrip(".")
    impatient = bool(tx.wordset(persona) & _IMPATIENT)
    reply = _last_reply(list(tx.records(payload, "conversation")))
    if reply is None:
        hurry = " Quickly, please." if impatient else ""
        return {"message": f"Hi, I'm {persona}. I want {goal}.{hurry}", "goal_reached": False}
    reached, missed = covers(goal, reply)
    if reached:
        return {"message": "Thanks, that's what I needed.", "goal_reached": True}
    gap = f" You said nothing about {', '.join(missed)}." if missed else ""
    if impatient:
        message = f"That doesn't help. I asked for {goal}.{gap} Sort it out now!"
    else:
        message = f"Sorry, I still need {goal}.{gap}"
    return {"message": message, "goal_reached": False}


def conversation_score(payload: dict[str, Any]) -> tuple[float | None, str]:
    """The `conversation` criterion: the goal reached (fewer turns score higher) or not;
    without a simulated user's trajectory it does not apply."""
    steps = tx.records(payload, "trajectory")
    said = [s for s in steps if s.get("speaker") == "user"]
    if not said:
        return None, ""
    turns = max((int(s.get("turn") or 0) for s in steps if s.get("speaker") != "user"), default=0)
    if any(s.get("goal_reached") for s in said):
        return max(0.5, 1.0 - 0.1 * max(0, turns - 1)), f"goal reached in {turns} turn(s)"
    ended = next((s.get("ended") for s in reversed(steps) if s.get("ended")), None)
    if ended == "stop_when":
        return 0.6, f"stopped by stop_when after {turns} turn(s)"
    return 0.1, f"goal not reached ({ended or 'unfinished'} after {turns} turn(s))"
