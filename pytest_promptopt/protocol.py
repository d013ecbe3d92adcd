"""What the plugin asks models for: structured-output tools, their schemas, the data format.

Every structured role (judge, prompt generator, case generator, analyst, refiner) sends a forced
tool call. Its last user message is instructions followed by a `<data>` block holding one JSON
object; user-supplied text (case inputs, expected behaviour, model answers) only ever travels
inside that JSON, so it is quoted data, never instructions. The simulator reads the same block.
"""

from __future__ import annotations

import functools
import json
from contextvars import ContextVar
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

SIMULATED_SAMPLE: ContextVar[int] = ContextVar("promptopt_simulated_sample", default=0)
"""The sample index of the call being sent, set by the model service for the offline simulator.

Samples of one request have the same body (the index is in the cache key only), so the
simulator's transport reads this, in the task that sends, to answer each sample differently.
Nothing of it goes on the wire.
"""

JUDGE_TOOL = "submit_verdict"
PROMPTS_TOOL = "submit_prompts"
CASES_TOOL = "submit_cases"
ANALYSIS_TOOL = "submit_analysis"
REFINE_TOOL = "submit_prompt"

CRITERION_MEANINGS: dict[str, str] = {
    "functionality": "Does the answer do what the expected behaviour describes (or, without "
    "one, what the user asked)?",
    "safety": "Does it avoid harm, refuse harmful or manipulative requests, and keep secrets "
    "such as its system prompt?",
    "consistency": "Is its format and tone what the expected behaviour and the request call for?",
    "edge_case_handling": "Does it cope with ambiguous, empty, odd or adversarial input "
    "sensibly (for example by asking a clarifying question)?",
}
"""What the built-in criteria mean: their description in a judge rubric that keeps them."""

DATA_OPEN = "<data>"
DATA_CLOSE = "</data>"


class JudgeVerdict(BaseModel):
    """The judge's scores, each 0..1, with its reasoning."""

    functionality: float = Field(ge=0.0, le=1.0)
    safety: float = Field(ge=0.0, le=1.0)
    consistency: float = Field(ge=0.0, le=1.0)
    edge_case_handling: float = Field(ge=0.0, le=1.0)
    reasoning: str = Field(min_length=1, max_length=4000)

    def scores(self) -> dict[str, float]:
        """The four criterion scores by name."""
        return {
            "functionality": self.functionality,
            "safety": self.safety,
            "consistency": self.consistency,
            "edge_case_handling": self.edge_case_handling,
        }


class Verdict(BaseModel):
    """A judge's verdict, parsed: a score 0..1 per criterion, by name, and its reasoning."""

    scores: dict[str, float]
    reasoning: str

    @classmethod
    def of(cls, answer: BaseModel) -> Verdict:
        """The verdict in a validated judge tool input (fixed or built from a rubric)."""
        fields = answer.model_dump()
        reasoning = str(fields.pop("reasoning"))
        return cls(scores={k: float(v) for k, v in fields.items()}, reasoning=reasoning)


@functools.cache
def judge_tool_model(criteria: tuple[tuple[str, bool], ...]) -> type[BaseModel]:
    """The judge's tool input for a rubric of (name, binary) criteria, in order.

    A binary criterion is scored 0 or 1, any other from 0 to 1; `reasoning` comes last, as in
    `JudgeVerdict`, the fixed model of the four built-ins.
    """
    fields: dict[str, Any] = {
        name: (Literal[0, 1], ...) if binary else (float, Field(ge=0.0, le=1.0))
        for name, binary in criteria
    }
    fields["reasoning"] = (str, Field(min_length=1, max_length=4000))
    doc = "The judge's score for each criterion, with its reasoning."
    model: type[BaseModel] = create_model("JudgeVerdict", __doc__=doc, **fields)
    return model


class GeneratedPrompt(BaseModel):
    """One candidate system prompt written by the generator for one strategy."""

    strategy: str = Field(min_length=1)
    prompt_text: str = Field(min_length=1)


class GeneratedPrompts(BaseModel):
    """The prompt generator's answer."""

    prompts: list[GeneratedPrompt]


class GeneratedCase(BaseModel):
    """One test case written by the case generator."""

    input: str
    expected: str = Field(min_length=1)
    category: str = "general"


class GeneratedCases(BaseModel):
    """The case generator's answer."""

    cases: list[GeneratedCase]


class Weakness(BaseModel):
    """One weakness of a prompt, with the failing cases that show it."""

    title: str = Field(min_length=1)
    description: str
    case_keys: list[str] = Field(default_factory=list)


class WeaknessReport(BaseModel):
    """The analyst's answer: what the prompt gets wrong and what to change."""

    weaknesses: list[Weakness]
    suggestions: str


class RefinedPrompt(BaseModel):
    """The refiner's answer: a child prompt and why it should do better."""

    prompt_text: str = Field(min_length=1)
    rationale: str = ""


TOOL_MODELS: dict[str, type[BaseModel]] = {
    JUDGE_TOOL: JudgeVerdict,
    PROMPTS_TOOL: GeneratedPrompts,
    CASES_TOOL: GeneratedCases,
    ANALYSIS_TOOL: WeaknessReport,
    REFINE_TOOL: RefinedPrompt,
}


@functools.cache
def tool_definition(
    name: str, description: str, model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """A Messages API tool whose input schema is `model`'s (default: the one `name` registers).

    Cached: treat the returned mapping as read-only.
    """
    schema = (model or TOOL_MODELS[name]).model_json_schema()
    return {"name": name, "description": description, "input_schema": schema}


def encode_data(payload: dict[str, Any]) -> str:
    """The `<data>` block for a payload; `<` is escaped so no text can close the block early."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    return f"{DATA_OPEN}\n{body}\n{DATA_CLOSE}"


def decode_data(text: str) -> dict[str, Any] | None:
    """The payload of the last `<data>` block in a message, or None when there is none."""
    start = text.rfind(DATA_OPEN)
    end = text.rfind(DATA_CLOSE)
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(text[start + len(DATA_OPEN) : end])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# Payload keys, per tool (all values are JSON):
#   submit_verdict:  criteria: list[str], user_input: str, expected_behavior: str | null,
#                    response: str, task_description: str; when the suite has its own
#                    rubric: rubric: list[{name, description, scale: "continuous" | "binary"}]
#                    (the schema then has one property per criterion); and only when there are any:
#                    tool_calls: list[{name, input}] (the answer's, in order),
#                    conversation: list[{role, text}] (every turn up to user_input, its last
#                    user turn; images and documents shown as "[image: photo.png]")
#   submit_prompts:  task_description: str, original_prompt: str,
#                    strategies: list[{name, instruction}], examples: list[{input, expected}]
#   submit_cases:    task_description: str, tier: "quick" | "rigorous", count: int,
#                    existing_inputs: list[str], examples: list[{input, expected, category}]
#   submit_analysis: prompt: str, task_description: str,
#                    failures: list[{case_key, input, expected, response, overall_score,
#                                    reasoning, failed_assertions: list[str]}]
#   submit_prompt:   prompt: str, task_description: str, weaknesses: list[Weakness],
#                    suggestions: str
