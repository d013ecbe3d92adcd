"""Suite and case models: the validated form of `*.promptopt.yaml` files and of the Python API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pytest_promptopt.checks.hints import closest as closest
from pytest_promptopt.checks.hints import did_you_mean as did_you_mean
from pytest_promptopt.checks.spec import AssertionSpec as AssertionSpec
from pytest_promptopt.suites.agent import check_tool_results, check_tools
from pytest_promptopt.suites.criteria import CRITERIA as CRITERIA  # re-exported
from pytest_promptopt.suites.criteria import Criterion, check_criteria, default_criteria
from pytest_promptopt.suites.messages import ENDS_WITH_THE_USER, Message
from pytest_promptopt.suites.messages import FileBlock as FileBlock
from pytest_promptopt.suites.users import USER_ALONE, SimulatedUser

CaseStage = Literal["given", "quick", "rigorous"]
NO_SUITE_CHECKS = {"suite_checks": False}
"""The validation context of a suite file with no suite-level `assert`."""
VARIANT_NAME_FORBIDDEN = "@[] \n\r\t"
Tools = tuple[dict[str, Any], ...]
UNCHECKED = "a case with `judge: false` needs at least one `assert` check (its own or the suite's)"


SUITE_ONLY = ("params", "tools", "tool_choice", "model", "target", "prompt", "criteria")
"""Fields a suite (or a variant) sets for all its cases, never one case."""


class Case(BaseModel):
    """One case of a suite: what is sent, the behaviour expected, and deterministic checks.

    A case gives one of `input` (one user turn), `messages` (a conversation ending with the
    user) or `turns` (user messages answered one after another); with none of them, the
    suite's `input` template is sent, rendered from the case's `vars`.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    id: str = Field(min_length=1)
    input: str | None = None
    messages: tuple[Message, ...] | None = None
    turns: tuple[str, ...] | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = None
    category: str = "general"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    assertions: tuple[AssertionSpec, ...] = Field(default=(), alias="assert")
    judge: bool = True
    repeats: int | None = Field(default=None, ge=1, le=50)
    min_passes: int | None = Field(default=None, ge=1, le=50)
    flaky: bool | None = None
    cluster: str | None = Field(default=None, min_length=1)
    tool_results: dict[str, Any] | None = None  # canned results of the suite's tools
    max_steps: int | None = Field(default=None, ge=1, le=100)  # the tool loop's bound
    user: SimulatedUser | None = None  # a simulated user talks back (`input`: its first message)
    # Set by the loader: a case file's row (not `templated: true`) has its texts sent as
    # written, not rendered; `_case_file` names its file (for `cluster_by: case_file`).
    _literal: bool = PrivateAttr(default=False)
    _case_file: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _no_suite_fields(cls, data: Any) -> Any:
        """A suite's own field on a case (in YAML or `Case(...)`) says where it belongs."""
        if isinstance(data, dict):
            misplaced = [k for k in SUITE_ONLY if k in data]
            if misplaced:
                key = misplaced[0]
                raise ValueError(
                    f"{key!r} is a suite's field, for all its cases, not a case's: set it on "
                    f"the suite (`{key}:` at the top of the suite file, Suite({key}=...) in "
                    f"Python) or on a variant"
                )
        return data

    @field_validator("id")
    @classmethod
    def _id_is_printable(cls, v: str) -> str:
        if any(c in v for c in "[]\n\r"):
            raise ValueError("a case id may not contain '[', ']' or line breaks")
        return v

    @field_validator("messages")
    @classmethod
    def _ends_with_the_user(cls, v: tuple[Message, ...] | None) -> tuple[Message, ...] | None:
        if v is not None and (not v or v[-1].role != "user"):
            raise ValueError(ENDS_WITH_THE_USER)
        return v

    _canned = field_validator("tool_results")(check_tool_results)

    @field_validator("turns")
    @classmethod
    def _some_turns(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and not v:
            raise ValueError("`turns` needs at least one user message")
        return v

    @model_validator(mode="after")
    def _one_request_and_judged_or_asserted(self, info: ValidationInfo) -> Case:
        given = [k for k in ("input", "messages", "turns") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of `input`, `messages` or `turns`, not {given}")
        if self.user is not None and (self.messages is not None or self.turns is not None):
            raise ValueError(USER_ALONE)
        # A suite file says whether it has suite-level checks (the Suite checks a Python case).
        if not self.judge and not self.assertions and info.context == NO_SUITE_CHECKS:
            raise ValueError(UNCHECKED)
        return self

    @property
    def literal(self) -> bool:
        """True when the case's texts are data (a case file's cells), not templates."""
        return self._literal

    @property
    def case_file(self) -> str | None:
        """The case file the case is a row of (None: written in the suite file or Python)."""
        return self._case_file

    def mark_row(self, *, literal: bool, case_file: str | None) -> None:
        """What the loader knows of the case's row: literal texts (data, sent as written; its
        vars still fill suite templates) and the case file it was read from."""
        self._literal, self._case_file = literal, case_file

    @property
    def gives_request(self) -> bool:
        """True when the case says what to send (else the suite's `input` template does)."""
        return any(v is not None for v in (self.input, self.messages, self.turns, self.user))

    @property
    def display_input(self) -> str:
        """A one-string form of what the case sends (its input, last user turn or turns)."""
        if self.input is not None:
            return self.input
        if self.messages is not None:
            return self.messages[-1].text()
        if self.turns is not None:
            return "\n".join(self.turns)
        if self.user is not None:
            return f"[simulated user: {self.user.goal}]"
        return ", ".join(f"{k}={v}" for k, v in self.vars.items())


class Variant(BaseModel):
    """One variant of a suite: the prompt, model, params or vars it changes (else the suite's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str | None = None
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)


VARIANT_KEYS: tuple[str, ...] = tuple(Variant.model_fields)
"""The keys a variant may set."""


class Suite(BaseModel):
    """A prompt under test plus its cases, settings and judging criteria."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    description: str = ""
    prompt: str | None = None
    prompt_path: str | None = None
    input: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: dict[str, Any] | None = None
    model: str | None = None
    target: str | Callable[..., Any] | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    criteria: dict[str, Criterion] = Field(default_factory=default_criteria)
    repeats: int = Field(default=1, ge=1, le=50)
    # `functionality`: must pass the threshold alone; `none`: no gate; unset: cases with `expected`
    gate: Literal["functionality", "none"] | None = None
    assertions: tuple[AssertionSpec, ...] = Field(default=(), alias="assert")
    cases: list[Case] = Field(default_factory=list)
    source: str | None = None
    min_passes: int | None = Field(default=None, ge=1, le=50)
    flaky: bool = False
    min_pass_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    cluster_by: Literal["category", "template", "case_file"] | None = None
    min_judge_agreement: float | None = Field(default=None, ge=0.0, le=1.0)
    # How the baseline gate and variants compare this suite's runs (unset: --promptopt-compare).
    comparison: Literal["scores", "pairwise"] | None = None
    max_steps: int | None = Field(default=None, ge=1, le=100)  # the tool loop's bound
    variants: dict[str, Variant] | None = None
    # Set on the suites `variant_suites` makes (never in a file): which variant, and its place.
    variant: str | None = None
    variant_rank: int | None = None

    @field_validator("variants")
    @classmethod
    def _variants_named(cls, v: dict[str, Variant] | None) -> dict[str, Variant] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("`variants` is empty; name at least one variant or leave the key out")
        for name in v:
            if not name or any(c in name for c in VARIANT_NAME_FORBIDDEN):
                raise ValueError(
                    f"variant name {name!r} may not be empty or contain '@', '[', ']', "
                    "spaces or line breaks; rename it"
                )
        return v

    @field_validator("criteria")
    @classmethod
    def _known_criteria(cls, v: dict[str, Criterion], info: ValidationInfo) -> dict[str, Criterion]:
        return check_criteria(str(info.data.get("name", "?")), v)

    @field_validator("cases")
    @classmethod
    def _unique_case_ids(cls, v: list[Case]) -> list[Case]:
        seen: set[str] = set()
        for case in v:
            if case.id in seen:
                raise ValueError(f"duplicate case id {case.id!r}; every case id must be unique")
            seen.add(case.id)
        return v

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("`prompt` is empty; write the system prompt or leave the key out")
        return v

    _tools_named = field_validator("tools")(check_tools)

    @model_validator(mode="after")
    def _gate_is_a_criterion(self) -> Suite:
        if self.gate == "functionality" and "functionality" not in self.criteria:
            raise ValueError(
                "`gate: functionality` needs the functionality criterion in `criteria`; add it "
                "or set `gate: none`"
            )
        return self

    @model_validator(mode="after")
    def _every_unjudged_case_checked(self) -> Suite:
        if not self.assertions:
            unchecked = [c.id for c in self.cases if not c.judge and not c.assertions]
            if unchecked:
                raise ValueError(f"case(s) {unchecked}: {UNCHECKED}")
        return self

    @field_validator("target")
    @classmethod
    def _target_is_an_import_path(
        cls, v: str | Callable[..., Any] | None
    ) -> str | Callable[..., Any] | None:
        if isinstance(v, str):
            module, colon, name = v.partition(":")
            if not colon or not module.strip() or not name.strip():
                raise ValueError(
                    f"target {v!r} is not an import path; write `module:function`, "
                    "e.g. `myapp.support:answer`"
                )
        return v

    @model_validator(mode="after")
    def _target_answers_whole_cases(self) -> Suite:
        if self.target is not None:
            stepped = [c.id for c in self.cases if c.turns is not None or c.user is not None]
            if stepped:
                raise ValueError(
                    f"case(s) {stepped} use `turns` or `user`, which a `target` cannot answer "
                    "turn by turn: the target gets the whole case; give the conversation as "
                    "`messages`"
                )
        return self

    @model_validator(mode="after")
    def _every_case_sends_something(self) -> Suite:
        if self.input is None:
            silent = [c.id for c in self.cases if not c.gives_request]
            if silent:
                raise ValueError(
                    f"case(s) {silent} give no `input`, `messages` or `turns`, and the suite has "
                    "no `input` template to fill from their `vars`"
                )
        return self

    @model_validator(mode="after")
    def _min_passes_within_repeats(self) -> Suite:
        problems = self.min_passes_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def min_passes_problems(self) -> list[str]:
        """Why a case needs more passing samples (`min_passes`) than it takes (`repeats`)."""
        problems = []
        for case in self.cases:
            needed, taken = self.min_passes_for(case), self.repeats_for(case)
            if needed is not None and needed > taken:
                field_owner = "the case's" if case.min_passes is not None else "the suite's"
                problems.append(
                    f"suite {self.name!r}, case {case.id!r}: field 'min_passes' ({field_owner}, "
                    f"{needed}) is more than the case's samples (repeats: {taken}); set "
                    f"min_passes between 1 and {taken}, or raise repeats"
                )
        return problems

    @property
    def system_template(self) -> str:
        """The system prompt template ('' for a feature with no system prompt)."""
        return self.prompt or ""

    def case(self, case_id: str) -> Case:
        """The case with this id."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def threshold_for(self, case: Case, default: float) -> float:
        """The pass mark for a case: its own, else the suite's, else the configured default."""
        if case.threshold is not None:
            return case.threshold
        return self.threshold if self.threshold is not None else default

    def checks_for(self, case: Case) -> tuple[AssertionSpec, ...]:
        """The checks a case's answers get: the suite's, then the case's own."""
        return (*self.assertions, *case.assertions)

    def python_checks(self) -> list[str]:
        """The import paths of every `python` check of the suite and its cases, in order."""
        specs = [*self.assertions, *(a for c in self.cases for a in c.assertions)]
        return list(dict.fromkeys(p for spec in specs for p in spec.python_checks()))

    def gate_for(self, case: Case) -> str | None:
        """The criterion that gates a case (`functionality`), or None when it has no gate."""
        if self.gate == "none" or "functionality" not in self.criteria:
            return None
        return "functionality" if self.gate == "functionality" or case.expected else None

    def repeats_for(self, case: Case) -> int:
        """Samples to take for a case."""
        return case.repeats if case.repeats is not None else self.repeats

    def min_passes_for(self, case: Case) -> int | None:
        """Samples that must pass on their own for a case to pass (None: the mean decides)."""
        return case.min_passes if case.min_passes is not None else self.min_passes

    def is_flaky(self, case: Case) -> bool:
        """True when a failure of this case is expected now and then (case, else suite)."""
        return case.flaky if case.flaky is not None else self.flaky

    def variant_suites(self) -> list[Suite]:
        """One suite per variant, named `suite@variant` (just this suite when it has none)."""
        if not self.variants:
            return [self]
        return [
            self.model_copy(
                update={
                    "name": f"{self.name}@{name}",
                    "prompt": variant.prompt if variant.prompt is not None else self.prompt,
                    # A variant's own prompt is no file `--promptopt-apply` may write to.
                    "prompt_path": self.prompt_path if variant.prompt is None else None,
                    "model": variant.model or self.model,
                    "params": {**self.params, **variant.params},
                    "vars": {**self.vars, **variant.vars},
                    "variants": None,
                    "variant": name,
                    "variant_rank": rank,
                }
            )
            for rank, (name, variant) in enumerate(self.variants.items())
        ]


SUITE_KEYS: tuple[str, ...] = tuple(
    f.alias or k
    for k, f in Suite.model_fields.items()
    if k not in ("prompt_path", "source", "variant", "variant_rank")
)
"""The keys a suite file may have at its top level."""
CASE_KEYS: tuple[str, ...] = tuple(f.alias or name for name, f in Case.model_fields.items())
"""The keys a case mapping may have (`assert`, not `assertions`)."""
