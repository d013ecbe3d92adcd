"""`--optimize` that generalizes: held-out cases, the apply gate, the optimizer model (pytester)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.plugin import default_db, query, write_suite

SMALL = (
    "--optimize",
    "--promptopt-candidates=3",
    "--promptopt-quick-tests=2",
    "--promptopt-rigorous-tests=2",
    "--promptopt-top-k=2",
    "--promptopt-top-m=1",
    "--promptopt-iterations=1",
)
# Eight refund and delivery cases with distinctive words, so a leak is easy to find.
REFUND = "Apologises, states the 30-day refund policy"
DELIVERY = "Says delivery takes 3-5 business days"
CASES = [
    ("refund-pan", "refund", "My zebrafinch pan arrived scratched, refund please", REFUND),
    ("refund-knife", "refund", "The marmalade knife is blunt, can I return it?", REFUND),
    ("refund-pot", "refund", "Broken lid on my quokka pot, I want my money back", REFUND),
    ("refund-mug", "refund", "The pelican mug leaks, refund?", REFUND),
    ("delivery-de", "delivery", "How long is delivery to Wuppertal?", DELIVERY),
    ("delivery-fr", "delivery", "Shipping time to Carcassonne?", DELIVERY),
    ("delivery-it", "delivery", "When will my parcel reach Bergamo?", DELIVERY),
    ("delivery-es", "delivery", "Delivery estimate for Albacete please", DELIVERY),
]
PROMPT = "You are the support assistant of a kitchenware shop."


def shop_suite(pytester: pytest.Pytester, prompt_file: bool = False) -> None:
    """Write the eight-case shop suite (its prompt inline or in `prompt.txt`)."""
    lines = ["name: shop", "description: Support assistant of a kitchenware shop."]
    if prompt_file:
        pytester.path.joinpath("prompt.txt").write_text(PROMPT + "\n")
        lines.append("prompt: prompt.txt")
    else:
        lines.append(f"prompt: {PROMPT}")
    lines.append("cases:")
    for key, category, text, expected in CASES:
        lines += [
            f"  - id: {key}",
            f"    category: {category}",
            f"    input: {json.dumps(text)}",
            f"    expected: {json.dumps(expected)}",
        ]
    write_suite(pytester, "shop", "\n".join(lines) + "\n")


def splits(pytester: pytest.Pytester) -> dict[int, dict[str, str]]:
    """Run id -> case key -> split, from the given cases' rows."""
    found: dict[int, dict[str, str]] = {}
    rows = query(
        default_db(pytester),
        "SELECT run_id, case_key, split FROM test_cases WHERE stage = 'given' ORDER BY id",
    )
    for run_id, key, split in rows:
        found.setdefault(run_id, {})[key] = split
    return found


def test_no_writer_call_sees_a_held_out_case_and_the_split_is_deterministic(
    sim: pytest.Pytester,
) -> None:
    shop_suite(sim)
    first = sim.runpytest(*SMALL)
    second = sim.runpytest(*SMALL, "--promptopt-cache=off")
    assert first.ret in (0, 1) and second.ret in (0, 1)
    runs = splits(sim)
    assert len(runs) == 2
    one, two = runs.values()
    assert one == two  # the same split in every run
    held = [key for key, part in one.items() if part in ("holdout", "confirm")]
    # Of 8 cases: 3 confirm (the least a decision needs), then 0.3 x 8 = 2 select, stratified.
    assert sorted(one.values()) == ["confirm"] * 3 + ["feedback"] * 3 + ["holdout"] * 2
    for part in ("holdout", "confirm"):
        keys = [key for key, p in one.items() if p == part]
        assert {key.split("-")[0] for key in keys} == {"refund", "delivery"}
    texts = {key: text for key, _, text, _ in CASES}
    writers = query(
        default_db(sim), "SELECT role, request FROM llm_calls WHERE role IN ('generate', 'analyze')"
    )
    roles = {role for role, _ in writers}
    assert roles == {"generate", "analyze"}, roles
    for _, request in writers:
        for key in held:
            assert texts[key] not in request, f"a writer call contains hidden case {key}"
    feedback = [texts[k] for k, part in one.items() if part == "feedback"]
    assert any(any(text in request for text in feedback) for _, request in writers)
    # The summary shows the split's scores side by side.
    first.stdout.fnmatch_lines(["*feedback * -> * (3 cases), held-out * -> * (2 cases)*"])


