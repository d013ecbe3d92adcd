"""Reads `*.promptopt.yaml` files into Suites; every mistake is a SuiteError with the fix."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites import SUITE_SUFFIXES
from pytest_promptopt.suites.agent import tool_functions
from pytest_promptopt.suites.callables import resolve
from pytest_promptopt.suites.casefiles import Row, inline_rows, read_case_file
from pytest_promptopt.suites.confine import FileRoots
from pytest_promptopt.suites.describe import describe
from pytest_promptopt.suites.render import RenderError, render_case
from pytest_promptopt.suites.spec import NO_SUITE_CHECKS, SUITE_KEYS, Suite, did_you_mean
from pytest_promptopt.suites.templates import TemplateError, placeholders
from pytest_promptopt.suites.yaml_lines import load_yaml, read_text, strip_lines

PROMPT_FILE_SUFFIXES = (".txt", ".md", ".prompt", ".j2", ".jinja", ".tmpl")
SUITE_TEMPLATES = ("prompt", "input")
MAX_RENDER_ERRORS = 5


def default_suite_name(path: Path) -> str:
    """The file stem without the `.promptopt` part."""
    name = path.name
    for suffix in SUITE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_suite(
    path: str | os.PathLike[str],
    roots: FileRoots | None = None,
    *,
    allowed_paths: Sequence[str | os.PathLike[str]] | None = None,
) -> Suite:
    """Parse, validate and render one suite file, checked as at collection (for a parametrized
    test: `pytest_promptopt.load_suite`); raises SuiteError naming file, case and field.

    Every file the suite names must lie in `allowed_paths` (the plugin passes `roots`: the
    rootdir and `promptopt_allowed_paths`); the default is the current directory and the
    suite file's folder.
    """
    path = Path(path)
    if roots is None and allowed_paths is not None:
        roots = FileRoots.of(allowed_paths)
    raw = load_yaml(path, read_text(path, "suite file"))
    if not isinstance(raw, dict):
        raise SuiteError(
            f"{path}: a suite file must be a YAML mapping with keys such as "
            f"{', '.join(SUITE_KEYS)}; got {type(raw).__name__}",
            path=str(path),
        )
    return _build_suite(path, raw, roots or FileRoots.default_for(path))


def _build_suite(path: Path, raw: dict[str, Any], roots: FileRoots) -> Suite:
    """The Suite of a parsed suite file: keys checked, cases read, validated, rendered."""
    data = strip_lines(raw)
    data.setdefault("name", default_suite_name(path))
    unknown = sorted(str(k) for k in data if k not in SUITE_KEYS)
    if unknown:
        hints = "".join(did_you_mean(k, SUITE_KEYS) for k in unknown[:1])
        raise SuiteError(
            f"{path}: unknown key(s) {', '.join(repr(k) for k in unknown)} at the top level"
            f"{hints}; allowed: {', '.join(SUITE_KEYS)}",
            path=str(path),
        )
    prompt_value = data.get("prompt")
    if isinstance(prompt_value, str):
        data["prompt"], data["prompt_path"] = _resolve_prompt(path, prompt_value, roots)
    _resolve_variant_prompts(path, data, roots)
    used = _suite_placeholders(path, data)
    rows = _rows(path, raw, data, used, roots)
    data["cases"] = [row.data for row in rows]
    for row in rows:
        _resolve_file_paths(path, row, roots)
    data["source"] = str(path)
    try:
        suite = Suite.model_validate(data, context=None if data.get("assert") else NO_SUITE_CHECKS)
    except ValidationError as exc:
        raise SuiteError(describe(path, rows, exc), path=str(path)) from None
    for case, row in zip(suite.cases, rows, strict=True):
        from_file = row.source != str(path)
        case_file = os.path.relpath(row.source, path.parent) if from_file else None
        case.mark_row(literal=row.literal, case_file=case_file)
    for judged in suite.variant_suites():
        _render_every_case(path, judged, rows)
    _resolve_python_checks(path, suite)
    _resolve_target(path, suite)
    _resolve_tools(path, suite)
    return suite


def _resolve_tools(path: Path, suite: Suite) -> None:
    """Import every tool's `python` function now, so a missing one is a collection error."""
    for name, import_path in tool_functions(suite).items():
        try:
            resolve(import_path, near=path)
        except SuiteError as exc:
            raise SuiteError(
                f"{path}: suite {suite.name!r}, tool {name!r}, field 'python': {exc}",
                path=str(path),
            ) from None


def _resolve_target(path: Path, suite: Suite) -> None:
    """Import the suite's `target` function now, so a missing one is a collection error."""
    if isinstance(suite.target, str):
        try:
            resolve(suite.target, near=path)
        except SuiteError as exc:
            raise SuiteError(
                f"{path}: suite {suite.name!r}, field 'target': {exc}", path=str(path)
            ) from None


