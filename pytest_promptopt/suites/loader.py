"""Reads `*.promptopt.yaml` files into Suites; every mistake is a SuiteError with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites import SUITE_SUFFIXES
from pytest_promptopt.suites.spec import ASSERTION_KINDS, CRITERIA, Case, Suite, did_you_mean

PROMPT_FILE_SUFFIXES = (".txt", ".md", ".prompt", ".j2", ".jinja", ".tmpl")
SUITE_KEYS = tuple(k for k in Suite.model_fields if k not in ("prompt_path", "source"))
CASE_KEYS = tuple(f.alias or name for name, f in Case.model_fields.items())


def default_suite_name(path: Path) -> str:
    """The file stem without the `.promptopt` part."""
    name = path.name
    for suffix in SUITE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader (libyaml's when present) that remembers each mapping's line as `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_suite(path: Path) -> Suite:
    """Parse and validate one suite file; raises SuiteError naming file, case and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite file: {exc}", path=str(path)) from None
    try:
        raw = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(
            f"{path}{where}: invalid YAML: {problem}; fix the syntax at that line",
            path=str(path),
        ) from None
    if not isinstance(raw, dict):
        raise SuiteError(
            f"{path}: a suite file must be a YAML mapping with keys such as "
            f"{', '.join(SUITE_KEYS)}; got {type(raw).__name__}",
            path=str(path),
        )
    return _build_suite(path, raw)


def _build_suite(path: Path, raw: dict[str, Any]) -> Suite:
    data = _strip_lines(raw)
    data.setdefault("name", default_suite_name(path))
    unknown = sorted(str(k) for k in data if k not in SUITE_KEYS)
    if unknown:
        hints = "".join(did_you_mean(k, SUITE_KEYS) for k in unknown[:1])
        raise SuiteError(
            f"{path}: unknown key(s) {', '.join(repr(k) for k in unknown)} at the top level"
            f"{hints}; allowed: {', '.join(SUITE_KEYS)}",
            path=str(path),
        )
    cases = data.get("cases")
    if cases is None or (isinstance(cases, list) and not cases):
        raise SuiteError(
            f"{path}: field 'cases' is missing or empty; add at least one case", path=str(path)
        )
    if not isinstance(cases, list):
        raise SuiteError(f"{path}: field 'cases' must be a list of cases", path=str(path))
    prompt_value = data.get("prompt")
    if isinstance(prompt_value, str):
        data["prompt"], data["prompt_path"] = _resolve_prompt(path, prompt_value)
    data["source"] = str(path)
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(_describe(path, raw, exc), path=str(path)) from None


def _resolve_prompt(path: Path, value: str) -> tuple[str, str | None]:
    """Inline prompt text as is; a file reference read relative to the suite file."""
    candidate = value.strip()
    looks_like_file = "\n" not in candidate and (
        candidate.endswith(PROMPT_FILE_SUFFIXES)
        or (("/" in candidate or "\\" in candidate) and " " not in candidate)
    )
    if not looks_like_file:
        return value, None
    prompt_file = (path.parent / candidate).resolve()
    try:
        found = prompt_file.is_file()
    except (OSError, ValueError):  # a name the OS cannot hold, e.g. with a NUL byte
        found = False
    if not found:
        raise SuiteError(
            f"{path}: field 'prompt': prompt file {candidate!r} not found "
            f"(looked for {prompt_file}); create it, fix the path (relative to the suite file), "
            f"or write the prompt inline",
            path=str(path),
        )
    return prompt_file.read_text(encoding="utf-8"), str(prompt_file)


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """One line per problem, naming the case (by id and line) and the field."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = f"{path}"
        field_name = ".".join(str(p) for p in loc) or "(suite)"
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            case_raw = raw.get("cases", [])[loc[1]] if loc[1] < len(raw.get("cases", [])) else {}
            case_id = case_raw.get("id", f"#{loc[1] + 1}") if isinstance(case_raw, dict) else "?"
            line = case_raw.get("__line__") if isinstance(case_raw, dict) else None
            where += f":{line}" if line else ""
            where += f": case {case_id!r}"
            field_name = ".".join(str(p) for p in loc[2:]) or "(case)"
            field_name = field_name.replace("assertions", "assert")
        lines.append(f"{where}: field {field_name!r}: {_hint(err, loc)}")
    return "\n".join(lines)


def _hint(err: Any, loc: list[Any]) -> str:
    """The validation message plus what is allowed, when pydantic does not say."""
    msg: str = err["msg"].removeprefix("Value error, ")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = CASE_KEYS if loc and loc[0] == "cases" else SUITE_KEYS
        return f"unknown key{did_you_mean(str(loc[-1]), allowed)}; allowed: {', '.join(allowed)}"
    if kind in ("greater_than_equal", "less_than_equal") and "threshold" in loc:
        return f"{msg} (got {err.get('input')!r}); a threshold is a number from 0 to 1"
    if kind == "literal_error" and "kind" in loc:
        return f"unknown assertion type; allowed: {', '.join(ASSERTION_KINDS)}"
    if kind == "missing":
        return "required field is missing"
    if "criteria" in loc:
        return f"{msg}; allowed criteria: {', '.join(CRITERIA)}"
    return msg
