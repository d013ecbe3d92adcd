"""Case files beside the suite: JSONL, CSV and YAML rows, column mapping, errors with lines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import pytest_promptopt
from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.render import render_case


def write(root: Path, name: str, text: str) -> Path:
    """A dedented text file under root."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def suite_file(root: Path, cases: str, head: str = "prompt: Be brief.") -> Path:
    """`s.promptopt.yaml` with `head` and the given `cases:` value."""
    return write(root, "s.promptopt.yaml", f"{head}\ncases: {cases}\n")


def error_of(path: Path) -> str:
    """The SuiteError message of loading the suite at path."""
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return str(info.value)


def test_jsonl_rows_are_case_mappings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "cases/qa.jsonl",
        """
        {"id": "a", "input": "2+2?", "expected": "4", "category": "math", "threshold": 0.9}

        {"input": "Capital of {{ country }}?", "vars": {"country": "France"}}
        """,
    )
    suite = load_suite(suite_file(tmp_path, "{file: cases/qa.jsonl, templated: true}"))
    assert [c.id for c in suite.cases] == ["a", "qa-2"]  # <file stem>-<row number>
    a, second = suite.cases
    assert (a.input, a.expected, a.category, a.threshold) == ("2+2?", "4", "math", 0.9)
    assert render_case(suite, second).messages == [
        {"role": "user", "content": "Capital of France?"}
    ]


def test_csv_columns_are_fields_every_other_column_a_var(tmp_path: Path) -> None:
    write(
        tmp_path,
        "qa.csv",
        """
        id,input,expected,category,threshold,tone,city
        one,"Hello, {{ city }}",Greets {{ city }},greeting,0.8,warm,Paris
        ,Plain,,,,,
        """,
    )
    suite = load_suite(
        suite_file(
            tmp_path,
            "{file: qa.csv, templated: true}",
            "prompt: 'Be {{ tone | default(\"calm\") }}'",
        )
    )
    one, two = suite.cases
    assert (one.id, one.input, one.expected, one.category, one.threshold) == (
        "one",
        "Hello, {{ city }}",
        "Greets {{ city }}",
        "greeting",
        0.8,
    )
    assert one.vars == {"tone": "warm", "city": "Paris"}
    # empty cells are absent fields: defaults apply, no var is set
    assert (two.id, two.expected, two.category, two.threshold, two.vars) == (
        "qa-2",
        None,
        "general",
        None,
        {},
    )
    assert render_case(suite, one).system == "Be warm"
    assert render_case(suite, two).system == "Be calm"
    assert render_case(suite, one).expected == "Greets Paris"


def test_csv_with_a_bom_and_quoted_multiline_cells_keeps_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(
        '\ufeffid,input,threshold\na,"line one\nline two",0.5\nb,ok,high\n', encoding="utf-8"
    )
    message = error_of(suite_file(tmp_path, "m.csv"))
    assert message == (
        f"{tmp_path / 'm.csv'}:4: column 'threshold': 'high' is not a number; "
        "a threshold is a number from 0 to 1"
    )


def test_a_csv_row_with_too_many_cells_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.csv", "id,input\na,hi\nb,hi, there\n")
    assert error_of(suite_file(tmp_path, "bad.csv")) == (
        f"{tmp_path / 'bad.csv'}:3: the row has 3 cells but the header has 2 columns; "
        "quote cells that hold commas, and give every row every column"
    )


def test_promptfoo_style_csv_with_a_column_mapping(tmp_path: Path) -> None:
    write(
        tmp_path,
        "promptfoo.csv",
        """
        question,__expected,__description
        What is the capital of France?,Paris,capital check
        """,
    )
    suite = load_suite(
        suite_file(
            tmp_path,
            "{file: promptfoo.csv, columns: {__expected: expected}}",
            "input: 'Q: {{ question }}'",
        )
    )
    (case,) = suite.cases
    assert case.expected == "Paris"
    assert case.vars == {
        "question": "What is the capital of France?",
        "__description": "capital check",
    }
    assert render_case(suite, case).messages == [
        {"role": "user", "content": "Q: What is the capital of France?"}
    ]


def test_inspect_style_jsonl_maps_target_to_expected(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "input": "Say hi", "target": "hi", "metadata": {"lang": "en"}},
        {"input": "Say bye", "target": "bye", "metadata": {}},
    ]
    (tmp_path / "inspect.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = load_suite(
        suite_file(tmp_path, "{file: inspect.jsonl, columns: {target: expected, metadata: vars}}")
    )
    assert [(c.id, c.input, c.expected, c.vars) for c in suite.cases] == [
        ("1", "Say hi", "hi", {"lang": "en"}),  # inspect's integer ids become strings
        ("inspect-2", "Say bye", "bye", {}),
    ]