def example_suite(pytester: pytest.Pytester, name: str) -> str:
    """Copy one of the example project's suites and its prompt file; return the prompt."""
    example = Path(__file__).resolve().parents[2] / "example_project"
    prompt = (example / "prompts" / f"{name}.txt").read_text()
    pytester.path.joinpath("prompts").mkdir()
    pytester.path.joinpath("prompts", f"{name}.txt").write_text(prompt)
    suite = (example / "suites" / f"{name}.promptopt.yaml").read_text()
    pytester.path.joinpath(f"{name}.promptopt.yaml").write_text(
        suite.replace("../prompts/", "prompts/")
    )
    return prompt


def select_best(pytester: pytest.Pytester) -> dict[str, object]:
    """The select_best stage's stored summary."""
    rows = query(
        default_db(pytester), "SELECT summary FROM stage_results WHERE stage = 'select_best'"
    )
    summary: dict[str, object] = json.loads(rows[0][0])
    return summary


def test_apply_refuses_a_gain_that_is_not_significant_and_says_why(
    sim: pytest.Pytester,
) -> None:
    # The example project's bank guard: the search's best lifts the feedback cases, but one of
    # its four confirmation cases does not move, so the interval reaches below zero: the
    # original stays and nothing is written.
    prompt = example_suite(sim, "bank_guard")
    result = sim.runpytest("--optimize", "--promptopt-apply")
    assert sim.path.joinpath("prompts", "bank_guard.txt").read_text() == prompt
    refused = [line for line in result.stdout.lines if "not applied to bank_guard:" in line]
    assert len(refused) == 1, result.stdout.str()[-3000:]
    assert re.search(
        r"not applied to bank_guard: kept the original: #\d+ won the search but its paired gain "
        r"on the confirmation cases is [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] "
        r"\(90%, 4 cases\), not significant",
        refused[0],
    ), refused[0]
    summary = select_best(sim)
    low, _mean, high = summary["gain"]  # type: ignore[misc]
    assert not summary.get("significant") and low <= 0 < high
    finalists = summary["finalist_ids"]
    assert summary["winner_prompt_id"] != finalists[0]  # type: ignore[index]  # not the original
    assert summary["chosen_prompt_id"] == finalists[0]  # type: ignore[index]  # ...which stays


def test_apply_writes_a_winner_the_confirmation_proves(sim: pytest.Pytester) -> None:
    prompt = example_suite(sim, "support_bot")
    result = sim.runpytest("--optimize", "--promptopt-apply")
    written = sim.path.joinpath("prompts", "support_bot.txt").read_text()
    summary = select_best(sim)
    assert summary["significant"] is True
    assert summary["chosen_prompt_id"] == summary["winner_prompt_id"]
    assert written != prompt
    applied = [line for line in result.stdout.lines if "applied: wrote the best prompt" in line]
    assert len(applied) == 1 and "confirmation cases" in applied[0], applied


def test_the_optimizer_model_writes_and_the_judge_model_judges(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline means offline: under `simulated` the writer roles ask for the optimizer model
    # and the simulator answers them too; the records keep the model each role asked for.
    shop_suite(sim)
    writer = "claude-opus-4-1"
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("PROMPTOPT_OPTIMIZER_MODEL", writer)
    result = sim.runpytest(*SMALL)
    assert result.ret in (0, 1)
    asked: dict[str, set[str]] = {}
    answered: set[str] = set()
    rows = query(default_db(sim), "SELECT role, model, requested_model FROM llm_calls")
    for role, model, requested in rows:
        asked.setdefault(role, set()).add(requested or model)
        answered.add(model)
    assert asked["generate"] == asked["analyze"] == {writer}
    assert asked["judge"] == asked["target"] == {"simulated"}
    assert answered == {"simulated"}
