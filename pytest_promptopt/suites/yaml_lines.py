"""YAML read safely and boundedly, each mapping remembering its line as `__line__`.

Bounded: an alias (`*name`) may repeat what its anchor holds, but all of them together may not
add more than MAX_ALIAS_EXPANSION values (a 567-byte alias bomb expands to billions), an alias
may not contain itself, collections nest at most MAX_DEPTH deep, and a mapping may not give a
key twice (YAML would keep the last silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_promptopt.errors import SuiteError

LINE_KEY = "__line__"
MAX_DEPTH = 64
"""How deep collections (mappings and lists) may nest in a suite or case file."""
MAX_ALIAS_EXPANSION = 100_000
"""How many values the aliases of one document may add to it, all together."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BoundsError(yaml.YAMLError):
    """A document nests too deep, repeats a key, or its aliases expand too far."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside a collection node (none for a scalar)."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return [] if isinstance(node, yaml.ScalarNode) else list(node.value)


class _Expansion:
    """The expanded size and height of aliased nodes, each counted once (no recursion)."""

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.heights: dict[int, int] = {}  # collection levels (0: a scalar or an empty one)

    def of(self, root: yaml.Node) -> tuple[int, int]:
        """(values, height) of `root` with every alias in it expanded; BoundsError if recursive."""
        on_path: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            children = _children(node)
            if done:
                on_path.discard(key)
                self.sizes[key] = 1 + sum(self.sizes[id(c)] for c in children)
                heights = [self.heights[id(c)] for c in children]
                self.heights[key] = 1 + max(heights) if heights else 0
            elif key in on_path:
                line = node.start_mark.line + 1
                raise BoundsError(
                    line, f"the anchor at line {line} contains an alias of itself; remove it"
                )
            elif key not in self.sizes:
                on_path.add(key)
                stack.append((node, True))
                stack.extend((c, False) for c in children)
        return self.sizes[id(root)], self.heights[id(root)]


def check_bounds(root: yaml.Node) -> None:
    """Raise BoundsError for nesting past MAX_DEPTH, a recursive alias or an alias bomb.

    One walk over the distinct nodes without recursion (an alias is the same node object
    again); only aliased nodes are measured, each once, however often they are repeated.
    """
    seen: set[int] = set()
    expansion = _Expansion()
    added = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        value = node.value
        if type(value) is str:  # a scalar
            continue
        key = id(node)
        if key in seen:  # an alias of a collection: it adds its whole expanded size again
            size, height = expansion.of(node)
            added += size
            line = node.start_mark.line + 1
            if added > MAX_ALIAS_EXPANSION:
                raise BoundsError(
                    line,
                    f"its aliases expand to more than {MAX_ALIAS_EXPANSION} values (the anchor "
                    f"at line {line} is repeated too often: an alias bomb?); write the values "
                    "out or alias fewer of them",
                )
            if depth + height > MAX_DEPTH:
                raise BoundsError(line, _too_deep())
            continue
        seen.add(key)
        if value and depth >= MAX_DEPTH:
            raise BoundsError(node.start_mark.line + 1, _too_deep())
        inner = depth + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in value:
                if type(k.value) is not str:
                    push((k, inner))
                push((v, inner))
        else:
            for v in value:
                push((v, inner))


def _too_deep() -> str:
    """The problem of data nested past MAX_DEPTH, with the fix."""
    return (
        f"mappings and lists nest more than {MAX_DEPTH} deep; flatten the data "
        "(or pass it as a JSON string)"
    )


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader (libyaml's when present) that remembers each mapping's line as `__line__`
    and refuses unbounded documents before building them (`check_bounds`)."""

    def construct_document(self, node: yaml.Node) -> Any:
        """The document's value, once its nodes are known to be bounded."""
        check_bounds(node)
        return super().construct_document(node)


def _refuse_duplicate_keys(loader: _LineLoader, node: yaml.MappingNode) -> None:
    """Raise BoundsError for a key the mapping gives twice (merged `<<` keys may be overridden)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            repeated = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: YAML itself refuses it when building the mapping
            continue
        if repeated:
            raise BoundsError(
                key_node.start_mark.line + 1,
                f"the key {key!r} is given twice in this mapping (YAML would keep only the "
                "last); keep one",
            )


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """A mapping with its first line under `__line__`."""
    _refuse_duplicate_keys(loader, node)
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
    except BoundsError as exc:
        raise SuiteError(f"{path}:{exc.line}: {exc.problem}", path=str(path)) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SuiteError(
            f"{path}: invalid YAML value: {exc}; fix that value", path=str(path)
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(
            f"{path}{where}: invalid YAML: {problem}; fix the syntax at that line",
            path=str(path),
        ) from None


def depth_problem(value: Any) -> str | None:
    """Why parsed data (JSON, a Python suite's vars) nests too deep, else None; no recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple) and item:
            if depth >= MAX_DEPTH:
                return _too_deep()
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return None


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
