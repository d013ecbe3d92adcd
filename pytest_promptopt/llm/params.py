"""A suite's `params`, checked against the installed SDK's own `messages.create` signature."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping
from typing import Any

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.spec import did_you_mean

SET_ELSEWHERE: dict[str, str] = {
    "model": "set the suite's `model` key (or --promptopt-model)",
    "messages": "a case's `input`, `messages` or `turns` say what is sent",
    "system": "the suite's `prompt` is the system prompt",
    "tools": "set the suite's `tools` key",
    "tool_choice": "set the suite's `tool_choice` key",
    "stream": "the plugin streams a request itself when its max_tokens needs it (the SDK's rule)",
}
"""Keywords of `messages.create` a suite sets through its own keys, and where."""


class ParamsError(SuiteError):
    """A suite's `params` hold a key the installed SDK's `messages.create` does not take."""


@functools.cache
def sdk_keywords() -> tuple[str, ...]:
    """Every keyword the installed SDK's `AsyncMessages.create` takes (imported on first use)."""
    from pytest_promptopt.llm.clients import import_sdk

    import_sdk()
    from anthropic.resources.messages import AsyncMessages

    signature = inspect.signature(AsyncMessages.create)
    return tuple(
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def accepted_params() -> tuple[str, ...]:
    """The keys a suite's `params` may hold: the SDK's keywords less those set elsewhere."""
    return tuple(k for k in sdk_keywords() if k not in SET_ELSEWHERE)


def _check_values(params: Mapping[str, Any], prefix: str) -> None:
    """Raise ParamsError for a value the plugin itself reads that it cannot use."""
    max_tokens = params.get("max_tokens")
    if "max_tokens" in params and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ParamsError(
            f"{prefix}field 'params': max_tokens takes a positive integer, got {max_tokens!r}"
        )
    timeout = params.get("timeout")
    if "timeout" in params and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < math.inf
    ):
        raise ParamsError(
            f"{prefix}field 'params': timeout takes a positive number of seconds (it replaces "
            f"the timeout sized from max_tokens for this suite's calls), got {timeout!r}"
        )
    for key in ("extra_headers", "extra_query", "extra_body"):
        if key in params and not isinstance(params[key], dict):
            raise ParamsError(f"{prefix}field 'params': {key} takes a mapping, got {params[key]!r}")


def check_params(params: Mapping[str, Any], *, where: str = "") -> None:
    """Raise ParamsError for a key `messages.create` does not take (or a suite sets elsewhere).

    Nothing is imported for a suite without `params`. `where` (a file, a suite) starts the
    message.
    """
    if not params:
        return
    prefix = f"{where}: " if where else ""
    for key in params:
        if key in SET_ELSEWHERE:
            raise ParamsError(
                f"{prefix}field 'params': {key!r} is not a parameter here: {SET_ELSEWHERE[key]}"
            )
    accepted = accepted_params()
    unknown = [str(k) for k in params if k not in accepted]
    if not unknown:
        _check_values(params, prefix)
        return
    names = ", ".join(repr(k) for k in unknown)
    raise ParamsError(
        f"{prefix}field 'params': unknown key(s) {names}{did_you_mean(unknown[0], accepted)}; "
        f"the installed anthropic SDK's messages.create accepts: {', '.join(accepted)}. "
        "An API field the SDK has no keyword for goes through `extra_body`, e.g. "
        f"`params: {{extra_body: {{{unknown[0]}: ...}}}}`"
    )


def check_model_rules(
    *,
    model: str,
    params: Mapping[str, Any] | None,
    tool_choice: Mapping[str, Any] | None,
    where: str = "",
    what: str = "this suite's request",
) -> None:
    """Raise ParamsError when the model rejects what the suite sends (before any call).

    The rules are the model table's (`llm/models.py`): a sampling parameter on a model that
    sets its own (Fable 5.x, Opus 4.7+, Sonnet 5, Haiku 5.5, also through `extra_body`),
    `budget_tokens` where only adaptive thinking is, a forced `tool_choice` with thinking on.
    """
    from pytest_promptopt.llm.models import broken_rule, rules_for

    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "..."}],
        **dict(params or {}),
    }
    if tool_choice:
        body["tool_choice"] = dict(tool_choice)
    broken = broken_rule(rules_for(model), body)
    if broken is None:
        return
    prefix = f"{where}: " if where else ""
    raise ParamsError(f"{prefix}model {model} rejects {what}: {broken.message} Fix: {broken.fix}.")


ROLE_SET_BY_PLUGIN: dict[str, str] = {
    "output_config.format": "the plugin asks for the role's answer shape itself",
}
"""What a structured role's parameters may not set, and why."""


def check_role_params(params: Mapping[str, Any] | None, *, model: str, label: str) -> None:
    """Raise ParamsError for role parameters the SDK does not take or the role's model rejects
    (`--promptopt-judge-params`, `--promptopt-optimizer-params`), at start-up."""
    if not params:
        return
    config = params.get("output_config")
    if isinstance(config, Mapping) and "format" in config:
        raise ParamsError(
            f"{label}: output_config.format is not a parameter here: "
            f"{ROLE_SET_BY_PLUGIN['output_config.format']}"
        )
    check_params(params, where=label)
    check_model_rules(
        model=model, params=params, tool_choice=None, where=label, what="these parameters"
    )
