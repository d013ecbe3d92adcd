"""Bounded input (issue 18, findings 6, 8, 10, 11): alias bombs, duplicate keys, deep nesting,
template arithmetic, sizes and loops are clear SuiteErrors, never a hang or a traceback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites import templates
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.templates import TemplateError, render
from tests.suites.test_suite_loading import error_of, suite_at


def _bomb(levels: int) -> str:
    """The alias bomb of the report: each anchor a list of nine aliases of the one before."""
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "prompt: hi\nvars:\n" + "\n".join(lines) + "\ncases:\n  - {id: a, input: hi}\n"


def _finishes(fn: object, seconds: float = 30.0) -> None:
    """Run `fn` on a thread and require it to be done (an Event, not a clock, says when)."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), "did not finish: the input is not bounded"
    if errors:
        raise errors[0]


def test_the_alias_bomb_is_a_suite_error(tmp_path: Path) -> None:
    # Finding 6: 567 bytes of nine-level aliases under `vars:` ran past 2.5 GB.
    text = _bomb(9)
    assert len(text) < 700
    path = tmp_path / "bomb.promptopt.yaml"
    path.write_text(text, encoding="utf-8")
    messages: list[str] = []
    _finishes(lambda: messages.append(error_of(path)))
    assert messages[0].startswith(f"{path}:")
    assert "aliases expand to more than 100000 values" in messages[0]


def test_small_aliases_still_work(tmp_path: Path) -> None:
    path = suite_at(
        tmp_path,
        """
        prompt: hi
        vars: {shared: &checks [{contains: refund}]}
        cases:
          - {id: a, input: hi, assert: *checks}
          - {id: b, input: ho, assert: *checks}
        """,
    )
    suite = load_suite(path)
    assert [c.assertions[0].value for c in suite.cases] == ["refund", "refund"]


def test_a_recursive_alias_is_a_suite_error(tmp_path: Path) -> None:
    path = suite_at(tmp_path, "prompt: hi\nvars: {loop: &x [1, *x]}\ncases: [{id: a, input: hi}]\n")
    assert "contains an alias of itself" in error_of(path)


def test_a_duplicate_key_names_the_key_and_its_line(tmp_path: Path) -> None:
    # Finding 10: the last of two `threshold:` keys won silently.
    path = suite_at(
        tmp_path,
        """
        prompt: hi
        threshold: 0.9
        cases:
          - id: a
            input: hi
            input: ho
        threshold: 0.1
        """,
    )
    message = error_of(path)
    assert message.startswith(f"{path}:7: the key 'threshold' is given twice"), message
    path.write_text(path.read_text().replace("threshold: 0.1\n", ""))
    assert error_of(path).startswith(f"{path}:6: the key 'input' is given twice")


def test_nesting_past_the_limit_in_yaml_is_a_suite_error(tmp_path: Path) -> None:
    # Finding 8: 400-deep nested `vars` was a RecursionError.
    deep = "[" * 400 + "]" * 400
    path = suite_at(
        tmp_path, f"prompt: hi\nvars: {{deep: {deep}}}\ncases: [{{id: a, input: hi}}]\n"
    )
    assert "nest more than 64 deep" in error_of(path)


def test_nesting_past_the_limit_in_a_jsonl_case_file_is_a_suite_error(tmp_path: Path) -> None:
    # Finding 8: a JSONL var 500 deep.
    value: object = "x"
    for _ in range(500):
        value = {"v": value}
    (tmp_path / "cases.jsonl").write_text(
        json.dumps({"id": "a", "input": "hi", "vars": {"deep": value}}) + "\n", encoding="utf-8"
    )
    path = suite_at(tmp_path, "prompt: hi\ncases: cases.jsonl\n")
    message = error_of(path)
    assert message.startswith(f"{tmp_path / 'cases.jsonl'}:1: mappings and lists nest more than 64")


