"""Issue 18, finding 1: a suite reads only regular files inside the rootdir or allowed folders."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

import pytest_promptopt
from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.confine import FileRoots
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.media import FileProblem, load_file
from pytest_promptopt.suites.render import render_case
from pytest_promptopt.suites.spec import Case, Suite

CASES = "cases:\n  - {id: a, input: hi, judge: false, assert: [{contains: x}]}\n"


def project(tmp_path: Path) -> Path:
    """A rootdir `proj/` inside tmp_path, so tmp_path itself is outside it."""
    root = tmp_path / "proj"
    (root / "suites").mkdir(parents=True)
    return root


def suite_in(root: Path, body: str) -> Path:
    path = root / "suites" / "s.promptopt.yaml"
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def load_error(path: Path, root: Path, *allowed: Path) -> str:
    with pytest.raises(SuiteError) as info:
        load_suite(path, FileRoots.of([root, *allowed]))
    return str(info.value)


@pytest.mark.parametrize(
    "prompt", ["/proc/self/environ", "../../../../../../../../etc/passwd", "/etc/hostname"]
)
def test_a_prompt_outside_the_rootdir_is_refused(tmp_path: Path, prompt: str) -> None:
    root = project(tmp_path)
    path = suite_in(root, f"prompt: {prompt}\n{CASES}")
    message = load_error(path, root)
    resolved = Path(prompt if prompt.startswith("/") else "/etc/passwd").resolve()
    assert message.startswith(f"{path}: field 'prompt': prompt file {prompt!r}")
    assert f"resolves to {resolved}, outside the folders suites may read ({root})" in message
    assert "add its folder to promptopt_allowed_paths" in message
    assert "PATH=" not in message  # nothing of the file was read


def test_a_prompt_symlinked_out_of_the_rootdir_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("SECRET prompt")
    (root / "suites" / "p.txt").symlink_to(outside)
    message = load_error(suite_in(root, f"prompt: p.txt\n{CASES}"), root)
    assert f"resolves to {outside.resolve()}, outside the folders" in message


def test_an_allowed_folder_may_be_read(tmp_path: Path) -> None:
    root = project(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "p.txt").write_text("You are terse.")
    path = suite_in(root, f"prompt: ../../shared/p.txt\n{CASES}")
    assert "outside the folders" in load_error(path, root)
    suite = load_suite(path, FileRoots.of([root, shared]))
    assert suite.prompt == "You are terse."
    public = pytest_promptopt.load_suite(path, allowed_paths=[root, shared])  # the Python API
    assert public.prompt == "You are terse."


def test_a_variant_prompt_and_a_case_file_are_confined_too(tmp_path: Path) -> None:
    root = project(tmp_path)
    outside = tmp_path / "rows.jsonl"
    outside.write_text('{"id": "x", "input": "hi"}\n')
    variant = suite_in(
        root, f"prompt: hi\nvariants:\n  v1: {{}}\n  v2: {{prompt: /etc/hostname}}\n{CASES}"
    )
    assert "field 'variants.v2.prompt': prompt file '/etc/hostname' resolves to" in load_error(
        variant, root
    )
    casefile = suite_in(root, f"prompt: hi\ncases: {outside}\n")
    message = load_error(casefile, root)
    assert f"field 'cases': case file {str(outside)!r} resolves to {outside.resolve()}" in message


def test_a_jsonl_document_symlinked_to_proc_environ_is_refused(tmp_path: Path) -> None:
    """The issue's reproduction: `/proc` files report size 0, so a size check alone passes."""
    root = project(tmp_path)
    media = root / "suites" / "media"
    media.mkdir()
    (media / "env.txt").symlink_to("/proc/self/environ")
    row = {
        "id": "leak",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Summarise the document"},
            {"type": "document", "path": "media/env.txt"},
        ]}],
        "judge": False,
        "assert": [{"contains": "x"}],
    }  # fmt: skip
    (root / "suites" / "rows.jsonl").write_text(json.dumps(row) + "\n")
    path = suite_in(root, "prompt: hi\ncases: rows.jsonl\n")
    message = load_error(path, root)
    assert f"{path} (case file {root / 'suites' / 'rows.jsonl'}:1): case 'leak'" in message
    assert "field 'messages.0.content.1.path': document file 'media/env.txt'" in message
    assert "resolves to /proc/" in message and "environ" in message
    # Allowing the whole filesystem still does not read a kernel file.
    assert "resolves to /proc/" in load_error(path, root, Path("/"))