def test_a_yaml_case_file_with_an_error_names_its_own_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "cases.yaml",
        """
        - id: ok
          input: hi
        - input: hello
          expcted: a greeting
        """,
    )
    assert error_of(suite_file(tmp_path, "cases.yaml")) == (
        f"{tmp_path / 'cases.yaml'}:3: case 'cases-2': field 'expcted': unknown key: "
        "did you mean 'expected'?; allowed: id, input, messages, turns, vars, expected, "
        "category, threshold, assert, judge, repeats, min_passes, flaky, cluster, tool_results, "
        "max_steps, user"
    )


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "e.jsonl", '{"id": "a", "input": "x"}\n\n{"id": "b", "input": }\n')
    assert error_of(suite_file(tmp_path, "e.jsonl")) == (
        f"{path}:3: invalid JSON: Expecting value (column 22); "
        "a JSONL file holds one JSON object per line"
    )
    write(tmp_path, "e.jsonl", '{"id": "a", "input": "x"}\n["not", "a", "case"]\n')
    assert error_of(suite_file(tmp_path, "e.jsonl")) == (
        f"{path}:2: a row must be a case mapping (id, input, expected, ...); got list"
    )
    write(
        tmp_path,
        "e.jsonl",
        '{"id": "a", "input": "x"}\n{"id": "b", "input": "x", "threshold": 3}\n',
    )
    assert error_of(suite_file(tmp_path, "e.jsonl")).startswith(
        f"{path}:2: case 'b': field 'threshold': "
    )


def test_a_renamed_key_given_twice_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", '{"input": "x", "target": "a", "expected": "b"}\n')
    assert error_of(suite_file(tmp_path, "{file: d.jsonl, columns: {target: expected}}")) == (
        f"{path}:1: the row gives 'expected' twice (once through `columns`); keep one"
    )


@pytest.mark.parametrize(
    ("files", "cases", "message"),
    [
        (
            {"q.csv": "question,answer\nhi,ho\n"},
            "{file: q.csv, columns: {answer: expect}}",
            "field 'cases': `columns` maps 'answer' to 'expect', which is not a case field: "
            "did you mean 'expected'?; allowed: id, input, expected, category, threshold, cluster",
        ),
        (
            {"q.csv": "question,answer\nhi,ho\n"},
            "{file: q.csv, columns: {anwser: expected}}",
            "field 'cases': `columns` maps 'anwser', which q.csv does not have: did you mean "
            "'answer'?; its columns: answer, question",
        ),
        (
            {"q.jsonl": '{"question": "hi"}\n'},
            "{file: q.jsonl, columns: {qestion: input}}",
            "field 'cases': `columns` maps 'qestion', which q.jsonl does not have: did you mean "
            "'question'?; its columns: question",
        ),
        (
            {"q.jsonl": '{"question": "hi"}\n'},
            "{file: q.jsonl, columns: {question: inputs}}",
            "which is not a case field: did you mean 'input'?; allowed: id, input, messages",
        ),
        (
            {"q.csv": "input\nhi\n"},
            "{file: q.csv, colums: {a: b}}",
            "field 'cases': unknown key 'colums': did you mean 'columns'?; a case file reference "
            "is `{file: cases.csv, columns: {their_name: our_field}, templated: false}`",
        ),
        ({}, "{columns: {a: input}}", "field 'cases': `file` must name the case file"),
        ({}, "{file: q.csv, columns: [a, b]}", "`columns` maps column names to case fields"),
        (
            {},
            "missing.csv",
            "field 'cases': case file 'missing.csv' not found (looked for ",
        ),
        ({}, "cases.txt", "field 'cases': case file 'cases.txt' must end with .jsonl, .csv"),
    ],
)
def test_bad_references_and_mappings_name_the_suite_file(
    tmp_path: Path, files: dict[str, str], cases: str, message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    suite = suite_file(tmp_path, cases)
    error = error_of(suite)
    assert error.startswith(f"{suite}: ")
    assert message in error


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("e.csv", "", ": the CSV file is empty; its first row names the columns"),
        ("e.csv", "id,input\n", ": the case file has no cases; add at least one"),
        ("e.jsonl", "\n\n", ": the case file has no cases; add at least one"),
        ("e.yaml", "", ": the case file has no cases; add at least one"),
        ("e.yaml", "id: x\n", ": a YAML case file is a list of case mappings; got dict"),
        ("e.yaml", "- id: [x\n", ":2: invalid YAML: "),
        ("e.csv", "id,input,input\na,b,c\n", ":1: the header has a second column 'input'"),
        ("e.csv", "id,,input\na,b,c\n", ":1: the header has an empty column name"),
        ("e.csv", 'id,input\na,"open\n', ":2: invalid CSV: unexpected end of data"),
    ],
)
def test_bad_case_files_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    error = error_of(suite_file(tmp_path, name))
    assert error.startswith(f"{tmp_path / name}{message}")


def test_a_csv_column_that_looks_like_a_misspelt_field_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "input,expcted\nhi,a greeting\n")
    assert error_of(suite_file(tmp_path, "t.csv")) == (
        f"{tmp_path / 't.csv'}:1: column 'expcted': did you mean 'expected'? (as it is, it is a "
        "var no template uses); rename it, or map it with `columns: {expcted: expected}`"
    )


