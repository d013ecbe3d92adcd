"""Agent suites: tools that run (`python: module:function`), a case's canned `tool_results`,
and `max_steps`, the bound on a tool loop's calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pytest_promptopt.checks.jsontext import check_schema


class Case(Protocol):
    """What the loop reads of a case (`suites.spec.Case`)."""

    @property
    def tool_results(self) -> dict[str, Any] | None: ...
    @property
    def max_steps(self) -> int | None: ...
    @property
    def turns(self) -> tuple[str, ...] | None: ...
    @property
    def user(self) -> Any: ...


class Suite(Protocol):
    """What the loop reads of a suite (`suites.spec.Suite`)."""

    @property
    def tools(self) -> tuple[dict[str, Any], ...] | None: ...
    @property
    def target(self) -> Any: ...
    @property
    def max_steps(self) -> int | None: ...


DEFAULT_MAX_STEPS = 10
"""How many model calls a tool loop makes at most when neither suite nor case says."""
TOOL_OWN_KEYS = ("python",)
"""A tool's keys that are promptopt's, never sent to the API."""


def check_tools(
    tools: tuple[dict[str, Any], ...] | None,
) -> tuple[dict[str, Any], ...] | None:
    """The suite's tools when each has a name, a client tool a valid `input_schema`, and a
    `python` that is an import path."""
    for n, tool in enumerate(tools or ()):
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ValueError(f"tool #{n + 1} needs a `name`")
        if "type" not in tool:  # a client tool: the model fills its input_schema
            check_schema(f"tool {tool['name']!r} input_schema", tool.get("input_schema"))
        check_tool_python(tool["name"], tool)
    return tools


def check_tool_python(name: str, tool: dict[str, Any]) -> None:
    """ValueError when a tool's `python` is not a `module:function` import path."""
    path = tool.get("python")
    if path is None:
        return
    module, colon, fn = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not colon or not module.strip() or not fn.strip():
        raise ValueError(
            f"tool {name!r} python {path!r} is not an import path; write `module:function`, "
            "e.g. `shop.tools:lookup_order`"
        )


def check_tool_results(value: Any) -> dict[str, Any] | None:
    """A case's `tool_results` as given: {tool: result} or {tool: [{input, result}, ...]}."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError(
            "`tool_results` maps a tool name to its result, or to a list of "
            "`{input: {...}, result: ...}` matched by input"
        )
    for name, given in value.items():
        if isinstance(given, list):
            for n, entry in enumerate(given):
                if (
                    not isinstance(entry, dict)
                    or "result" not in entry
                    or set(entry)
                    - {
                        "input",
                        "result",
                    }
                ):
                    raise ValueError(
                        f"tool_results.{name}[{n}] takes `{{input: {{...}}, result: ...}}` "
                        f"(input optional: the fallback), got {entry!r}"
                    )
    return value


def wire_tools(tools: tuple[dict[str, Any], ...] | None) -> list[dict[str, Any]] | None:
    """The tools as the API is sent them: without promptopt's own keys (`python`)."""
    if not tools:
        return None
    return [{k: v for k, v in t.items() if k not in TOOL_OWN_KEYS} for t in tools]


def tool_functions(suite: Suite) -> dict[str, str]:
    """Tool name -> the `module:function` that runs it, for the suite's runnable tools."""
    return {
        str(t["name"]): str(t["python"])
        for t in suite.tools or ()
        if isinstance(t.get("python"), str)
    }


def runs_tools(suite: Suite, case: Case) -> bool:
    """True when the case's answers run through the tool loop (runnable tools or canned
    results, and no `target` doing its own calls)."""
    if suite.target is not None or not suite.tools:
        return False
    return bool(tool_functions(suite) or case.tool_results)


def is_agent(suite: Suite, cases: Sequence[Case]) -> bool:
    """True when some case of the suite runs through the tool loop."""
    return any(runs_tools(suite, case) for case in cases)


AGENT_NOT_OPTIMIZED = (
    "not optimized: --optimize does not rewrite agent suites (tools that run) yet; "
    "its items judge its own prompt"
)
"""What `--optimize` says of an agent suite it leaves alone."""


def max_steps_for(suite: Suite, case: Case) -> int:
    """The most model calls one sample's tool loop makes: the case's, the suite's, else 10."""
    if case.max_steps is not None:
        return case.max_steps
    return suite.max_steps if suite.max_steps is not None else DEFAULT_MAX_STEPS


def max_calls_per_sample(suite: Suite, case: Case) -> int:
    """The most calls of the model under test one sample of the case can make (the tool
    loop's `max_steps` per turn, a simulated user's `max_turns`; for `promptopt estimate`)."""
    turns = len(case.turns) if case.turns else (case.user.max_turns if case.user else 1)
    return turns * (max_steps_for(suite, case) if runs_tools(suite, case) else 1)
