"""What each model accepts: the Models API's capabilities plus a table of what they do not say.

`client.models.retrieve(model)` returns `capabilities` (structured outputs, the thinking types
`adaptive`/`enabled`/`disabled`, effort levels, batch, image and PDF input). What it does not say
is in `RULES`, beside the price table: whether `temperature`/`top_p`/`top_k` are accepted, whether
an assistant-turn prefill is, whether the model thinks when a request does not say, and how large
a `max_tokens` the SDK sends without streaming. Sources: Anthropic's model pages and migration
guides (Fable 5.x, Mythos 5.x, Opus 4.6-5.5, Sonnet 5/5.5, Haiku 5.5), Dec 2026. A model in
neither gets `UNKNOWN`: the plugin then sends nothing it could reject (no sampling parameter,
no prefill, no forced tool) and asks for a shape with an offered, unforced tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

EFFORTS = ("low", "medium", "high", "xhigh", "max")
"""The `output_config.effort` levels the API knows."""
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
NONSTREAMING_MAX_TOKENS = 21_333
"""The largest `max_tokens` the SDK sends without streaming (an hour per 128k tokens, 10 min)."""

_SNAPSHOT = re.compile(r"^(?P<name>.+)-(?:\d{8}|latest)$")

Shape = Literal["output_format", "forced_tool", "offered_tool"]
"""How a structured role asks for its answer: structured outputs, a forced tool, an offered one."""


@dataclass(frozen=True)
class ModelRules:
    """What a model accepts, as far as the plugin's requests are concerned.

    `thinks_by_default`: the model thinks when the request has no `thinking` (adaptive by
    default); `thinking_off`: `thinking: {type: disabled}` is accepted; `budget_thinking`:
    `thinking: {type: enabled, budget_tokens}` is; `adaptive`: `{type: adaptive}` is.
    `structured_outputs` None means unknown.
    """

    sampling: bool = True
    prefill: bool = True
    thinks_by_default: bool = False
    thinking_off: bool = True
    budget_thinking: bool = False
    adaptive: bool = False
    structured_outputs: bool | None = True
    efforts: tuple[str, ...] = ()
    nonstreaming_max_tokens: int = NONSTREAMING_MAX_TOKENS
    known: bool = True

    def always_thinks(self) -> bool:
        """True when no request to this model can turn thinking off."""
        return self.thinks_by_default and not self.thinking_off

    def thinks(self, thinking: Mapping[str, Any] | None) -> bool:
        """True when a request with this `thinking` parameter (None: none) makes it think."""
        if thinking is None:
            return self.thinks_by_default or not self.known
        return str(thinking.get("type")) != "disabled" or not self.thinking_off

    def shape(self, thinking: Mapping[str, Any] | None = None) -> Shape:
        """How a structured role asks this model for a shape (never a forced tool with thinking)."""
        if self.structured_outputs:
            return "output_format"
        if self.structured_outputs is False and not self.thinks(thinking):
            return "forced_tool"
        return "offered_tool"


# Generations, newest first.
_FABLE = ModelRules(
    sampling=False,
    prefill=False,
    thinks_by_default=True,
    thinking_off=False,
    adaptive=True,
    efforts=EFFORTS,
)
_OPUS_5 = _FABLE  # Opus 5 and 5.5: adaptive thinking always on, like Fable
_SONNET_5 = ModelRules(
    sampling=False, prefill=False, thinks_by_default=True, adaptive=True, efforts=EFFORTS
)
_HAIKU_55 = ModelRules(sampling=False, prefill=False, adaptive=True, efforts=EFFORTS)
_OPUS_47 = ModelRules(sampling=False, prefill=False, adaptive=True, efforts=EFFORTS)
_46 = ModelRules(prefill=False, budget_thinking=True, adaptive=True, efforts=EFFORTS[:4])
_45 = ModelRules(budget_thinking=True, efforts=("low", "medium", "high"))
_OPUS_4 = replace(_45, efforts=(), nonstreaming_max_tokens=8_192)
_4 = ModelRules(budget_thinking=True, structured_outputs=False)
_3 = ModelRules(structured_outputs=False)

RULES: dict[str, ModelRules] = {
    "claude-fable-5-2": _FABLE,
    "claude-mythos-5-2": _FABLE,
    "claude-fable-5-1": _FABLE,
    "claude-mythos-5-1": _FABLE,
    "claude-fable-5": _FABLE,
    "claude-mythos-5": _FABLE,
    "claude-mythos-preview": _FABLE,
    "claude-opus-5-5": _OPUS_5,
    "claude-opus-5": _OPUS_5,
    "claude-sonnet-5-5": _SONNET_5,
    "claude-sonnet-5": _SONNET_5,
    "claude-haiku-5-5": _HAIKU_55,
    "claude-opus-4-8": _OPUS_47,
    "claude-opus-4-7": _OPUS_47,
    "claude-opus-4-6": _46,
    "claude-sonnet-4-6": _46,
    "claude-opus-4-5": _45,
    "claude-sonnet-4-5": _45,
    "claude-haiku-4-5": _45,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4": replace(_4, nonstreaming_max_tokens=8_192),
    "claude-sonnet-4": _4,
    "claude-3-7-sonnet": _4,
    "claude-3-5-haiku": _3,
    "claude-3-haiku": _3,
    # The offline simulator: thinking when asked, every effort; it answers structured outputs
    # too, but its own shape stays the forced tool (without thinking), so recorded caches hold.
    "simulated": ModelRules(
        budget_thinking=True, adaptive=True, structured_outputs=False, efforts=EFFORTS
    ),
}

UNKNOWN = ModelRules(
    sampling=True,  # not the plugin's to refuse: only what it sends itself is kept safe
    structured_outputs=None,
    known=False,
)
"""A model neither the table nor the Models API describes: ask for shapes with an offered tool."""


def rules_for(model: str) -> ModelRules:
    """The table's rules of a model (exact name or dated snapshot), else `UNKNOWN`."""
    if model in RULES:
        return RULES[model]
    snapshot = _SNAPSHOT.match(model)
    if snapshot is not None and snapshot["name"] in RULES:
        return RULES[snapshot["name"]]
    return UNKNOWN