def test_a_near_miss_column_a_template_uses_is_a_var(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "input,categry\nhi,x\n")
    suite = load_suite(suite_file(tmp_path, "t.csv", "prompt: 'Topic {{ categry }}'"))
    assert suite.cases[0].vars == {"categry": "x"}
    write(tmp_path, "t.csv", "input,categry\n{{ categry }},x\n")  # used by the row's own input
    templated = suite_file(tmp_path, "{file: t.csv, templated: true}")
    assert load_suite(templated).cases[0].vars == {"categry": "x"}


def test_image_paths_in_a_case_file_are_relative_to_the_suite_file(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n1234")
    row = {
        "id": "pic",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "path": "img/a.png"},
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
    }
    write(tmp_path, "data/rows.jsonl", json.dumps(row) + "\n")
    suite = pytest_promptopt.load_suite(suite_file(tmp_path, "data/rows.jsonl"))
    block = suite.cases[0].messages[0].content[0]  # type: ignore[index]
    assert block.path == str(tmp_path / "img" / "a.png")  # type: ignore[union-attr]


def test_a_cases_list_mixes_inline_cases_and_case_files_in_order(tmp_path: Path) -> None:
    write(tmp_path, "orders.csv", "id,input,order\nfirst,Where is {{ order }}?,1001\n")
    write(
        tmp_path,
        "s.promptopt.yaml",
        """
        prompt: Be brief.
        cases:
          - id: before
            input: Hello
          - {file: orders.csv, templated: true}
          - id: after
            turns: [Hi, Bye]
        """,
    )
    suite = load_suite(tmp_path / "s.promptopt.yaml")
    assert [c.id for c in suite.cases] == ["before", "first", "after"]
    assert render_case(suite, suite.case("first")).messages[0]["content"] == "Where is 1001?"


def test_a_bad_case_file_inside_a_cases_list_is_named(tmp_path: Path) -> None:
    write(tmp_path, "s.promptopt.yaml", "prompt: Be brief.\ncases:\n  - file: missing.csv\n")
    assert "case file 'missing.csv' not found" in error_of(tmp_path / "s.promptopt.yaml")


def test_case_file_cells_are_sent_as_written(tmp_path: Path) -> None:
    # Issue 18, finding 7: a CSV from a ticket system had its cells rendered as templates.
    ticket = "My CSS rule a{#x} {# broken #} does not work"
    quoting = "The page shows {{ user.name }} instead of my name"
    write(
        tmp_path,
        "tickets.csv",
        f'id,input,expected\ncss,"{ticket}",Explains the rule\nquote,"{quoting}",Says why\n',
    )
    suite = load_suite(suite_file(tmp_path, "tickets.csv"))
    assert render_case(suite, suite.case("css")).messages == [{"role": "user", "content": ticket}]
    assert render_case(suite, suite.case("quote")).messages[0]["content"] == quoting
    assert render_case(suite, suite.case("css")).expected == "Explains the rule"


def test_jsonl_and_yaml_case_file_texts_are_data(tmp_path: Path) -> None:
    row = {
        "id": "j",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "{{ nope }} {%"}]}],
        "expected": "{{ also_not_a_var }}",
    }
    write(tmp_path, "rows.jsonl", json.dumps(row) + "\n")
    write(tmp_path, "rows.yaml", "- {id: y, turns: ['{{ a }}', '{% if %}']}\n")
    suite = load_suite(
        write(
            tmp_path,
            "s.promptopt.yaml",
            "prompt: Be brief.\ncases:\n  - file: rows.jsonl\n  - file: rows.yaml\n",
        )
    )
    j = render_case(suite, suite.case("j"))
    assert j.messages[0]["content"] == [{"type": "text", "text": "{{ nope }} {%"}]
    assert j.expected == "{{ also_not_a_var }}"
    assert render_case(suite, suite.case("y")).turns == ("{{ a }}", "{% if %}")


def test_a_case_file_var_is_data_inside_the_suites_own_input_template(tmp_path: Path) -> None:
    write(tmp_path, "riddles.csv", 'riddle\n"What is {{ this }}? {# not a comment #}"\n')
    suite = load_suite(
        suite_file(tmp_path, "riddles.csv", "prompt: Be brief.\ninput: 'Riddle: {{ riddle }}'")
    )
    assert render_case(suite, suite.cases[0]).messages[0]["content"] == (
        "Riddle: What is {{ this }}? {# not a comment #}"
    )


def test_templated_true_opts_in_and_is_checked(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "input,city\nHello {{ city }},Oslo\n")
    suite = load_suite(suite_file(tmp_path, "{file: t.csv, templated: true}"))
    assert render_case(suite, suite.cases[0]).messages[0]["content"] == "Hello Oslo"
    assert "`templated` takes true" in error_of(suite_file(tmp_path, "{file: t.csv, templated: 1}"))
