"""What the model under test is sent for a case: the rendered request, turn after turn.

A case is rendered once per prompt (`render_case`); each call sends the suite's `params`,
`tools` and `tool_choice` with it. A `turns:` case makes one call per user turn, the model's
earlier answers (their whole content, tool calls included) kept in the history. Beside the
messages sent, a transcript of {role, text} turns is kept for the judge, with images and
documents shown as placeholders such as `[image: photo.png]`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.llm.requests import build_request
from pytest_promptopt.suites.agent import wire_tools
from pytest_promptopt.suites.render import RenderedCase, render_case
from pytest_promptopt.suites.spec import Case, FileBlock, Suite

if TYPE_CHECKING:
    from pytest_promptopt.llm.completion import Completion

# The Messages API rejects empty user content; an empty user turn is sent as this marker.
EMPTY_INPUT = "[the user sent an empty message]"
# A tool call needs a tool_result in the next user turn; a `turns:` case has no tool to run.
NO_TOOL_RESULT = "[no tool result: the conversation goes on with the user's next message]"
# An assistant turn may not be empty; an answer with no content is sent back as this.
NO_ANSWER = "[no answer]"


def _sendable(message: dict[str, Any]) -> dict[str, Any]:
    """A rendered message as sent: an empty user text becomes EMPTY_INPUT."""
    if message["role"] == "user" and message["content"] == "":
        return {"role": "user", "content": EMPTY_INPUT}
    return message


def _file_labels(case: Case) -> list[list[str | None]]:
    """Per message of the case, per block: `[image: photo.png]` for a file block, else None."""
    return [
        [
            f"[{b.type}: {os.path.basename(b.path)}]" if isinstance(b, FileBlock) else None
            for b in (() if isinstance(m.content, str) else m.content)
        ]
        for m in case.messages or ()
    ]


def _block_text(block: dict[str, Any], label: str | None) -> str | None:
    """How the judge's transcript shows one content block (None: not at all)."""
    kind = block.get("type")
    if label is not None:
        return label
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        shown = json.dumps(block.get("input"), ensure_ascii=False)
        return f"[tool call {block.get('name')}: {shown}]"
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            content = "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        return f"[tool result: {content}]"
    if kind in ("image", "document"):
        return f"[{kind}]"
    return None


def turn_text(message: dict[str, Any], labels: Sequence[str | None] = ()) -> str:
    """One message as the judge reads it: its text, placeholders for files and tool blocks."""
    content = message["content"]
    if isinstance(content, str):
        return content
    parts = [_block_text(b, labels[n] if n < len(labels) else None) for n, b in enumerate(content)]
    return "\n".join(p for p in parts if p is not None)


@dataclass(frozen=True)
class Exchange:
    """A conversation so far: the messages the next call sends, and the judge's transcript."""

    messages: tuple[dict[str, Any], ...]
    transcript: tuple[dict[str, str], ...]

    @property
    def user_input(self) -> str:
        """The user turn being answered, as the judge reads it."""
        return self.transcript[-1]["text"]

    @property
    def conversation(self) -> list[dict[str, str]] | None:
        """Every turn up to the one being answered, for the judge; None for a single turn."""
        return [dict(t) for t in self.transcript] if len(self.transcript) > 1 else None

    def then(self, answer: Completion, user_text: str) -> Exchange:
        """The conversation after the model's `answer` and the user's next turn."""
        assistant = {"role": "assistant", "content": list(answer.content) or NO_ANSWER}
        results: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": c["id"], "content": NO_TOOL_RESULT}
            for c in answer.tool_calls
            if c.get("id")
        ]
        sent = user_text or EMPTY_INPUT
        user = {
            "role": "user",
            "content": [*results, {"type": "text", "text": sent}] if results else sent,
        }
        return Exchange(
            (*self.messages, assistant, user),
            (
                *self.transcript,
                {"role": "assistant", "text": Answer.of(answer).transcript_text()},
                {"role": "user", "text": user_text},
            ),
        )


@dataclass(frozen=True)
class TargetCase:
    """One case rendered for the model under test, with everything its requests send."""

    suite: Suite
    case: Case
    rendered: RenderedCase
    model: str

    @classmethod
    def render(cls, suite: Suite, case: Case, prompt_text: str, model: str) -> TargetCase:
        """Render `case` with `prompt_text` as the system prompt template; `model` by default.

        Raises SuiteError for an undefined variable, a bad file or a `params` key the SDK does
        not take (a suite built in Python skipped the collection's check of its `params`).
        """
        if suite.params:
            from pytest_promptopt.llm.params import check_params

            check_params(suite.params, where=suite.name)
        if suite.params or suite.tool_choice:
            from pytest_promptopt.llm.params import check_model_rules

            check_model_rules(
                model=suite.model or model,
                params=suite.params,
                tool_choice=suite.tool_choice,
                where=suite.name,
            )
        rendered = render_case(suite, case, prompt_template=prompt_text)
        return cls(suite, case, rendered, suite.model or model)

    @property
    def turn_count(self) -> int:
        """How many calls one sample makes (the turns of a `turns:` case, else one)."""
        return len(self.rendered.turns) if self.rendered.turns else 1

    def opening(self) -> Exchange:
        """The conversation the first call sends."""
        labels = _file_labels(self.case)
        messages = self.rendered.messages
        return Exchange(
            tuple(_sendable(m) for m in messages),
            tuple(
                {"role": m["role"], "text": turn_text(m, labels[n] if n < len(labels) else ())}
                for n, m in enumerate(messages)
            ),
        )

    def next_turn(self, exchange: Exchange, answer: Completion, turn: int) -> Exchange:
        """The conversation for call `turn` (1-based past the first) after `answer`."""
        assert self.rendered.turns is not None
        return exchange.then(answer, self.rendered.turns[turn])

    def request(self, exchange: Exchange, sample: int) -> dict[str, Any]:
        """The request that sends `exchange` for sample `sample`.

        Every sample sends the same body: the index only goes into the cache key
        (`request_hash(request, sample)`), never into `metadata`.
        """
        return build_request(
            model=self.model,
            system=self.rendered.system,
            messages=list(exchange.messages),
            tools=wire_tools(self.suite.tools),
            tool_choice=self.suite.tool_choice,
            params=self.suite.params,
        )

    def first_request(self, sample: int) -> dict[str, Any]:
        """The first call's request for sample `sample`."""
        return self.request(self.opening(), sample)