def _resolve_variant_prompts(path: Path, data: dict[str, Any], roots: FileRoots) -> None:
    """Read each variant's prompt file (relative to the suite file); `v1:` alone is `v1: {}`."""
    variants = data.get("variants")
    if not isinstance(variants, dict):
        return
    for name, variant in variants.items():
        if variant is None:
            variants[name] = variant = {}
        if isinstance(variant, dict) and isinstance(variant.get("prompt"), str):
            variant["prompt"], _ = _resolve_prompt(
                path, variant["prompt"], roots, field=f"variants.{name}.prompt"
            )


def _resolve_python_checks(path: Path, suite: Suite) -> None:
    """Import every `python` check's function now, so a missing one is a collection error."""
    for import_path in suite.python_checks():
        try:
            resolve(import_path, near=path)
        except SuiteError as exc:
            raise SuiteError(f"{path}: python check: {exc}", path=str(path)) from None


def _rows(
    path: Path, raw: dict[str, Any], data: dict[str, Any], used: frozenset[str], roots: FileRoots
) -> list[Row]:
    """The suite's cases, written inline or read from the case file `cases:` names."""
    cases = data.get("cases")
    if cases is None or (isinstance(cases, list) and not cases):
        raise SuiteError(
            f"{path}: field 'cases' is missing or empty; add at least one case", path=str(path)
        )
    if isinstance(cases, (str, dict)):
        return read_case_file(path, cases, used, roots)
    if not isinstance(cases, list):
        raise SuiteError(
            f"{path}: field 'cases' must be a list of cases or the name of a case file "
            "(.jsonl, .csv, .yaml)",
            path=str(path),
        )
    rows: list[Row] = []
    for item, raw_item in zip(cases, raw["cases"], strict=True):
        # A list may mix inline cases with case files: `- {file: more.csv}` stands for its rows.
        is_reference = isinstance(item, dict) and "file" in item and "id" not in item
        rows += (
            read_case_file(path, item, used, roots)
            if is_reference
            else inline_rows(path, [raw_item])
        )
    return rows


def _suite_placeholders(path: Path, data: dict[str, Any]) -> frozenset[str]:
    """The variables the suite's templates read: `prompt`, `input`, criterion descriptions.

    Each template's syntax is checked on the way.
    """
    templates = [(key, data.get(key)) for key in SUITE_TEMPLATES]
    variants = data.get("variants")
    if isinstance(variants, dict):
        templates += [
            (f"variants.{name}.prompt", v.get("prompt"))
            for name, v in variants.items()
            if isinstance(v, dict)
        ]
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        templates += [
            (f"criteria.{name}.description", c.get("description"))
            for name, c in criteria.items()
            if isinstance(c, dict)
        ]
    found: frozenset[str] = frozenset()
    for key, value in templates:
        if not isinstance(value, str):
            continue
        try:
            found |= placeholders(value)
        except TemplateError as exc:
            origin = f" ({data['prompt_path']})" if key == "prompt" and data["prompt_path"] else ""
            raise SuiteError(f"{path}: field {key!r}{origin}: {exc}", path=str(path)) from None
    return found


def _resolve_file_paths(path: Path, row: Row, roots: FileRoots) -> None:
    """Resolve the paths of a case's image and document blocks (relative to the suite file).

    Each must be a regular file inside `roots`; a missing one is left for rendering to report.
    """
    case = row.data
    messages = case.get("messages") if isinstance(case, dict) else None
    if not isinstance(messages, list):
        return
    where = row.where if row.source == str(path) else f"{path} (case file {row.where})"
    label = f"{where}: case {case.get('id')!r}"
    for n, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for m, block in enumerate(content if isinstance(content, list) else ()):
            if (
                isinstance(block, dict)
                and block.get("type") in ("image", "document")
                and isinstance(block.get("path"), str)
                and block["path"]
            ):
                name = block["path"]
                field = f"messages.{n}.content.{m}.path"
                found = roots.check(
                    label, field, name, path.parent, what=f"{block['type']} file", missing_ok=True
                )
                block["path"] = str(found or path.parent / name)


def _render_every_case(path: Path, suite: Suite, rows: list[Row]) -> None:
    """Render each case once, so undefined vars and bad files are collection errors."""
    problems = []
    for case, row in zip(suite.cases, rows, strict=True):
        try:
            render_case(suite, case)
        except RenderError as exc:
            problems.append(f"{row.where}: {exc}")
    if problems:
        more = len(problems) - MAX_RENDER_ERRORS
        shown = problems[:MAX_RENDER_ERRORS] + ([f"(and {more} more cases)"] if more > 0 else [])
        raise SuiteError("\n".join(shown), path=str(path))


def _resolve_prompt(
    path: Path, value: str, roots: FileRoots, field: str = "prompt"
) -> tuple[str, str | None]:
    """Inline prompt text as is; a file reference read relative to the suite file (confined)."""
    candidate = value.strip()
    looks_like_file = "\n" not in candidate and (
        candidate.endswith(PROMPT_FILE_SUFFIXES)
        or (("/" in candidate or "\\" in candidate) and " " not in candidate)
    )
    if not looks_like_file:
        return value, None
    prompt_file = roots.check(str(path), field, candidate, path.parent, what="prompt file")
    assert prompt_file is not None  # missing_ok is off: a missing file raised
    return read_text(prompt_file, "prompt file"), str(prompt_file)
