"""Simulated users: a case's `user: {persona, goal, max_turns, stop_when}`, played by the user
model against the model under test."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pytest_promptopt.checks.kinds.regex import compile_pattern

DEFAULT_USER_TURNS = 6
"""How many replies of the model under test a simulated conversation has at most, by default."""

USER_ALONE = (
    "a `user:` case plays the conversation with a simulated user: drop `messages` and `turns` "
    "(`input`, optional, is the user's first message)"
)


class SimulatedUser(BaseModel):
    """Who the simulated user is, what they want, and when the conversation ends.

    It ends when the user model says the goal is reached, when `stop_when` (an RE2 pattern)
    matches an assistant reply, or after `max_turns` replies.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    persona: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    max_turns: int = Field(default=DEFAULT_USER_TURNS, ge=1, le=50)
    stop_when: str | None = Field(default=None, min_length=1)

    @field_validator("stop_when")
    @classmethod
    def _re2(cls, pattern: str | None) -> str | None:
        """The pattern when RE2 compiles it (the `regex` check's syntax)."""
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"user.stop_when: {exc}") from None
        return pattern

    def stops(self, reply: str) -> bool:
        """True when `stop_when` matches the assistant's reply."""
        return (
            self.stop_when is not None and compile_pattern(self.stop_when).search(reply) is not None
        )
