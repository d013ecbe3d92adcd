"""Jinja2 templates of suites: sandboxed, strict about undefined names, compiled once."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from pytest_promptopt.errors import SuiteError

_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)
_MARKERS = ("{{", "{%", "{#")
_UNDEFINED = re.compile(r"'(.+)' is undefined")


class TemplateError(SuiteError):
    """A template does not parse, uses an undefined variable, or fails while rendering."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


def _is_literal(template: str) -> bool:
    """True when Jinja2 would return the text unchanged (no markup, no newline to normalise)."""
    return "\r" not in template and not any(m in template for m in _MARKERS)


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[jinja2.Template, frozenset[str]]:
    """The compiled template and its free variables (globals such as `range` left out)."""
    try:
        ast = _ENV.parse(template)
        compiled = _ENV.from_string(ast)
    except jinja2.TemplateSyntaxError as exc:
        problem = (exc.message or "syntax error").rstrip(".")
        raise TemplateError(
            f"invalid template: {problem} (line {exc.lineno} of the template); fix the "
            "Jinja2 syntax, or write a literal '{{' as {{ '{{' }}"
        ) from None
    names = frozenset(meta.find_undeclared_variables(ast) - set(_ENV.globals))
    return compiled, names


def placeholders(template: str) -> frozenset[str]:
    """The variables a template reads (`{{ shop }}`, `{% if vip %}` ...); raises TemplateError."""
    if _is_literal(template):
        return frozenset()
    return _parsed(template)[1]


def render(template: str, variables: Mapping[str, Any]) -> str:
    """The template filled from `variables`; TemplateError names an undefined variable."""
    if _is_literal(template):
        return template
    compiled, _ = _parsed(template)
    try:
        return compiled.render(variables)
    except jinja2.UndefinedError as exc:
        message = exc.message or "undefined value"
        found = _UNDEFINED.fullmatch(message)
        defined = ", ".join(sorted(variables)) or "none"
        what = f"undefined variable {found.group(1)!r}" if found else message
        raise TemplateError(
            f"{what}; define it in the suite's `vars` or the case's `vars` (defined: {defined})",
            missing=(found.group(1),) if found else (),
        ) from None
    except Exception as exc:  # a filter or test failing on the given values, or the sandbox
        raise TemplateError(f"template failed to render: {type(exc).__name__}: {exc}") from None


def placeholder_change(original: str, candidate: str) -> str | None:
    """Why `candidate` may not replace `original` (placeholders dropped or invented), else None."""
    try:
        before = placeholders(original)
    except TemplateError as exc:
        return f"the original prompt is not a valid template: {exc}"
    try:
        after = placeholders(candidate)
    except TemplateError as exc:
        return f"the candidate is not a valid template: {exc}"
    if before == after:
        return None
    parts = []
    if before - after:
        parts.append(f"drops {', '.join(f'{{{{ {n} }}}}' for n in sorted(before - after))}")
    if after - before:
        parts.append(f"invents {', '.join(f'{{{{ {n} }}}}' for n in sorted(after - before))}")
    keep = ", ".join(sorted(before)) or "none"
    return f"the candidate {' and '.join(parts)}; it must keep exactly the placeholders: {keep}"