def test_a_huge_json_number_is_a_suite_error(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text('{"id": "a", "input": "hi", "n": ' + "9" * 5000 + "}\n")
    path = suite_at(tmp_path, "prompt: hi\ncases: cases.jsonl\n")
    assert f"{tmp_path / 'cases.jsonl'}:1: invalid JSON" in error_of(path)


def test_constant_folded_power_is_a_suite_error_naming_suite_and_case(tmp_path: Path) -> None:
    # Finding 8: `prompt: "hi {{ 10 ** 5000 }}"` was a traceback (Jinja2 folds constants).
    path = suite_at(
        tmp_path, 'name: big\nprompt: "hi {{ 10 ** 5000 }}"\ncases: [{id: a, input: hi}]\n'
    )
    message = error_of(path)
    assert "suite 'big', case 'a': field 'prompt': the template exceeds a limit" in message
    assert "more than 4096 bits" in message


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        ("{{ 'x'|center(10**8) }}", "the filter 'center' with the argument 100000000"),
        ("{{ 'x' * 10**8 }}", "'*' making more than 4000000"),
        ("{{ 'x'.ljust(10**9) }}", "the method 'ljust'"),
        ("{{ range(10000)|join('x' * 1000000) }}", "join making more than"),
        ("{{ '%0999999999d'|format(1) }}", "width or precision of millions"),
        ("{{ '{:>999999999}'.format(1) }}", "width or precision of millions"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "'~' making a string of more than",
        ),
        ("{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}", "'extend'"),
    ],
)
def test_templates_cannot_build_huge_values(template: str, limit: str) -> None:
    # Finding 11: `'x'|center(10**8)` had no size limit.
    with pytest.raises(TemplateError) as info:
        render(template, {})
    assert str(info.value).startswith("the template exceeds a limit: ")
    assert limit in str(info.value)


def test_nested_loops_stop_at_the_step_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Finding 11: nested `range(99999)` loops ran for hours.
    monkeypatch.setattr(templates, "MAX_STEPS", 5000)
    template = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="more than 5000 loop iterations and calls"):
        render(template, {})


def test_the_rendered_text_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "MAX_CHARS", 1000)
    with pytest.raises(TemplateError, match="rendered text of more than 1000 characters"):
        render("{% for i in range(500) %}{{ 'abc' }}{% endfor %}", {})


def test_ordinary_templates_are_untouched_by_the_limits() -> None:
    out = render(
        "{{ items|map('upper')|join(', ') }} {{ n|round(2) }} {{ '%d'|format(12000000) }} "
        "{{ ', '.join(items) }} {{ 2 ** 10 }} "
        "{% for i in items %}{{ loop.index }}/{{ loop.length }}{% endfor %} {{ a ~ b }} "
        "{{ '{:>4}'.format(7) }}",
        {"items": ["a", "b"], "n": 1.234, "a": "x", "b": "y"},
    )
    assert out == "A, B 1.23 12000000 a, b 1024 1/22/2 xy    7"


def test_every_undefined_variable_is_reported_at_once() -> None:
    # Issue 20: only the first undefined template variable was reported.
    with pytest.raises(TemplateError) as info:
        render("{{ a }} and {% if b %}{{ c }}{% endif %} {{ d | default('x') }}", {"z": 1})
    assert str(info.value).startswith("undefined variables 'a', 'b'; define them")
    assert info.value.missing == ("a", "b")


def test_a_huge_literal_number_in_a_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="invalid template"):
        render("{{ " + "9" * 5000 + " }}", {})


def test_a_nul_byte_in_a_prompt_is_a_suite_error(tmp_path: Path) -> None:
    # Finding 8: `prompt: "a\x00.txt"` was a traceback.
    path = suite_at(tmp_path, 'prompt: "a\\x00.txt"\ncases: [{id: a, input: hi}]\n')
    message = error_of(path)
    assert message.startswith(f"{path}: field 'prompt': ")
    assert "NUL" in message


def test_a_yaml_suite_error_is_never_another_exception(tmp_path: Path) -> None:
    path = suite_at(
        tmp_path, "prompt: hi\nvars: {n: " + "9" * 5000 + "}\ncases: [{id: a, input: hi}]\n"
    )
    with pytest.raises(SuiteError):
        load_suite(path)


def test_a_duplicate_key_in_a_jsonl_row_is_a_suite_error(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text('{"id": "a", "input": "hi", "input": "ho"}\n')
    path = suite_at(tmp_path, "prompt: hi\ncases: cases.jsonl\n")
    assert error_of(path) == (
        f"{tmp_path / 'cases.jsonl'}:1: the key 'input' is given twice in one object (JSON would "
        "keep only the last); keep one"
    )


@pytest.mark.parametrize(
    "fields",
    [
        "threshold: .nan",
        "threshold: .inf",
        "criteria: {safety: .inf}",
        "assert: [{contains: a, weight: .inf}]",
        "assert: [{max_cost_usd: .inf}]",
    ],
)
def test_nan_and_infinity_are_refused_in_suite_numbers(tmp_path: Path, fields: str) -> None:
    # Finding 9: NaN passed range checks.
    path = suite_at(tmp_path, f"prompt: hi\n{fields}\ncases: [{{id: a, input: hi}}]\n")
    message = error_of(path)
    assert "finite" in message, message