@dataclass(frozen=True)
class Capabilities:
    """What the Models API says a model supports (`ModelInfo.capabilities`), as plain data."""

    structured_outputs: bool
    thinking: bool
    adaptive: bool
    enabled: bool
    disabled: bool
    efforts: tuple[str, ...] = ()
    batch: bool = True
    image_input: bool = True
    pdf_input: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, capabilities: Mapping[str, Any]) -> Capabilities:
        """Read the `capabilities` object of a Models API answer (missing keys: unsupported)."""

        def on(value: Any) -> bool:
            return bool(isinstance(value, Mapping) and value.get("supported"))

        thinking = capabilities.get("thinking") or {}
        types = thinking.get("types") or {} if isinstance(thinking, Mapping) else {}
        effort = capabilities.get("effort") or {}
        efforts = tuple(e for e in EFFORTS if isinstance(effort, Mapping) and on(effort.get(e)))
        return cls(
            structured_outputs=on(capabilities.get("structured_outputs")),
            thinking=on(thinking),
            adaptive=on(types.get("adaptive")),
            enabled=on(types.get("enabled")),
            disabled=on(types.get("disabled")) or not on(thinking),
            efforts=efforts if on(effort) else (),
            batch=on(capabilities.get("batch")),
            image_input=on(capabilities.get("image_input")),
            pdf_input=on(capabilities.get("pdf_input")),
        )

    def as_api(self) -> dict[str, Any]:
        """The `capabilities` object the Models API would send for these (the simulator's)."""

        def s(flag: bool) -> dict[str, bool]:
            return {"supported": flag}

        return {
            "batch": s(self.batch),
            "citations": s(True),
            "code_execution": s(False),
            "context_management": {"supported": False},
            "effort": {
                "supported": bool(self.efforts),
                **{e: s(e in self.efforts) for e in EFFORTS},
            },
            "image_input": s(self.image_input),
            "pdf_input": s(self.pdf_input),
            "server_tools": {"supported": False},
            "structured_outputs": s(self.structured_outputs),
            "thinking": {
                "supported": self.thinking,
                "types": {
                    "adaptive": s(self.adaptive),
                    "between_tools": s(False),
                    "disabled": s(self.disabled),
                    "enabled": s(self.enabled),
                },
            },
        }

    def as_row(self) -> dict[str, Any]:
        """These capabilities as a JSON-able mapping (the `model_capabilities` row)."""
        row = asdict(self)
        row.pop("extra")
        row["efforts"] = list(self.efforts)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Capabilities:
        """Capabilities stored by `as_row`."""
        return cls(**{**row, "efforts": tuple(row.get("efforts") or ())})


def capabilities_of(rules: ModelRules) -> Capabilities:
    """The capabilities the table's rules imply (what the simulator answers for a known model)."""
    return Capabilities(
        structured_outputs=bool(rules.structured_outputs),
        thinking=rules.adaptive or rules.budget_thinking or rules.thinks_by_default,
        adaptive=rules.adaptive,
        enabled=rules.budget_thinking,
        disabled=rules.thinking_off,
        efforts=rules.efforts,
    )


