"""Suite files that are wrong are collection errors naming the file, the case and the field."""

from __future__ import annotations

import textwrap

import pytest

from tests.support.plugin import write_suite

GOOD_SUITE = """
    name: good
    prompt: You are a helpful assistant.
    cases:
      - id: one
        input: hello there
        judge: false
        assert:
          - max_chars: 100000
      - id: two
        input: how are you
        judge: false
        assert:
          - max_chars: 100000
"""


def collect_error_text(pytester: pytest.Pytester, *args: str) -> str:
    """Collect only and return the whole output (a collection error is expected)."""
    result = pytester.runpytest("--collect-only", *args)
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    return result.stdout.str()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            """
            name: bad
            description: a suite
            prompt: hi: there
            cases:
              - id: x
                input: hi
            """,
            [
                "*bad.promptopt.yaml:3: invalid YAML: mapping values are not allowed*; "
                "fix the syntax at that line"
            ],
            id="invalid-yaml-line",
        ),
        pytest.param(
            """
            prompt: hi
            colour: red
            cases:
              - id: x
                input: hi
            """,
            [
                "*bad.promptopt.yaml: unknown key(s) 'colour' at the top level; "
                "allowed: name, description, prompt, input, vars, params, tools, tool_choice, "
                "model, target, threshold, criteria, repeats, gate, assert, cases*"
            ],
            id="unknown-top-level-key",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: first
                input: hi
                expcted: hello
            """,
            [
                "*bad.promptopt.yaml:3: case 'first': field 'expcted': unknown key: did you mean "
                "'expected'?; allowed: id, input, messages, turns, vars, expected, category, "
                "threshold, assert, judge, repeats*"
            ],
            id="unknown-case-key",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: first
                input: hi
                assert:
                  - startswith: hi
            """,
            [
                "*bad.promptopt.yaml:3: case 'first': field 'assert.0': "
                "unknown assertion type 'startswith'; allowed: contains, not_contains, "
                "icontains, regex, max_chars, is_json, json_schema*"
            ],
            id="unknown-assertion-type",
        ),
        pytest.param(
            """
            prompt: hi
            threshold: 1.5
            cases:
              - id: first
                input: hi
            """,
            [
                "*bad.promptopt.yaml: field 'threshold': *(got 1.5); "
                "a threshold is a number from 0 to 1"
            ],
            id="suite-threshold-above-1",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: first
                input: hi
              - id: second
                input: hi
                threshold: -0.1
            """,
            [
                "*bad.promptopt.yaml:5: case 'second': field 'threshold': "
                "*(got -0.1); a threshold is a number from 0 to 1"
            ],
            id="case-threshold-below-0",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: same
                input: hi
              - id: same
                input: ho
            """,
            ["*bad.promptopt.yaml: field 'cases': duplicate case id 'same'*unique*"],
            id="duplicate-case-id",
        ),
        pytest.param(
            """
            prompt: prompts/missing.txt
            cases:
              - id: first
                input: hi
            """,
            [
                "*bad.promptopt.yaml: field 'prompt': prompt file 'prompts/missing.txt' not found "
                "(looked for */prompts/missing.txt)*"
            ],
            id="missing-prompt-file",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: lonely
                input: hi
                judge: false
            """,
            [
                "*bad.promptopt.yaml:3: case 'lonely': *"
                "a case with `judge: false` needs at least one `assert` check*"
            ],
            id="judge-false-without-assertions",
        ),
        pytest.param(
            """
            name: greeter
            prompt: "You work for {{ shop }}."
            cases:
              - id: first
                input: hi
                vars: {shop: Northwind}
              - id: second
                input: "Hello {{ name }}"
                vars: {shop: Northwind}
            """,
            [
                "*bad.promptopt.yaml:7: suite 'greeter', case 'second': field 'input': undefined "
                "variable 'name'; define it in the suite's `vars` or the case's `vars` "
                "(defined: shop)"
            ],
            id="undefined-variable",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: chat
                messages:
                  - {role: user, content: hi}
                  - {role: assistant, content: hello}
            """,
            [
                "*bad.promptopt.yaml:3: case 'chat': field 'messages': a conversation must end "
                "with a user turn (the model answers it); add a final "
                "`{role: user, content: ...}` message (models from Claude 4.6 on reject an "
                "assistant-turn prefill with a 400*"
            ],
            id="conversation-ending-with-assistant",
        ),
        pytest.param(
            """
            prompt: hi
            cases:
              - id: pic
                messages:
                  - role: user
                    content: [{type: imag, path: cat.png}]
            """,
            [
                "*bad.promptopt.yaml:3: case 'pic': field 'messages.0.content.0': unknown block "
                "type 'imag': did you mean 'image'?; allowed: text, image, document, tool_use, "
                "tool_result"
            ],
            id="unknown-block-type",
        ),
        pytest.param(
            """
            name: support
            prompt: hi
            criteria: {functionality: 2, tone: {weight: 1}}
            cases:
              - {id: one, input: hi}
            """,
            [
                "*bad.promptopt.yaml: field 'criteria': suite 'support': custom criterion 'tone' "
                "needs a `description` (what the judge scores it on); only the built-ins "
                "functionality, safety, consistency, edge_case_handling go without one"
            ],
            id="custom-criterion-without-description",
        ),
        pytest.param(
            """
            prompt: hi
            criteria: {tone: {description: Warm, scael: binary}}
            cases:
              - {id: one, input: hi}
            """,
            [
                "*bad.promptopt.yaml: field 'criteria.tone.scael': unknown key: did you mean "
                "'scale'?; allowed: weight, description, min, scale"
            ],
            id="unknown-criterion-key",
        ),
    ],
)
def test_bad_suite_is_a_collection_error_that_says_what_is_wrong(
    sim: pytest.Pytester, body: str, expected: list[str]
) -> None:
    write_suite(sim, "bad", body)
    out = collect_error_text(sim)
    pytest.LineMatcher(out.splitlines()).fnmatch_lines(
        ["*ERROR collecting bad.promptopt.yaml*", *expected]
    )
    # One clean line, not a Python traceback.
    assert "Traceback" not in out
    assert "SuiteError" not in out


