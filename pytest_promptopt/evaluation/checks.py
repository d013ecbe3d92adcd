"""Deterministic checks on an answer: contains, regex, length, JSON and JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_promptopt.evaluation.results import AssertionResult
from pytest_promptopt.suites.spec import AssertionSpec


def _parse_json(text: str) -> tuple[bool, Any, str]:
    """(ok, value, error) for an answer that should be JSON, tolerating a ```json fence."""
    body = text.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, flags=re.DOTALL)
    if fence:
        body = fence.group(1)
    try:
        return True, json.loads(body), ""
    except json.JSONDecodeError as exc:
        return False, None, f"not JSON: {exc.msg} at char {exc.pos}"


def check(spec: AssertionSpec, answer: str) -> AssertionResult:
    """Run one check against an answer."""
    kind, value = spec.kind, spec.value
    expected = repr(value) if kind != "json_schema" else "schema"
    passed, detail = True, ""
    if kind == "contains":
        passed = value in answer
    elif kind == "not_contains":
        passed = value not in answer
        detail = "" if passed else "found in the answer"
    elif kind == "icontains":
        passed = value.lower() in answer.lower()
    elif kind == "regex":
        passed = re.search(value, answer) is not None
    elif kind == "max_chars":
        passed = len(answer) <= value
        detail = f"answer has {len(answer)} chars"
    elif kind == "is_json":
        ok, _, err = _parse_json(answer)
        passed = ok == value
        detail = err if value else ("answer is JSON" if ok else "")
    elif kind == "json_schema":
        ok, parsed, err = _parse_json(answer)
        if not ok:
            passed, detail = False, err
        else:
            from jsonschema import Draft202012Validator

            errors = sorted(
                Draft202012Validator(value).iter_errors(parsed), key=lambda e: list(e.path)
            )
            passed = not errors
            if errors:
                first = errors[0]
                where = "/".join(str(p) for p in first.path) or "(root)"
                detail = f"{where}: {first.message}"
    return AssertionResult(kind=kind, expected=expected, passed=passed, detail=detail)


def check_all(
    specs: tuple[AssertionSpec, ...] | list[AssertionSpec], answer: str
) -> list[AssertionResult]:
    """Run every check against an answer."""
    return [check(spec, answer) for spec in specs]
