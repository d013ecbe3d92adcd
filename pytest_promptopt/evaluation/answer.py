"""The answer checks and the judge read: its text, its tool calls and why it stopped."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Protocol


class _Response(Protocol):
    """What a response carries: a `Completion` or the `ResponseParts` of a raw message."""

    @property
    def text(self) -> str: ...
    @property
    def tool_calls(self) -> tuple[dict[str, Any], ...]: ...
    @property
    def stop_reason(self) -> str | None: ...
    @property
    def content(self) -> tuple[dict[str, Any], ...]: ...
    @property
    def refusal(self) -> dict[str, Any] | None: ...


THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def without_thinking(content: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    """An answer's content blocks less its thinking: what checks may read."""
    return tuple(b for b in content if b.get("type") not in THINKING_BLOCKS)


@dataclass(frozen=True)
class Answer:
    """One answer of the model under test.

    `tool_calls` are {id, name, input} mappings in the order the model made them;
    `stop_reason` is the API's (`end_turn`, `max_tokens`, `tool_use`, ...), None when unknown;
    `message` is the answer's raw content blocks when known (for `python` checks), else None;
    `refusal` is the API's `stop_details` of a refusal (`category`, `explanation`). Thinking
    blocks are never part of `text`, the tool calls or what the judge sees. `trajectory` is
    the tool loop's steps (`evaluation.agent_loop`), None for an answer made without one:
    with it, `calls_of` and `called` look over every step.
    """

    text: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = None
    message: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)
    refusal: dict[str, Any] | None = field(default=None, compare=False)
    trajectory: tuple[dict[str, Any], ...] | None = None

    @property
    def refused(self) -> bool:
        """True when the model refused (`stop_reason: refusal`, a successful empty answer)."""
        return self.stop_reason == "refusal"

    @classmethod
    def of(cls, response: _Response) -> Answer:
        """The answer a response carries (a completion, or the parts of a raw message)."""
        return cls(
            response.text,
            response.tool_calls,
            response.stop_reason,
            without_thinking(response.content) or None,
            response.refusal,
        )

    def with_trajectory(self, steps: tuple[dict[str, Any], ...]) -> Answer:
        """This (final) answer with the tool loop's steps that led to it."""
        return dataclasses.replace(self, trajectory=steps)

    def all_calls(self) -> tuple[dict[str, Any], ...]:
        """Every tool call: over the whole trajectory when there is one."""
        if self.trajectory is None:
            return self.tool_calls
        return tuple(c for s in self.trajectory for c in s.get("tool_calls") or ())

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        """The calls of the tool `name`, in order (over the whole trajectory)."""
        return [c for c in self.all_calls() if c.get("name") == name]

    def called(self) -> list[str]:
        """The names of the tools called, in order (repeats kept; over the whole trajectory)."""
        return [str(c.get("name")) for c in self.all_calls()]

    def for_checks(self) -> Answer:
        """The answer as checks read it: with a trajectory, its text is every step's text
        (all the user was shown); `final()` is the last answer alone."""
        if not self.trajectory:
            return self
        said = [str(s.get("text") or "") for s in self.trajectory]
        return dataclasses.replace(self, text="\n\n".join(t for t in said if t))

    def final(self) -> Answer:
        """The last answer alone (its own text, calls and stop reason), no trajectory; a
        simulated user's turns are not answers."""
        answers = [s for s in self.trajectory or () if s.get("speaker") != "user"]
        if not answers:
            return self
        last = answers[-1]
        return Answer(
            str(last.get("text") or ""),
            tuple(last.get("tool_calls") or ()),
            last.get("stop_reason"),
            refusal=self.refusal,
        )

    def judged_calls(self) -> list[dict[str, Any]]:
        """The calls as the judge sees them: {name, input} (ids mean nothing to it)."""
        return [{"name": c.get("name"), "input": c.get("input")} for c in self.tool_calls]

    def transcript_text(self) -> str:
        """The answer as one turn of a transcript: its text, then each call on its own line."""
        calls = [
            f"[tool call {c.get('name')}: {json.dumps(c.get('input'), ensure_ascii=False)}]"
            for c in self.tool_calls
        ]
        return "\n".join([self.text, *calls] if self.text else calls)