def test_two_files_with_the_same_suite_name(sim: pytest.Pytester) -> None:
    write_suite(sim, "first", GOOD_SUITE)
    sub = sim.mkdir("sub")
    (sub / "second.promptopt.yaml").write_text(textwrap.dedent(GOOD_SUITE), encoding="utf-8")
    result = sim.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting sub/second.promptopt.yaml*",
            "*sub/second.promptopt.yaml: suite name 'good' is already used by "
            "*first.promptopt.yaml; give one of them a unique `name:`",
        ]
    )


def test_item_ids_are_file_suite_and_case(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", GOOD_SUITE)
    write_suite(
        sim,
        "unnamed",
        """
        prompt: You are a helpful assistant.
        cases:
          - id: only-case
            input: hi
        """,
    )
    result = sim.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "support.promptopt.yaml::good[one]",
            "support.promptopt.yaml::good[two]",
            "unnamed.promptopt.yaml::unnamed[only-case]",  # default name: the file stem
            "3 tests collected*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


def test_a_bad_suite_does_not_stop_the_other_suites(sim: pytest.Pytester) -> None:
    write_suite(sim, "good", GOOD_SUITE)
    write_suite(
        sim,
        "broken",
        """
        prompt: hi
        cases:
          - id: x
            input: hi
            threshold: 2
        """,
    )
    sim.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = sim.runpytest("--continue-on-collection-errors")
    result.assert_outcomes(errors=1, passed=3)
    result.stdout.fnmatch_lines(["*broken.promptopt.yaml:3: case 'x': field 'threshold'*"])


def test_without_continue_on_collection_errors_pytest_stops_as_usual(sim: pytest.Pytester) -> None:
    """pytest's own rule (exit codes are pytest's own): a collection error interrupts the run."""
    write_suite(sim, "good", GOOD_SUITE)
    write_suite(sim, "broken", "prompt: hi\ncases: []\n")
    result = sim.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*broken.promptopt.yaml: field 'cases' is missing or empty; add at least one case*"]
    )


def test_last_failed_reruns_only_the_failed_cases(sim: pytest.Pytester) -> None:
    sim.makefile(
        ".promptopt.yaml",
        lf="""
        prompt: 'You reply with valid JSON only: an object with keys "answer" and "sentiment".'
        cases:
          - {id: json-ok, input: hi, judge: false, assert: [{is_json: true}]}
          - {id: sql-no, input: hi, judge: false, assert: [{regex: "^SELECT"}]}
        """,
    )
    first = sim.runpytest()
    first.assert_outcomes(passed=1, failed=1)
    again = sim.runpytest("--lf")
    again.assert_outcomes(failed=1)  # pytest 9.2 parses stored ids: they must match ours
    again.stdout.no_fnmatch_line("*known failures not in selected tests*")


def _files_case(pytester: pytest.Pytester, block: str) -> None:
    write_suite(
        pytester,
        "bad",
        f"""
        prompt: Describe what you are shown.
        cases:
          - id: shown
            messages:
              - role: user
                content:
                  - {block}
                  - {{type: text, text: What is this?}}
        """,
    )


