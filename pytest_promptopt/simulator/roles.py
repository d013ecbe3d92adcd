"""The structured roles the simulator plays, and how a request asks for one."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pytest_promptopt import protocol
from pytest_promptopt.simulator import analyst, generator, judge, pairwise, users
from pytest_promptopt.simulator.request import Request

SimulatedRole = Callable[[dict[str, Any], random.Random], dict[str, Any]]
"""A structured role played by the simulator: its `<data>` block and a seeded rng -> its answer."""
ROLES: dict[str, tuple[str, SimulatedRole]] = {
    protocol.JUDGE_TOOL: ("judge", judge.judge),
    protocol.PROMPTS_TOOL: ("prompts", generator.submit_prompts),
    protocol.CASES_TOOL: ("cases", generator.submit_cases),
    protocol.ANALYSIS_TOOL: ("analysis", analyst.submit_analysis),
    protocol.REFINE_TOOL: ("refine", analyst.submit_prompt),
    protocol.PAIRWISE_TOOL: ("pairwise", pairwise.submit_preference),
    protocol.USER_TOOL: ("user", users.submit_user_turn),
}
NoisyRole = Callable[[dict[str, Any], random.Random, float | None], dict[str, Any]]
NOISY_ROLES: dict[str, NoisyRole] = {"judge": judge.judge, "pairwise": pairwise.submit_preference}
"""The roles that answer with the judge's noise (its standard deviation, the third argument)."""
# The structured roles by the title of their answer's schema (structured outputs).
_BY_SCHEMA = {model.__name__: tool for tool, model in protocol.TOOL_MODELS.items()}


def forced_tool(req: Request) -> str | None:
    """The tool the request forces, if any."""
    choice = req.tool_choice
    names = [t.get("name") for t in req.tools]
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    if choice.get("type") == "any" and len(names) == 1:
        return str(names[0])
    return None


def structured_role(body: dict[str, Any], req: Request) -> tuple[str, str] | None:
    """(tool, shape) of a structured role's request: a forced tool, structured outputs (the
    schema's title names the role) or a role's tool offered alone with `tool_choice: auto`."""
    tool = forced_tool(req)
    if tool in ROLES:
        return tool, "tool"
    config = body.get("output_config")
    form = config.get("format") if isinstance(config, dict) else None
    if isinstance(form, dict) and isinstance(form.get("schema"), dict):
        named = _BY_SCHEMA.get(str(form["schema"].get("title")))
        if named is not None:
            return named, "json"
    names = [str(t.get("name")) for t in req.tools]
    if len(names) == 1 and names[0] in ROLES and req.tool_choice.get("type") in (None, "auto"):
        return names[0], "tool"
    return None
