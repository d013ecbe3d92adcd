"""render_case: every text rendered from vars, the request in the Messages API's own shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.suites import media
from pytest_promptopt.suites.render import RenderedCase, RenderError, render_case, variables_of
from pytest_promptopt.suites.spec import Case, Suite
from tests.suites.suite_files import MAGIC, FileMaker


def b64(kind: str) -> str:
    """The base64 text of MAGIC[kind]."""
    return base64.b64encode(MAGIC[kind]).decode()


def suite_of(*cases: Case, **fields: Any) -> Suite:
    """A suite named `s` holding `cases`."""
    return Suite(name="s", cases=list(cases), **fields)


def test_vars_fill_prompt_input_and_expected_case_vars_win() -> None:
    case = Case(
        id="c",
        input="Order {{ order }} at {{ shop }}",
        expected="Mentions {{ order }}",
        vars={"order": 7, "shop": "Contoso"},
    )
    suite = suite_of(case, prompt="You work for {{ shop }}.", vars={"shop": "Northwind", "x": 1})
    assert variables_of(suite, case) == {"shop": "Contoso", "x": 1, "order": 7}
    assert render_case(suite, case) == RenderedCase(
        system="You work for Contoso.",
        messages=[{"role": "user", "content": "Order 7 at Contoso"}],
        turns=None,
        expected="Mentions 7",
    )


def test_the_suite_input_template_serves_cases_with_only_vars() -> None:
    case = Case(id="r1", vars={"riddle": "What has keys but no locks?"})
    suite = suite_of(case, input="Riddle: {{ riddle }}")
    rendered = render_case(suite, case)
    assert rendered.system is None  # no prompt: no system prompt
    assert rendered.messages == [{"role": "user", "content": "Riddle: What has keys but no locks?"}]


def test_prompt_template_overrides_the_suites_and_empty_means_none() -> None:
    case = Case(id="c", input="hi")
    suite = suite_of(case, prompt="Original for {{ shop }}", vars={"shop": "N"})
    assert render_case(suite, case, "Candidate for {{ shop }}").system == "Candidate for N"
    assert render_case(suite, case, "").system is None
    assert render_case(suite_of(case, vars={"p": ""}, prompt="{{ p }}"), case).system is None


def test_turns_render_each_and_messages_hold_the_first() -> None:
    case = Case(id="t", turns=("Hi, I'm {{ name }}", "What is my name?"), vars={"name": "Ada"})
    rendered = render_case(suite_of(case), case)
    assert rendered.turns == ("Hi, I'm Ada", "What is my name?")
    assert rendered.messages == [{"role": "user", "content": "Hi, I'm Ada"}]


def test_a_conversation_with_image_pdf_text_and_tools_matches_the_api_shapes(
    make_file: FileMaker,
) -> None:
    """Byte for byte the shapes of the API docs (vision, PDF support, citations, tool use)."""
    png = make_file("cat.png", "png")
    pdf = make_file("spec.pdf", "pdf")
    txt = make_file("notes.txt", b"The grass is green. The sky is blue.")
    case = Case.model_validate(
        {
            "id": "conv",
            "vars": {"city": "San Francisco"},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "path": str(png)},
                        {"type": "text", "text": "Describe this image of {{ city }}."},
                    ],
                },
                {"role": "assistant", "content": "It is a cat in {{ city }}."},
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "path": str(pdf)},
                        {"type": "document", "path": str(txt)},
                        {"type": "text", "text": "What's the weather like in {{ city }}?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "I'll check."},
                        {
                            "type": "tool_use",
                            "id": "toolu_01A09q90qw90lq917835lq9",
                            "name": "get_weather",
                            "input": {"location": "San Francisco, CA"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                            "content": "15 degrees in {{ city }}",
                        },
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_02",
                            "content": [
                                {"type": "text", "text": "ConnectionError: {{ city }} unreachable"}
                            ],
                            "is_error": True,
                        },
                        {"type": "tool_result", "tool_use_id": "toolu_03"},
                    ],
                },
            ],
        }
    )
    rendered = render_case(suite_of(case), case)
    expected = [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": b64("png")},
                },
                {"type": "text", "text": "Describe this image of San Francisco."},
            ],
        },
        {"role": "assistant", "content": "It is a cat in San Francisco."},
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": b64("pdf"),
                    },
                },
                {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": "The grass is green. The sky is blue.",
                    },
                },
                {"type": "text", "text": "What's the weather like in San Francisco?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "get_weather",
                    "input": {"location": "San Francisco, CA"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": "15 degrees in San Francisco",
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": [
                        {"type": "text", "text": "ConnectionError: San Francisco unreachable"}
                    ],
                    "is_error": True,
                },
                {"type": "tool_result", "tool_use_id": "toolu_03"},
            ],
        },
    ]
    assert json.dumps(rendered.messages) == json.dumps(expected)  # same keys in the same order


def test_tool_use_input_is_a_copy_the_request_may_not_change_the_case() -> None:
    case = Case.model_validate(
        {
            "id": "c",
            "messages": [
                {"role": "user", "content": "order?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "t",
                            "name": "lookup",
                            "input": {"order": {"n": 1}},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}],
                },
            ],
        }
    )
    block = render_case(suite_of(case), case).messages[1]["content"][0]
    block["input"]["order"]["n"] = 2
    assert render_case(suite_of(case), case).messages[1]["content"][0]["input"] == {
        "order": {"n": 1}
    }


def test_a_relative_path_in_the_python_api_is_read_from_the_current_directory(
    make_file: FileMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file("img/rel.gif", "gif")
    monkeypatch.chdir(tmp_path)
    case = Case.model_validate(
        {
            "id": "c",
            "messages": [{"role": "user", "content": [{"type": "image", "path": "img/rel.gif"}]}],
        }
    )
    source = render_case(suite_of(case), case).messages[0]["content"][0]["source"]
    assert source == {"type": "base64", "media_type": "image/gif", "data": b64("gif")}


def test_many_cases_sharing_an_image_read_it_once(
    make_file: FileMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_file("shared.jpg", "jpeg")
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr(
        media, "open", lambda p, m: opened.append(p) or real_open(p, m), raising=False
    )
    cases = [
        Case.model_validate(
            {
                "id": f"c{n}",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "path": str(path)},
                            {"type": "text", "text": f"case {n}"},
                        ],
                    }
                ],
            }
        )
        for n in range(2000)
    ]
    suite = suite_of(*cases)
    datas = {render_case(suite, c).messages[0]["content"][0]["source"]["data"] for c in cases}
    assert datas == {b64("jpeg")}
    assert opened == [str(path)]


@pytest.mark.parametrize(
    ("case", "field", "detail"),
    [
        (Case(id="u", input="Hi {{ nme }}"), "input", "undefined variable 'nme'"),
        (Case(id="e", input="hi", expected="{{ gone }}"), "expected", "undefined variable 'gone'"),
        (Case(id="t", turns=("ok", "{{ later }}")), "turns.1", "undefined variable 'later'"),
        (
            Case.model_validate(
                {
                    "id": "m",
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": "a"},
                                {"type": "text", "text": "{{ b }}"},
                            ],
                        }
                    ],
                }
            ),
            "messages.0.content.1.text",
            "undefined variable 'b'",
        ),
        (
            Case.model_validate(
                {
                    "id": "r",
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {
                                    "type": "tool_result",
                                    "tool_use_id": "x",
                                    "content": [{"type": "text", "text": "{{ c }}"}],
                                }
                            ],
                        }
                    ],
                }
            ),
            "messages.0.content.0.content.0.text",
            "undefined variable 'c'",
        ),
        (
            Case.model_validate(
                {
                    "id": "f",
                    "messages": [
                        {"role": "user", "content": [{"type": "image", "path": "/nowhere/x.png"}]}
                    ],
                }
            ),
            "messages.0.content.0.path",
            "image file /nowhere/x.png not found",
        ),
    ],
)
def test_render_errors_name_suite_case_field_and_cause(case: Case, field: str, detail: str) -> None:
    with pytest.raises(RenderError) as info:
        render_case(suite_of(case), case)
    error = info.value
    assert (error.suite, error.case_id, error.field) == ("s", case.id, field)
    assert detail in error.detail
    assert str(error).startswith(f"suite 's', case {case.id!r}: field {field!r}: {detail}")


def test_an_undefined_variable_in_the_prompt_names_the_prompt() -> None:
    case = Case(id="c", input="hi")
    with pytest.raises(RenderError, match=r"field 'prompt': undefined variable 'shop'"):
        render_case(suite_of(case, prompt="For {{ shop }}"), case)


def test_a_case_with_nothing_to_send_outside_its_suite() -> None:
    stray = Case(id="stray", vars={"a": 1})
    suite = suite_of(Case(id="c", input="hi"))
    with pytest.raises(RenderError, match="gives no `input`, `messages` or `turns`"):
        render_case(suite, stray)