def test_devices_fifos_and_folders_are_not_files(tmp_path: Path) -> None:
    root = project(tmp_path)
    suites = root / "suites"
    os.mkfifo(suites / "pipe.txt")
    (suites / "dir.txt").mkdir()
    (suites / "null.txt").symlink_to("/dev/null")
    for name, problem in (
        ("pipe.txt", "which is not a regular file"),
        ("dir.txt", "which is not a regular file"),
        ("null.txt", "resolves to /dev/null, outside"),
    ):
        message = load_error(suite_in(root, f"prompt: {name}\n{CASES}"), root)
        assert problem in message, message
    os.mkfifo(suites / "pipe.csv")  # read, it would block collection forever
    message = load_error(suite_in(root, "prompt: hi\ncases: pipe.csv\n"), root)
    assert "field 'cases': case file 'pipe.csv' resolves to" in message
    assert "which is not a regular file" in message


def test_a_nul_byte_in_a_path_is_a_clear_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    path = suite_in(root, f'prompt: "a\\x00.txt"\n{CASES}')
    message = load_error(path, root)
    assert "field 'prompt': the path 'a\\x00.txt' holds a NUL byte" in message
    image = suite_in(
        root,
        "prompt: hi\ncases:\n  - id: a\n    messages: [{role: user, content: "
        '[{type: image, path: "x\\x00.png"}]}]\n',
    )
    assert "field 'messages.0.content.0.path': the path 'x\\x00.png' holds a NUL" in load_error(
        image, root
    )


def test_a_missing_file_inside_is_still_reported_as_missing(tmp_path: Path) -> None:
    root = project(tmp_path)
    message = load_error(suite_in(root, f"prompt: prompts/none.txt\n{CASES}"), root)
    assert "prompt file 'prompts/none.txt' not found (looked for" in message


def test_python_api_media_refuses_kernel_files(tmp_path: Path) -> None:
    """A `Case` built in Python is not confined to a folder, but never reads /proc or devices."""
    link = tmp_path / "env.txt"
    link.symlink_to("/proc/self/environ")
    with pytest.raises(FileProblem, match="a kernel file"):
        load_file(str(link), "document")
    suite = Suite(
        name="api",
        prompt="hi",
        cases=[Case(id="a", messages=[{"role": "user", "content": [
            {"type": "document", "path": str(link)}]}])],
    )  # fmt: skip
    with pytest.raises(SuiteError, match="kernel file"):
        render_case(suite, suite.cases[0])


def test_promptopt_allowed_paths_is_read_relative_to_the_rootdir(tmp_path: Path) -> None:
    from pytest_promptopt.errors import ConfigError
    from pytest_promptopt.settings import resolve_settings

    root = project(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "more").mkdir()
    ini = {"promptopt_allowed_paths": ["../shared", str(tmp_path / "more"), ""]}
    settings = resolve_settings(root, {}.get, ini.get)
    assert settings.allowed_paths == (
        (tmp_path / "shared").resolve(),
        (tmp_path / "more").resolve(),
    )
    assert settings.public_dict()["allowed_paths"] == [str(p) for p in settings.allowed_paths]
    flag = {"promptopt_allowed_paths": os.pathsep.join(["../shared", "../more"])}
    assert resolve_settings(root, flag.get, {}.get).allowed_paths == settings.allowed_paths
    assert resolve_settings(root, {}.get, {}.get).allowed_paths == ()
    for bad, problem in ((["../none"], "is not a folder"), (["a\x00b"], "holds a NUL byte")):
        with pytest.raises(ConfigError, match=rf"promptopt_allowed_paths \(ini\): .*{problem}"):
            resolve_settings(root, {}.get, {"promptopt_allowed_paths": bad}.get)