def profile(model: str, capabilities: Capabilities | None) -> ModelRules:
    """A model's rules: the API's capabilities where it gave them, the table for the rest."""
    rules = rules_for(model)
    if capabilities is None:
        return rules
    return replace(
        rules,
        structured_outputs=capabilities.structured_outputs,
        adaptive=capabilities.adaptive,
        budget_thinking=capabilities.enabled,
        thinking_off=capabilities.disabled,
        efforts=capabilities.efforts,
        # A model that cannot turn thinking off thinks on every request, whatever the table.
        thinks_by_default=(rules.thinks_by_default and rules.known)
        or (capabilities.thinking and not capabilities.disabled),
        known=True,
    )


@dataclass(frozen=True)
class Broken:
    """A rule a request breaks: the API's 400 message and how to fix the request."""

    message: str
    fix: str


FORCED_TOOL_WITH_THINKING = "Thinking may not be enabled when tool_choice forces tool use."
"""The API's message for a forced `tool_choice` (`any` or `tool`) with thinking on."""


def wire_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request as it reaches the API: `extra_body` merged in, client-only options left out."""
    body = {
        k: v
        for k, v in request.items()
        if k not in ("extra_body", "extra_headers", "extra_query", "timeout")
    }
    extra = request.get("extra_body")
    if isinstance(extra, Mapping):
        body.update(extra)
    return body


def broken_rule(rules: ModelRules, request: Mapping[str, Any]) -> Broken | None:
    """The first rule of the model a request body breaks (each a 400 from the API), or None.

    `request` is the body as sent (see `wire_body`). A model the table does not know breaks
    none: what it accepts is not the plugin's to guess.
    """
    if not rules.known:
        return None
    body = wire_body(request)
    if not rules.sampling:
        for name in SAMPLING_PARAMS:
            if name in body:
                return Broken(
                    f"`{name}` is deprecated for this model.",
                    f"remove `{name}` (also from `extra_body`); this model sets its own sampling",
                )
    thinking = body.get("thinking")
    kind = str(thinking.get("type")) if isinstance(thinking, Mapping) else None
    if kind == "enabled" and not rules.budget_thinking:
        return Broken(
            "thinking.type.enabled is not supported for this model. Use thinking.type.adaptive "
            "and output_config.effort to control thinking behavior.",
            "use `thinking: {type: adaptive}` and `output_config: {effort: ...}` instead of "
            "`budget_tokens`",
        )
    if kind == "adaptive" and not rules.adaptive:
        return Broken(
            "thinking.type.adaptive is not supported for this model.",
            "use `thinking: {type: enabled, budget_tokens: N}` or leave thinking out",
        )
    if kind == "disabled" and not rules.thinking_off:
        return Broken(
            "thinking.type.disabled is not supported for this model.",
            "leave `thinking` out: this model always thinks (set `output_config.effort`)",
        )
    config = body.get("output_config")
    config = config if isinstance(config, Mapping) else {}
    effort = config.get("effort")
    if effort is not None and effort not in rules.efforts:
        levels = ", ".join(rules.efforts) or "none"
        return Broken(
            f"output_config.effort: {effort!r} is not supported for this model.",
            f"use one of its effort levels ({levels})",
        )
    if config.get("format") is not None and rules.structured_outputs is False:
        return Broken(
            "output_config.format is not supported for this model.",
            "leave out `output_config.format` (ask for the shape with a tool)",
        )
    choice = body.get("tool_choice")
    forced = isinstance(choice, Mapping) and choice.get("type") in ("any", "tool")
    if forced and rules.thinks(thinking if isinstance(thinking, Mapping) else None):
        return Broken(
            FORCED_TOOL_WITH_THINKING,
            "use `tool_choice: {type: auto}` (and say in the prompt which tool to call)"
            + (", or `thinking: {type: disabled}`" if rules.thinking_off else ""),
        )
    messages = body.get("messages")
    if (
        not rules.prefill
        and isinstance(messages, list)
        and messages
        and isinstance(messages[-1], Mapping)
        and messages[-1].get("role") == "assistant"
    ):
        return Broken(
            "This model does not support assistant message prefill. The conversation must "
            "end with a user message.",
            "end `messages` with the user's turn; ask for a format with structured outputs "
            "(`output_config.format`) or a system instruction",
        )
    return None


__all__ = [
    "EFFORTS",
    "FORCED_TOOL_WITH_THINKING",
    "RULES",
    "SAMPLING_PARAMS",
    "UNKNOWN",
    "Broken",
    "Capabilities",
    "ModelRules",
    "broken_rule",
    "capabilities_of",
    "profile",
    "rules_for",
    "wire_body",
]
