"""YAML read safely, each mapping remembering its line as `__line__` for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_promptopt.errors import SuiteError

LINE_KEY = "__line__"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader (libyaml's when present) that remembers each mapping's line as `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """A mapping with its first line under `__line__`."""
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(path: Path, what: str) -> str:
    """The file's UTF-8 text; SuiteError when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read {what}: {exc}", path=str(path)) from None


def load_yaml(path: Path, text: str) -> Any:
    """Parsed YAML with `__line__` in every mapping; SuiteError naming the line of bad syntax."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(
            f"{path}{where}: invalid YAML: {problem}; fix the syntax at that line",
            path=str(path),
        ) from None


def strip_lines(value: Any) -> Any:
    """A copy of parsed YAML without the `__line__` keys."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def line_of(value: Any) -> int | None:
    """The line a parsed mapping started on, when it is one."""
    return value.get(LINE_KEY) if isinstance(value, dict) else None
