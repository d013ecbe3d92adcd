"""`--optimize` that generalizes: held-out cases, the apply gate, the optimizer model (pytester)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
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


def test_apply_refuses_a_gain_that_is_not_significant_and_says_why(
    sim: pytest.Pytester,
) -> None:
    # The example project's support bot: the search's best lifts the feedback cases, but the
    # three confirmation cases give a wide interval, so the original stays and nothing is written.
    example = Path(__file__).resolve().parents[2] / "example_project"
    prompt = (example / "prompts" / "support_bot.txt").read_text()
    sim.path.joinpath("prompts").mkdir()
    sim.path.joinpath("prompts", "support_bot.txt").write_text(prompt)
    suite = (example / "suites" / "support_bot.promptopt.yaml").read_text()
    sim.path.joinpath("support_bot.promptopt.yaml").write_text(
        suite.replace("../prompts/", "prompts/")
    )
    result = sim.runpytest("--optimize", "--promptopt-apply")
    assert sim.path.joinpath("prompts", "support_bot.txt").read_text() == prompt
    refused = [line for line in result.stdout.lines if "not applied to support_bot:" in line]
    assert len(refused) == 1, result.stdout.str()[-3000:]
    assert re.search(
        r"not applied to support_bot: kept the original: #\d+ won the search but its paired gain "
        r"on the confirmation cases is [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] "
        r"\(90%, 3 cases\), not significant",
        refused[0],
    ), refused[0]
    rows = query(default_db(sim), "SELECT summary FROM stage_results WHERE stage = 'select_best'")
    summary = json.loads(rows[0][0])
    low, _mean, high = summary["gain"]
    assert summary["significant"] is False and low <= 0 < high
    assert summary["winner_prompt_id"] != summary["finalist_ids"][0]  # not the original...
    assert summary["chosen_prompt_id"] == summary["finalist_ids"][0]  # ...but the original stays


def test_the_optimizer_model_writes_and_the_judge_model_judges(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_suite(sim)
    writer = "claude-opus-4-1"
    with LoopbackMessagesServer() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-optimizer")
        monkeypatch.setenv("PROMPTOPT_OPTIMIZER_MODEL", writer)
        result = sim.runpytest(*SMALL)
        assert result.ret in (0, 1)
        assert server.request_count > 0
    models: dict[str, set[str]] = {}
    for role, model in query(default_db(sim), "SELECT role, model FROM llm_calls"):
        models.setdefault(role, set()).add(model)
    assert models["generate"] == models["analyze"] == {writer}
    assert models["judge"] == models["target"] == {"simulated"}