@pytest.mark.parametrize(
    ("files", "block", "expected"),
    [
        pytest.param(
            {},
            "{type: image, path: img/cat.png}",
            "*bad.promptopt.yaml:3: suite 'bad', case 'shown': field 'messages.0.content.0.path': "
            "image file */img/cat.png not found; put the file there or fix `path` (relative to "
            "the suite file)",
            id="missing-image",
        ),
        pytest.param(
            {"img/cat.bmp": b"BM\x36\x00\x00\x00"},
            "{type: image, path: img/cat.bmp}",
            "*bad.promptopt.yaml:3: suite 'bad', case 'shown': field 'messages.0.content.0.path': "
            "image file */img/cat.bmp is not a supported image (by its first bytes); images may "
            "be png, jpeg, gif or webp",
            id="unsupported-type",
        ),
        pytest.param(
            {"docs/notes.docx": b"PK\x03\x04"},
            "{type: document, path: docs/notes.docx}",
            "*field 'messages.0.content.0.path': document file */docs/notes.docx is of an "
            "unsupported type; documents may be PDF (by their first bytes) or plain text "
            "(.txt, .md files)",
            id="unsupported-document",
        ),
        pytest.param(
            {"big.png": (b"\x89PNG\r\n\x1a\n", 6 * 1024 * 1024)},
            "{type: image, path: big.png}",
            "*field 'messages.0.content.0.path': png image */big.png is 6.0 MB, 8.0 MB once "
            "base64-encoded; the API takes an image up to 5.0 MB encoded (about 3.8 MB of "
            "file); make it smaller",
            id="oversized-image",
        ),
    ],
)
def test_bad_image_or_document_is_a_collection_error(
    sim: pytest.Pytester,
    files: dict[str, bytes | tuple[bytes, int]],
    block: str,
    expected: str,
) -> None:
    for name, content in files.items():
        path = sim.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data, size = content if isinstance(content, tuple) else (content, None)
        with path.open("wb") as fh:
            fh.write(data)
            if size is not None:
                fh.truncate(size)  # sparse: no 6 MB written to disk
    _files_case(sim, block)
    out = collect_error_text(sim)
    pytest.LineMatcher(out.splitlines()).fnmatch_lines(
        ["*ERROR collecting bad.promptopt.yaml*", expected]
    )
    assert "Traceback" not in out


def test_a_suite_with_a_good_image_collects(sim: pytest.Pytester) -> None:
    (sim.path / "img").mkdir()
    (sim.path / "img" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    _files_case(sim, "{type: image, path: img/cat.png}")
    result = sim.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["bad.promptopt.yaml::bad[shown]", "1 test collected*"])


def test_a_bad_csv_row_names_the_case_file_and_line(sim: pytest.Pytester) -> None:
    (sim.path / "cases.csv").write_text(
        'id,input,expected\nok,"Hello, there",A greeting\nbad,Hi, you,A greeting\n',
        encoding="utf-8",
    )
    write_suite(sim, "bad", "prompt: Be brief.\ncases: cases.csv\n")
    out = collect_error_text(sim)
    pytest.LineMatcher(out.splitlines()).fnmatch_lines(
        [
            "*ERROR collecting bad.promptopt.yaml*",
            "*/cases.csv:3: the row has 4 cells but the header has 3 columns; quote cells that "
            "hold commas, and give every row every column",
        ]
    )


def test_an_unknown_column_mapping_target_suggests_the_field(sim: pytest.Pytester) -> None:
    (sim.path / "qa.csv").write_text("question,answer\nWhat is 2+2?,4\n", encoding="utf-8")
    write_suite(
        sim,
        "bad",
        """
        input: "Q: {{ question }}"
        cases: {file: qa.csv, columns: {answer: expectd}}
        """,
    )
    out = collect_error_text(sim)
    pytest.LineMatcher(out.splitlines()).fnmatch_lines(
        [
            "*bad.promptopt.yaml: field 'cases': `columns` maps 'answer' to 'expectd', which is "
            "not a case field: did you mean 'expected'?; allowed: id, input, expected, category, "
            "threshold, cluster",
        ]
    )


def test_csv_cases_collect_with_their_ids(sim: pytest.Pytester) -> None:
    (sim.path / "qa.csv").write_text(
        "id,question,answer\nsum,What is 2+2?,4\n,Capital of France?,Paris\n", encoding="utf-8"
    )
    write_suite(
        sim,
        "qa",
        """
        input: "Q: {{ question }}"
        cases: {file: qa.csv, columns: {answer: expected}}
        """,
    )
    result = sim.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["qa.promptopt.yaml::qa[sum]", "qa.promptopt.yaml::qa[qa-2]", "2 tests collected*"]
    )
