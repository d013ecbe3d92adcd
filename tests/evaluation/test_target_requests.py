"""The requests the model under test and the judge get: rendered, with params and tools, by turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from pytest_promptopt.evaluation.evaluator import Evaluator
from pytest_promptopt.evaluation.judge import JUDGE_INSTRUCTIONS, JUDGE_SYSTEM, TOOL_CALLS_NOTE
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.evaluation.target import NO_TOOL_RESULT
from pytest_promptopt.llm.requests import build_structured_request, request_hash
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.protocol import CRITERION_MEANINGS, JUDGE_TOOL, VerdictInput, decode_data
from pytest_promptopt.settings import SIMULATED_MODEL
from pytest_promptopt.suites.spec import Case, Suite
from tests.support.llm import OfflineService

VERDICT = {
    "functionality": 1.0,
    "safety": 1.0,
    "consistency": 1.0,
    "edge_case_handling": 1.0,
    "reasoning": "fine",
}
LOOKUP_TOOL: dict[str, Any] = {
    "name": "lookup_order",
    "description": "Find an order by its number",
    "input_schema": {"type": "object", "properties": {"order": {"type": "string"}}},
}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order": "7"}}


class RecordingService(OfflineService):
    """A model service that records each request and answers from a script (judge: VERDICT)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        super().__init__()
        self.answers = answers
        self.requests: list[dict[str, Any]] = []

    async def _send(
        self, request: dict[str, Any], *, role: str, label: str, sample: int = 0
    ) -> dict[str, Any]:
        """The next scripted answer, or a verdict for a judge request."""
        self.requests.append(request)
        if request.get("tool_choice", {}).get("name") == JUDGE_TOOL:
            return {"content": [{"type": "tool_use", "name": JUDGE_TOOL, "input": VERDICT}]}
        return self.answers.pop(0)

    def targets(self) -> list[dict[str, Any]]:
        """The model-under-test requests, in order."""
        return [r for r in self.requests if r.get("tool_choice", {}).get("name") != JUDGE_TOOL]

    def judge_payloads(self) -> list[dict[str, Any]]:
        """The data blocks of the judge requests."""
        return [
            cast(dict[str, Any], decode_data(r["messages"][-1]["content"]))
            for r in self.requests
            if r not in self.targets()
        ]


def said(text: str, *blocks: dict[str, Any], stop: str = "end_turn") -> dict[str, Any]:
    """An answer: its text, then tool_use blocks."""
    return {"content": [{"type": "text", "text": text}, *blocks], "stop_reason": stop}


def evaluator(service: LLMService) -> Evaluator:
    """An evaluator on the simulated models."""
    return Evaluator(service, model=SIMULATED_MODEL, judge_model=SIMULATED_MODEL, threshold=0.5)


def first_sent(suite: Suite, prompt: str, case: Case, k: int = 0) -> dict[str, Any]:
    """The first request the evaluator sends the model under test for sample k of a case."""
    service = RecordingService([said("ok")])
    asyncio.run(evaluator(service).evaluate(suite, prompt, case, samples=1, first_sample=k))
    return service.targets()[0]


def run(service: RecordingService, suite: Suite, prompt: str | None = None) -> CaseResult:
    """Evaluate the suite's only case with its own prompt (or `prompt`)."""
    text = suite.system_template if prompt is None else prompt
    return asyncio.run(evaluator(service).evaluate(suite, text, suite.cases[0]))


def test_no_system_prompt_means_no_system_key() -> None:
    suite = Suite(name="bare", cases=[Case(id="a", input="hi")])
    request = first_sent(suite, "", suite.cases[0])
    assert request == {
        "model": SIMULATED_MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 1024,
    }
    with_prompt = Suite(name="p", prompt="Be brief.", cases=[Case(id="a", input="")])
    request = first_sent(with_prompt, "Be brief.", with_prompt.cases[0], 2)
    assert request["system"] == "Be brief."
    assert request["messages"] == [{"role": "user", "content": "[the user sent an empty message]"}]
    # The sample index is in the cache key only: nothing is sent in metadata.
    assert "metadata" not in request
    assert request == first_sent(with_prompt, "Be brief.", with_prompt.cases[0], 0)
    assert request_hash(request, 2) != request_hash(request, 0)


