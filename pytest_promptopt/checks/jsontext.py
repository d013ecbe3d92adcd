"""JSON in answers and JSON Schemas in suites, for the checks that use them."""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str) -> tuple[bool, Any, str]:
    """(ok, value, error) for an answer that should be JSON, tolerating a ```json fence."""
    body = text.strip()
    # A ```json fence, taken apart without a regex (`\s*(.*?)\s*` backtracks quadratically).
    if len(body) >= 6 and body.startswith("```") and body.endswith("```"):
        inner = body[3:-3]
        body = (inner[4:] if inner.startswith("json") else inner).strip()
    try:
        return True, json.loads(body), ""
    except json.JSONDecodeError as exc:
        return False, None, f"not JSON: {exc.msg} at char {exc.pos}"


def schema_error(schema: dict[str, Any], value: Any) -> str:
    """The first JSON Schema error of `value` as `where: message`, or '' when it validates."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return ""
    first = errors[0]
    where = "/".join(str(p) for p in first.path) or "(root)"
    return f"{where}: {first.message}"


def check_schema(name: str, schema: Any) -> None:
    """Raise ValueError unless `schema` is a valid JSON Schema mapping."""
    if not isinstance(schema, dict):
        raise ValueError(f"{name} takes a JSON Schema mapping, got {schema!r}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{name} is not a valid JSON Schema: {exc.message}") from None
