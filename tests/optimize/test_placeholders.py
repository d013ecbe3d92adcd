"""The optimizer rewrites a prompt template and rejects a rewrite that changes its placeholders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.stages.generation import GeneratePrompts
from pytest_promptopt.optimize.stages.refinement import Refinement, RefinementTrack
from pytest_promptopt.protocol import (
    GeneratedPrompt,
    GeneratedPrompts,
    RefinedPrompt,
    Weakness,
    WeaknessReport,
)
from pytest_promptopt.suites.spec import Case, Suite
from tests.support.optimize import make_runtime

TEMPLATE = "You are the support assistant of {{ shop }}. Greet {{ name }} by name."


def _suite() -> Suite:
    return Suite(
        name="templated",
        prompt=TEMPLATE,
        vars={"shop": "Northwind", "name": "Ada"},
        cases=[Case(id="hi", input="Hello", expected="A greeting that names the shop")],
    )


def test_candidates_that_drop_or_invent_a_placeholder_are_rejected_with_the_reason(
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path)
    ctx = RunContext.from_runtime(runtime, _suite())
    kept = "Work for {{ shop }}; always greet {{ name }} warmly."
    answer = GeneratedPrompts(
        prompts=[
            GeneratedPrompt(strategy="concise", prompt_text=kept),
            GeneratedPrompt(
                strategy="persona", prompt_text="You work for Northwind. Greet people."
            ),
            GeneratedPrompt(strategy="structured_rules", prompt_text=kept + " In {{ city }}."),
        ]
    )

    async def structured(**_: Any) -> tuple[GeneratedPrompts, None]:
        return answer, None

    ctx.llm.structured = structured  # type: ignore[method-assign]
    try:
        summary = runtime.loop.run(GeneratePrompts().run(ctx))
        with ctx.repos() as r:
            texts = [r.prompts.get(i).prompt_text for i in summary.prompt_ids]  # type: ignore[union-attr]
    finally:
        runtime.dispose()
    assert texts == [TEMPLATE, kept]  # the template is stored, never its rendering
    assert [(x.strategy, "drops" in x.reason, "invents" in x.reason) for x in summary.rejected] == [
        ("persona", True, False),
        ("structured_rules", False, True),
    ]
    assert "{{ name }}" in summary.rejected[0].reason and "{{ city }}" in summary.rejected[1].reason
    assert "2 rejected for changing placeholders" in summary.headline


def test_a_refined_child_that_drops_a_placeholder_is_rejected_and_never_stored(
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path)
    ctx = RunContext.from_runtime(runtime, _suite())
    parent_id = ctx.original_prompt_id()
    case_id = ctx.store_given_cases()["hi"]
    with ctx.repos() as r:
        r.evaluations.add_many(
            [
                {
                    "run_id": ctx.run_id, "prompt_id": parent_id, "test_case_id": case_id,
                    "sample": 0, "model_response": "Hi.", "overall_score": 0.2, "passed": False,
                    "reasoning": "does not name the shop", "assertion_results": [],
                }
            ]
        )  # fmt: skip
    report = WeaknessReport(
        weaknesses=[Weakness(title="no shop name", description="x", case_keys=["hi"])],
        suggestions="Name the shop.",
    )
    answers: dict[str, Any] = {
        "analyze": report,
        "generate": RefinedPrompt(prompt_text="You work for Northwind. Greet {{ name }}."),
    }

    async def structured(*, role: str, **_: Any) -> tuple[Any, None]:
        return answers[role], None

    ctx.llm.structured = structured  # type: ignore[method-assign]
    track = RefinementTrack(
        track_id=1, start_prompt_id=parent_id, final_prompt_id=parent_id, iterations=[]
    )
    try:
        runtime.loop.run(Refinement()._track(ctx, track))
        with ctx.repos() as r:
            stored = [p.prompt_text for p in r.prompts.for_suite(ctx.run_id, "templated")]
    finally:
        runtime.dispose()
    # Each attempt is rejected and recorded; the next one starts again from the parent.
    assert track.iterations
    for step in track.iterations:
        assert not step.kept and step.child_prompt_id is None
        assert step.parent_prompt_id == parent_id
        assert step.reason.startswith("child rejected: the candidate drops {{ shop }}")
    assert track.final_prompt_id == parent_id
    assert stored == [TEMPLATE]  # the rejected child was never stored or evaluated