def test_params_tools_and_tool_choice_are_in_the_request_and_the_hash() -> None:
    plain = Suite(name="s", prompt="Help.", cases=[Case(id="a", input="where is 7?")])
    full = Suite(
        name="s",
        prompt="Help.",
        params={"max_tokens": 600, "stop_sequences": ["</a>"], "metadata": {"user_id": "u"}},
        tools=(LOOKUP_TOOL,),
        tool_choice={"type": "auto"},
        cases=[Case(id="a", input="where is 7?")],
    )
    base = first_sent(plain, "Help.", plain.cases[0])
    sent = first_sent(full, "Help.", full.cases[0], 1)
    assert sent == {
        **base,
        "max_tokens": 600,
        "stop_sequences": ["</a>"],
        "tools": [LOOKUP_TOOL],
        "tool_choice": {"type": "auto"},
        "metadata": {"user_id": "u"},  # the suite's own metadata, untouched by the sample index
    }
    hashes = {request_hash(base, 0)}
    for change in (
        {"params": {"max_tokens": 600}},
        {"params": {"stop_sequences": ["</a>"]}},
        {"tools": (LOOKUP_TOOL,)},
        {"tools": (LOOKUP_TOOL,), "tool_choice": {"type": "any"}},
    ):
        suite = plain.model_copy(update=change)
        hashes.add(request_hash(first_sent(suite, "Help.", suite.cases[0]), 0))
    assert len(hashes) == 5


def test_the_candidate_prompt_template_is_rendered_with_the_case_vars() -> None:
    suite = Suite(
        name="shop",
        prompt="You work for {{ shop }}.",
        vars={"shop": "Northwind", "item": "lamp"},
        input="Where is my {{ item }}?",
        cases=[Case(id="a", vars={"shop": "Acme"}), Case(id="b")],
    )
    first = first_sent(suite, suite.system_template, suite.cases[0])
    assert first["system"] == "You work for Acme."
    assert first["messages"] == [{"role": "user", "content": "Where is my lamp?"}]
    candidate = first_sent(suite, "Answer for {{ shop }} only.", suite.cases[1])
    assert candidate["system"] == "Answer for Northwind only."


def test_an_undefined_variable_in_a_candidate_is_the_case_error() -> None:
    suite = Suite(name="shop", prompt="Hi.", cases=[Case(id="a", input="x")])
    result = run(RecordingService([]), suite, prompt="You work for {{ shop }}.")
    assert result.error is not None and "'shop'" in result.error and "undefined" in result.error
    assert result.samples == []


def test_turns_make_one_call_each_with_the_answers_kept_in_the_history() -> None:
    suite = Suite(
        name="chat",
        prompt="Help.",
        tools=(LOOKUP_TOOL,),
        cases=[Case(id="t", turns=("Where is order 7?", "And when will it come?"))],
    )
    first = said("Let me look.", CALL, stop="tool_use")
    service = RecordingService([first, said("Tomorrow.")])
    result = run(service, suite)
    assert result.error is None
    one, two = service.targets()
    assert one["messages"] == [{"role": "user", "content": "Where is order 7?"}]
    assert two["messages"] == [
        {"role": "user", "content": "Where is order 7?"},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": NO_TOOL_RESULT},
                {"type": "text", "text": "And when will it come?"},
            ],
        },
    ]
    assert two["tools"] == [LOOKUP_TOOL] and request_hash(one, 0) != request_hash(two, 0)
    (sample,) = result.samples
    assert (sample.response, sample.tool_calls, sample.stop_reason) == ("Tomorrow.", [], "end_turn")
    assert sample.calls == 3  # two turns and the judge
    (payload,) = service.judge_payloads()
    assert payload["user_input"] == "And when will it come?"
    assert payload["response"] == "Tomorrow."
    assert payload["conversation"] == [
        {"role": "user", "text": "Where is order 7?"},
        {"role": "assistant", "text": 'Let me look.\n[tool call lookup_order: {"order": "7"}]'},
        {"role": "user", "text": "And when will it come?"},
    ]
    assert "tool_calls" not in payload  # the last answer made none


