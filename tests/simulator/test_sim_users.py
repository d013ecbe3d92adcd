"""The simulated user: an opening from persona and goal, thanks once a reply covers the goal's
key words, else a follow-up (impatient when the persona is); the `conversation` criterion."""

from __future__ import annotations

import random
from typing import Any

from pytest_promptopt.simulator.users import conversation_score, covers, submit_user_turn


def said(conversation: list[dict[str, str]], persona: str = "an impatient customer") -> Any:
    """The simulated user's answer after `conversation`."""
    payload = {"persona": persona, "goal": "a refund for order 5001", "conversation": conversation}
    return submit_user_turn(payload, random.Random(0))


def test_the_opening_comes_from_persona_and_goal() -> None:
    assert said([]) == {
        "message": "Hi, I'm an impatient customer. I want a refund for order 5001. "
        "Quickly, please.",
        "goal_reached": False,
    }
    assert "Quickly" not in said([], persona="a calm customer")["message"]


def test_a_reply_covering_the_goal_reaches_it_and_a_miss_gets_a_follow_up() -> None:
    opening = {"role": "user", "text": "Hi"}
    done = said([opening, {"role": "assistant", "text": "Refund issued for order 5001."}])
    assert done["goal_reached"] is True
    miss = said([opening, {"role": "assistant", "text": "Which order do you mean?"}])
    assert miss["goal_reached"] is False
    assert miss["message"].startswith("That doesn't help. I asked for a refund for order 5001.")
    calm = said([opening, {"role": "assistant", "text": "Hello!"}], persona="a calm customer")
    assert calm["message"].startswith("Sorry, I still need a refund for order 5001.")


def test_the_same_data_gets_the_same_reply_whatever_the_seed() -> None:
    payload = {"persona": "p", "goal": "a cake", "conversation": []}
    assert submit_user_turn(payload, random.Random(1)) == submit_user_turn(
        payload, random.Random(2)
    )


def test_coverage_names_the_missed_key_words() -> None:
    reached, missed = covers("a refund for order 5001", "Your order 5001 is on its way.")
    assert not reached and missed == ["refund"]


def test_the_conversation_criterion_scores_the_goal_and_the_turns() -> None:
    def trajectory(turns: int, reached: bool, ended: str) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        for t in range(1, turns + 1):
            steps += [{"speaker": "user", "turn": t}, {"speaker": "assistant", "turn": t}]
        steps.append({"speaker": "user", "turn": turns + 1, "goal_reached": reached})
        steps[-1]["ended"] = ended
        return {"trajectory": steps}

    quick, _ = conversation_score(trajectory(1, True, "goal_reached"))
    slow, note = conversation_score(trajectory(3, True, "goal_reached"))
    missed, why = conversation_score(trajectory(3, False, "max_turns"))
    assert quick is not None and slow is not None and missed is not None
    assert quick > slow > missed
    assert (
        note == "goal reached in 3 turn(s)"
        and why == "goal not reached (max_turns after 3 turn(s))"
    )
    assert conversation_score({"trajectory": [{"step": 1}]}) == (None, "")
