"""A case rendered for the Messages API: templates filled from vars, files read and encoded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.media import absolute, load_file
from pytest_promptopt.suites.messages import (
    FileBlock,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from pytest_promptopt.suites.spec import Case, Suite
from pytest_promptopt.suites.templates import render

Block = TextBlock | FileBlock | ToolUseBlock | ToolResultBlock


class RenderError(SuiteError):
    """A case cannot be rendered: names the suite, the case, the field and what is wrong."""

    def __init__(self, suite: str, case_id: str, field: str, detail: str) -> None:
        super().__init__(f"suite {suite!r}, case {case_id!r}: field {field!r}: {detail}")
        self.suite = suite
        self.case_id = case_id
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class RenderedCase:
    """What is sent for a case: the system prompt, the messages, the user turns, the expectation.

    For a `turns:` case, `messages` holds the first user turn only and `turns` all of them;
    `descriptions` are the criteria's own descriptions, by name, rendered for the case.
    """

    system: str | None
    messages: list[dict[str, Any]]
    turns: tuple[str, ...] | None
    expected: str | None
    descriptions: dict[str, str] = field(default_factory=dict)


def variables_of(suite: Suite, case: Case) -> Mapping[str, Any]:
    """The variables a case's templates see: the suite's `vars` updated by the case's."""
    return {**suite.vars, **case.vars}


class _Renderer:
    """Renders the texts of one case, turning any problem into a RenderError on its field."""

    def __init__(self, suite: Suite, case: Case) -> None:
        self.suite = suite
        self.case = case
        self.variables = variables_of(suite, case)

    def fail(self, field: str, exc: SuiteError) -> RenderError:
        """The error for `field`, keeping the cause's message as the detail."""
        return RenderError(self.suite.name, self.case.id, field, str(exc))

    def text(self, template: str, field: str) -> str:
        """One of the case's own texts: rendered, or as written when the case is data."""
        return template if self.case.literal else self.template(template, field)

    def template(self, template: str, field: str) -> str:
        """One template rendered (the suite's own, or a templated case's)."""
        try:
            return render(template, self.variables)
        except SuiteError as exc:
            raise self.fail(field, exc) from None

    def message(self, message: Message, field: str) -> dict[str, Any]:
        """One message in the API's shape."""
        if isinstance(message.content, str):
            content: str | list[dict[str, Any]] = self.text(message.content, f"{field}.content")
        else:
            content = [self.block(b, f"{field}.content.{n}") for n, b in enumerate(message.content)]
        return {"role": message.role, "content": content}

    def block(self, block: Block, field: str) -> dict[str, Any]:
        """One content block in the API's shape."""
        if isinstance(block, TextBlock):
            return {"type": "text", "text": self.text(block.text, f"{field}.text")}
        if isinstance(block, FileBlock):
            return self.file(block, f"{field}.path")
        if isinstance(block, ToolUseBlock):
            return {
                "type": "tool_use",
                "id": block.id,
                "name": block.name,
                "input": copy.deepcopy(block.input),
            }
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.tool_use_id}
        if isinstance(block.content, str):
            if block.content:
                out["content"] = self.text(block.content, f"{field}.content")
        else:
            out["content"] = [
                {"type": "text", "text": self.text(t.text, f"{field}.content.{n}.text")}
                for n, t in enumerate(block.content)
            ]
        if block.is_error:
            out["is_error"] = True
        return out

    def file(self, block: FileBlock, field: str) -> dict[str, Any]:
        """An image or document block carrying the file's content."""
        try:
            loaded = load_file(absolute(block.path), block.type)
        except SuiteError as exc:
            raise self.fail(field, exc) from None
        kind = "text" if loaded.is_text else "base64"
        source = {"type": kind, "media_type": loaded.media_type, "data": loaded.data}
        return {"type": block.type, "source": source}

    def request(self) -> tuple[list[dict[str, Any]], tuple[str, ...] | None]:
        """The messages (and turns) the case sends."""
        case = self.case
        if case.messages is not None:
            return [self.message(m, f"messages.{n}") for n, m in enumerate(case.messages)], None
        if case.turns is not None:
            turns = tuple(self.text(t, f"turns.{n}") for n, t in enumerate(case.turns))
            return [{"role": "user", "content": turns[0]}], turns
        if case.input is not None:
            return [{"role": "user", "content": self.text(case.input, "input")}], None
        if case.user is not None:
            return [], None  # the user model writes the first message
        if self.suite.input is None:
            raise RenderError(
                self.suite.name,
                case.id,
                "input",
                "the case gives no `input`, `messages` or `turns` and the suite has no `input` "
                "template to fill from its `vars`",
            )
        return [
            {
                "role": "user",
                "content": self.template(self.suite.input, "input (the suite's template)"),
            }
        ], None


def user_turn(suite: Suite, case: Case) -> str:
    """What the user sends in a case, as one string: the suite's `input` template rendered for a
    case that gives only `vars` (not its `var=value` pairs), else the case's own form."""
    if case.gives_request or suite.input is None:
        return case.display_input
    try:
        return _Renderer(suite, case).template(suite.input, "input (the suite's template)")
    except SuiteError:  # reported where the case is rendered for sending
        return case.display_input


def render_case(suite: Suite, case: Case, prompt_template: str | None = None) -> RenderedCase:
    """Render `case` of `suite`; `prompt_template` (a candidate) replaces the suite's prompt."""
    renderer = _Renderer(suite, case)
    template = suite.system_template if prompt_template is None else prompt_template
    system = renderer.template(template, "prompt") if template else None
    messages, turns = renderer.request()
    expected = None if case.expected is None else renderer.text(case.expected, "expected")
    descriptions = {
        name: renderer.template(c.description, f"criteria.{name}.description")
        for name, c in suite.criteria.items()
        if c.description is not None
    }
    return RenderedCase(
        system=system or None,
        messages=messages,
        turns=turns,
        expected=expected,
        descriptions=descriptions,
    )
