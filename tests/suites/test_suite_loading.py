"""Loading renders every case once: undefined vars, bad files and typos are collection errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_promptopt
from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.spec import FileBlock
from tests.suites.suite_files import FileMaker


def suite_at(root: Path, body: str, name: str = "s") -> Path:
    """`<name>.promptopt.yaml` under root holding the dedented body."""
    path = root / f"{name}.promptopt.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    """The SuiteError message of loading the suite at path."""
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return str(info.value)


def test_an_undefined_variable_names_file_line_suite_case_field_and_variable(
    tmp_path: Path,
) -> None:
    path = suite_at(
        tmp_path,
        """
        name: greeter
        prompt: "You work for {{ shop }}."
        vars: {shop: Northwind}
        cases:
          - id: fine
            input: "Hi from {{ city }}"
            vars: {city: Oslo}
          - id: broken
            input: "Hi from {{ city }}"
        """,
    )
    assert error_of(path) == (
        f"{path}:8: suite 'greeter', case 'broken': field 'input': undefined variable 'city'; "
        "define it in the suite's `vars` or the case's `vars` (defined: shop)"
    )


def test_at_most_five_render_errors_are_listed(tmp_path: Path) -> None:
    cases = "".join(f"  - {{id: c{n}, input: '{{{{ nope }}}}'}}\n" for n in range(8))
    path = suite_at(tmp_path, "prompt: hi\ncases:\n" + cases)
    lines = error_of(path).splitlines()
    assert len(lines) == 6
    assert lines[0].startswith(f"{path}:3: suite 's', case 'c0': field 'input'")
    assert lines[4].startswith(f"{path}:7: suite 's', case 'c4'")
    assert lines[5] == "(and 3 more cases)"


def test_a_template_syntax_error_in_the_prompt_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "bot.txt").write_text("Hello\n{% if vip %}VIP", encoding="utf-8")
    path = suite_at(tmp_path, "prompt: prompts/bot.txt\ncases:\n  - {id: a, input: hi}\n")
    assert error_of(path).startswith(
        f"{path}: field 'prompt' ({tmp_path / 'prompts' / 'bot.txt'}): invalid template: "
        "Unexpected end of template. Jinja was looking for the following tags: 'elif' or "
        "'else' or 'endif'."
    )
    bad_input = suite_at(tmp_path, "input: '{{ x'\ncases:\n  - {id: a, vars: {x: 1}}\n", "t")
    assert error_of(bad_input).startswith(f"{bad_input}: field 'input': invalid template: ")


def test_file_paths_are_resolved_against_the_suite_file(
    tmp_path: Path, make_file: FileMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_file("suites/img/cat.png", "png")
    make_file("suites/docs/spec.pdf", "pdf")
    path = suite_at(
        tmp_path / "suites",
        """
        prompt: Describe.
        cases:
          - id: pic
            messages:
              - role: user
                content:
                  - {type: image, path: img/cat.png}
                  - {type: document, path: ../suites/docs/spec.pdf}
                  - {type: text, text: What is this?}
        """,
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: the suite's directory is what counts
    suite = pytest_promptopt.load_suite(str(path))
    content = suite.cases[0].messages[0].content  # type: ignore[index]
    assert [b.path for b in content if isinstance(b, FileBlock)] == [  # type: ignore[union-attr]
        str(tmp_path / "suites" / "img" / "cat.png"),
        str(tmp_path / "suites" / "docs" / "spec.pdf"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{type: image, path: img/none.png}", "image file {root}/img/none.png not found"),
        ("{type: image, path: notes.txt}", "image file {root}/notes.txt is not a supported image"),
        ("{type: document, path: big.pdf}", "PDF {root}/big.pdf is 30.0 MB, 40.0 MB once"),
    ],
)
def test_bad_files_are_load_errors_naming_the_case_and_path(
    tmp_path: Path, make_file: FileMaker, content: str, message: str
) -> None:
    make_file("notes.txt", b"text")
    make_file("big.pdf", "pdf", size=30 * 1024 * 1024)
    path = suite_at(
        tmp_path,
        f"""
        prompt: hi
        cases:
          - id: f
            messages:
              - role: user
                content: [{content}]
        """,
    )
    assert error_of(path).startswith(
        f"{path}:3: suite 's', case 'f': field 'messages.0.content.0.path': "
        + message.format(root=tmp_path)
    )


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            "[{role: user, content: [{type: imge, path: a.png}]}]",
            "field 'messages.0.content.0': unknown block type 'imge': did you mean 'image'?; "
            "allowed: text, image, document, tool_use, tool_result",
        ),
        (
            "[{role: user, content: [{type: image, pth: a.png}]}]",
            "field 'messages.0.content.0.pth': unknown key: did you mean 'path'?; "
            "allowed: type, path",
        ),
        (
            "[{role: user, content: [{type: tool_use, id: t, name: n, inptu: {}}]}]",
            "field 'messages.0.content.0.inptu': unknown key: did you mean 'input'?; "
            "allowed: type, id, name, input",
        ),
        (
            "[{role: user, content: [{type: tool_result, tool_use_id: t, "
            "content: [{type: text, txt: x}]}]}]",
            "field 'messages.0.content.0.content.0.txt': unknown key: did you mean 'text'?; "
            "allowed: type, text",
        ),
        (
            "[{role: user, content: [{text: hi}]}]",
            "field 'messages.0.content.0': a content block needs a `type`: one of text, image",
        ),
        (
            "[{role: usr, content: hi}]",
            "field 'messages.0.role': unknown role 'usr': did you mean 'user'?; "
            "allowed: user, assistant",
        ),
        (
            "[{role: user, contnt: hi}]",
            "field 'messages.0.contnt': unknown key: did you mean 'content'?; "
            "allowed: role, content",
        ),
        ("[{role: user, content: 42}]", "field 'messages.0.content': takes text or a list"),
        (
            "[{role: user, content: hi}, {role: assistant, content: ho}]",
            "field 'messages': a conversation must end with a user turn",
        ),
    ],
)
def test_message_and_block_mistakes_say_what_is_allowed(
    tmp_path: Path, messages: str, message: str
) -> None:
    path = suite_at(tmp_path, f"prompt: hi\ncases:\n  - id: m\n    messages: {messages}\n")
    error = error_of(path)
    assert any(line.startswith(f"{path}:3: case 'm': {message}") for line in error.splitlines())
    assert "str" not in error.split("field ")[1].split(":")[0]  # no pydantic union member names


def test_the_suites_layer_imports_neither_pytest_nor_the_database_nor_the_sdk() -> None:
    code = (
        "import sys\n"
        "import pytest_promptopt.suites.loader, pytest_promptopt.suites.render\n"
        "import pytest_promptopt.suites.spec\n"
        "print(sorted(m for m in ('pytest', '_pytest', 'sqlalchemy', 'anthropic', 'httpx')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spec_does_not_import_yaml_or_jinja2_until_a_file_is_loaded() -> None:
    code = (
        "import sys\n"
        "import pytest_promptopt.suites.spec\n"
        "print('yaml' in sys.modules, 'jinja2' in sys.modules,"
        " 'pytest_promptopt.suites.loader' in sys.modules)\n"
        "import pytest_promptopt\n"
        "print(callable(pytest_promptopt.load_suite), 'yaml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False", "True", "True"]


def test_a_null_case_and_a_bad_gate_are_load_errors(tmp_path: Path) -> None:
    assert "case '#1': field '(case)'" in error_of(suite_at(tmp_path, "prompt: p\ncases: [null]\n"))
    bad_gate = suite_at(tmp_path, "prompt: p\ngate: safety\ncases: [{id: a, input: hi}]\n", "g")
    assert "field 'gate'" in error_of(bad_gate)
