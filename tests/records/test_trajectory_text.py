"""A trajectory shown compactly (failures, reports, `promptopt show`) and bounded for the judge."""

from __future__ import annotations

from pytest_promptopt.records.trajectory import (
    JUDGED_STEPS,
    SHOWN_STEPS,
    judged_trajectory,
    trajectory_lines,
)


def steps(count: int) -> list[dict]:
    """`count` steps, each one call of `t` with a long input and result."""
    return [
        {
            "step": n,
            "text": "x" * 2000,
            "tool_calls": [{"id": "i", "name": "t", "input": {"q": "y" * 2000}}],
            "stop_reason": "tool_use",
            "results": [{"name": "t", "content": "z" * 2000, "is_error": n == 2}],
        }
        for n in range(1, count + 1)
    ]


def test_the_compact_form_cuts_long_values_and_leaves_out_middle_steps() -> None:
    lines = trajectory_lines(steps(30))
    assert lines[0] == "trajectory (30 step(s)):"
    assert len(lines) == 1 + SHOWN_STEPS + 1
    assert any(line.strip() == f"... {30 - SHOWN_STEPS} step(s) left out" for line in lines)
    assert lines[2].startswith("  2. t(") and "-> ERROR: zzz" in lines[2]
    assert all(len(line) < 250 for line in lines)
    assert lines[-1].startswith("  30. t(")


def test_the_judge_gets_bounded_steps_without_ids() -> None:
    judged = judged_trajectory(steps(40))
    assert len(judged) == JUDGED_STEPS + 1
    assert judged[JUDGED_STEPS // 4] == {"step": f"{40 - JUDGED_STEPS} step(s) left out"}
    first = judged[0]
    assert set(first) == {"step", "text", "tool_calls", "results"}
    assert first["tool_calls"][0].keys() == {"name", "input"}
    assert len(first["text"]) < 700 and len(first["results"][0]["content"]) < 700
    assert judged[1]["results"][0]["is_error"] is True


CONVERSATION = [
    {"speaker": "user", "turn": 1, "text": "Hi, I want a refund.", "goal_reached": False},
    {
        "step": 1,
        "speaker": "assistant",
        "turn": 1,
        "text": "Refund issued.",
        "tool_calls": [],
        "stop_reason": "end_turn",
        "results": [],
    },
    {
        "speaker": "user",
        "turn": 2,
        "text": "Thanks!",
        "goal_reached": True,
        "ended": "goal_reached",
    },
]


def test_a_simulated_users_turns_are_shown_and_judged_with_speaker_and_turn() -> None:
    assert trajectory_lines(CONVERSATION)[1:] == [
        "  user (turn 1): 'Hi, I want a refund.'",
        "  1. end_turn: 'Refund issued.'",
        "  user (turn 2): 'Thanks!' [goal reached] [ended: goal_reached]",
    ]
    judged = judged_trajectory(CONVERSATION)
    assert judged[0] == {
        "speaker": "user", "turn": 1, "text": "Hi, I want a refund.", "goal_reached": False
    }  # fmt: skip
    assert judged[1] == {"step": 1, "speaker": "assistant", "turn": 1, "text": "Refund issued."}
    assert judged[2]["ended"] == "goal_reached" and judged[2]["goal_reached"] is True