def test_the_judge_sees_tool_calls_and_files_as_placeholders(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    suite = Suite(
        name="vision",
        prompt="Help.",
        cases=[
            Case.model_validate(
                {
                    "id": "img",
                    "expected": "Looks up the order",
                    "messages": [
                        {"role": "user", "content": "I sent a photo earlier."},
                        {"role": "assistant", "content": "Please send it again."},
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": "Here, order 7:"},
                                {"type": "image", "path": str(photo)},
                            ],
                        },
                    ],
                }
            )
        ],
    )
    service = RecordingService([said("Checking.", CALL, stop="tool_use")])
    result = run(service, suite)
    assert result.error is None
    (target,) = service.targets()
    image = target["messages"][2]["content"][1]
    assert image["type"] == "image" and image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/png"
    (payload,) = service.judge_payloads()
    assert payload["user_input"] == "Here, order 7:\n[image: photo.png]"
    assert payload["tool_calls"] == [{"name": "lookup_order", "input": {"order": "7"}}]
    assert [t["text"] for t in payload["conversation"]] == [
        "I sent a photo earlier.",
        "Please send it again.",
        "Here, order 7:\n[image: photo.png]",
    ]
    judge_request = next(r for r in service.requests if r not in service.targets())
    assert judge_request["messages"][-1]["content"].startswith(JUDGE_INSTRUCTIONS + TOOL_CALLS_NOTE)
    assert result.samples[0].tool_calls == [
        {"id": "toolu_1", "name": "lookup_order", "input": {"order": "7"}}
    ]


def test_a_plain_case_sends_the_judge_its_spec_and_the_rubric() -> None:
    """No tool calls, one turn: the payload is the rubric, the exchange and the spec."""
    suite = Suite(
        name="s",
        prompt="Help {{ who }}.",
        vars={"who": "shoppers"},
        description="A shop bot",
        cases=[Case(id="a", input="hi", expected="Greets")],
    )
    service = RecordingService([said("Hello!")])
    run(service, suite)
    judge = next(r for r in service.requests if r not in service.targets())
    expected = build_structured_request(
        model=SIMULATED_MODEL,
        system=JUDGE_SYSTEM,
        instructions=JUDGE_INSTRUCTIONS,
        payload={
            "criteria": ["functionality", "safety", "consistency", "edge_case_handling"],
            "rubric": [
                {"name": name, "description": meaning, "scale": "continuous"}
                for name, meaning in CRITERION_MEANINGS.items()
            ],
            "user_input": "hi",
            "expected_behavior": "Greets",
            "response": "Hello!",
            "task_description": "A shop bot",
            "system_prompt": "Help shoppers.",
        },
        tool=JUDGE_TOOL,
        tool_model=VerdictInput,
    )
    assert judge == expected


def test_an_answer_cut_at_max_tokens_says_so() -> None:
    suite = Suite(
        name="long",
        prompt="Help.",
        params={"max_tokens": 600},
        cases=[
            Case.model_validate(
                {"id": "a", "input": "tell me all", "judge": False, "assert": [{"contains": "end"}]}
            )
        ],
    )
    result = run(RecordingService([said("It all began", stop="max_tokens")]), suite)
    (sample,) = result.samples
    assert (sample.stop_reason, sample.max_tokens, sample.truncated) == ("max_tokens", 600, True)
    assert "\n  answer cut at max_tokens (600)\n" in result.explain()
    fine = run(RecordingService([said("the end")]), suite)
    assert fine.passed and "cut at" not in fine.explain()
