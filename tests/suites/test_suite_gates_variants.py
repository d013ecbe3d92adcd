"""`min_passes`, `flaky`, `min_pass_rate` and `variants` in suite files: loading and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.spec import Case, Suite
from tests.suites.test_suite_loading import error_of, suite_at


def test_k_of_n_and_flaky_from_the_case_else_the_suite(tmp_path: Path) -> None:
    suite = load_suite(
        suite_at(
            tmp_path,
            """
            name: bot
            prompt: Be kind.
            repeats: 5
            min_passes: 4
            flaky: true
            min_pass_rate: 0.8
            cases:
              - {id: own, input: hi, repeats: 3, min_passes: 2, flaky: false}
              - {id: inherited, input: hello}
            """,
        )
    )
    own, inherited = suite.cases
    assert (suite.repeats_for(own), suite.min_passes_for(own), suite.is_flaky(own)) == (3, 2, False)
    assert (suite.min_passes_for(inherited), suite.is_flaky(inherited)) == (4, True)
    assert suite.min_pass_rate == 0.8


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            """
            name: bot
            prompt: Be kind.
            cases:
              - {id: greet, input: hi, repeats: 3, min_passes: 4}
            """,
            "s.promptopt.yaml: suite 'bot', case 'greet': field 'min_passes' (the case's, 4) is "
            "more than the case's samples (repeats: 3); set min_passes between 1 and 3, or raise "
            "repeats",
            id="case-level",
        ),
        pytest.param(
            """
            name: bot
            prompt: Be kind.
            repeats: 5
            min_passes: 4
            cases:
              - {id: fine, input: hi}
              - {id: fewer, input: hi, repeats: 2}
            """,
            "s.promptopt.yaml: suite 'bot', case 'fewer': field 'min_passes' (the suite's, 4) is "
            "more than the case's samples (repeats: 2); set min_passes between 1 and 2",
            id="suite-level-over-a-case-repeats",
        ),
        pytest.param(
            """
            prompt: Be kind.
            cases:
              - {id: greet, input: hi, repeats: 3, min_passes: 0}
            """,
            "s.promptopt.yaml:3: case 'greet': field 'min_passes': Input should be greater than "
            "or equal to 1",
            id="zero",
        ),
        pytest.param(
            """
            prompt: Be kind.
            min_pass_rate: 1.5
            cases:
              - {id: greet, input: hi}
            """,
            "field 'min_pass_rate': Input should be less than or equal to 1",
            id="rate-over-one",
        ),
    ],
)
def test_bad_k_of_n_and_pass_rates_name_file_suite_case_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert expected in error_of(suite_at(tmp_path, body))


def test_the_python_api_checks_min_passes_too() -> None:
    with pytest.raises(ValidationError, match="case 'c': field 'min_passes'"):
        Suite(name="s", prompt="p", cases=[Case(id="c", input="hi", min_passes=2)])


def test_variants_become_one_suite_each_named_suite_at_variant(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "v2.txt").write_text("Be brief, {{ tone }}.", encoding="utf-8")
    suite = load_suite(
        suite_at(
            tmp_path,
            """
            name: bot
            prompt: "Be kind, {{ tone }}."
            model: claude-haiku-4-5
            params: {temperature: 0.2, max_tokens: 300}
            vars: {tone: warm}
            variants:
              v1:
              v2: {prompt: prompts/v2.txt, vars: {tone: dry}}
              sonnet: {model: claude-sonnet-4-5, params: {temperature: 0.0}}
            cases:
              - {id: greet, input: hi}
            """,
        )
    )
    judged = suite.variant_suites()
    assert [(s.name, s.variant, s.variant_rank) for s in judged] == [
        ("bot@v1", "v1", 0),
        ("bot@v2", "v2", 1),
        ("bot@sonnet", "sonnet", 2),
    ]
    v1, v2, sonnet = judged
    assert v1.prompt == "Be kind, {{ tone }}." and v1.vars == {"tone": "warm"}
    assert v2.prompt == "Be brief, {{ tone }}." and v2.vars == {"tone": "dry"}
    assert v2.prompt_path is None  # --promptopt-apply never writes a variant's prompt
    assert sonnet.model == "claude-sonnet-4-5"
    assert sonnet.params == {"temperature": 0.0, "max_tokens": 300}
    assert v1.model == "claude-haiku-4-5" and v1.params == suite.params
    assert all(s.variants is None and s.cases == suite.cases for s in judged)


def test_a_suite_without_variants_is_judged_as_itself(tmp_path: Path) -> None:
    suite = load_suite(suite_at(tmp_path, "prompt: p\ncases:\n  - {id: a, input: hi}\n"))
    assert suite.variant_suites() == [suite]
    assert suite.variant is None


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        pytest.param(
            "{v1: {promt: x}}",
            "field 'variants.v1.promt': unknown key: did you mean 'prompt'?; allowed: prompt, "
            "model, params, vars",
            id="unknown-key",
        ),
        pytest.param(
            "{'a@b': {}}",
            "field 'variants': variant name 'a@b' may not be empty or contain '@'",
            id="bad-name",
        ),
        pytest.param("{}", "`variants` is empty", id="empty"),
        pytest.param(
            "{v2: {prompt: prompts/missing.txt}}",
            "field 'variants.v2.prompt': prompt file 'prompts/missing.txt' not found",
            id="missing-prompt-file",
        ),
        pytest.param(
            "{v2: {prompt: 'Hi {{ who }}'}}",
            "suite 'bot@v2', case 'a': field 'prompt': undefined variable 'who'",
            id="variant-prompt-needs-an-undefined-var",
        ),
    ],
)
def test_bad_variants_are_load_errors(tmp_path: Path, variants: str, expected: str) -> None:
    body = f"name: bot\nprompt: p\nvariants: {variants}\ncases:\n  - {{id: a, input: hi}}\n"
    assert expected in error_of(suite_at(tmp_path, body))
