"""Jinja2 templates of suites: sandboxed, bounded, strict about undefined names, compiled once.

Bounded: no value a template builds (a string or list by `*`, `+`, `~`, a filter or a method)
and no rendered text may exceed MAX_CHARS characters, a number may not exceed MAX_INT_BITS bits,
and one render may take at most MAX_STEPS steps (loop iterations and calls) and MAX_RENDER_S
seconds; a template past a limit is a TemplateError naming it, never a hang or a traceback.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from pytest_promptopt.errors import SuiteError

MAX_CHARS = 4_000_000
"""The longest string or list a template may build, and the longest text it may render."""
MAX_INT_BITS = 4096
"""The largest number (in bits, about 1,200 digits) arithmetic in a template may make."""
MAX_STEPS = 1_000_000
"""Loop iterations and calls one render may take."""
MAX_RENDER_S = 5.0
"""Seconds one render may take."""
MAX_UNDEFINED_REPORTED = 10
"""Undefined variables found (by rendering again) before the error is raised."""
_MARKERS = ("{{", "{%", "{#")
_UNDEFINED = re.compile(r"'(.+)' is undefined")
_WIDE_FORMAT = re.compile(r"\d{7,}")  # a format width or precision of millions of characters


class TemplateError(SuiteError):
    """A template does not parse, uses an undefined variable, or fails while rendering."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class LimitError(Exception):
    """A template went past one of the limits (raised inside Jinja2, reported as TemplateError)."""


def _limit(what: str) -> LimitError:
    """The error for a template past a limit, with the fix."""
    return LimitError(
        f"the template exceeds a limit: {what}; templates fill in prompts and inputs, so build "
        "large values in Python or in the case file instead"
    )


class _Budget:
    """The steps and time one render has left."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_RENDER_S

    def step(self) -> None:
        """Count one step; LimitError past MAX_STEPS or the deadline."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _limit(f"more than {MAX_STEPS} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise _limit(f"rendering took more than {MAX_RENDER_S:g} s")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "promptopt_template_budget", default=None
)


def _step() -> None:
    """Count a step against the current render's budget (none at compile time)."""
    budget = _budget.get()
    if budget is not None:
        budget.step()


def _sized(value: Any, what: str = "a value") -> Any:
    """`value`, or LimitError when it is a string or list longer than MAX_CHARS."""
    if isinstance(value, str | list | tuple | dict | bytes) and len(value) > MAX_CHARS:
        raise _limit(f"{what} of more than {MAX_CHARS} characters or items")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _limit(f"a number of more than {MAX_INT_BITS} bits")
    return value


def _check_ints(args: Iterable[Any], what: str) -> None:
    """LimitError for an integer argument that would size a value past MAX_CHARS."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_CHARS:
            raise _limit(f"{what} with the argument {arg}, over {MAX_CHARS}")


def _check_format(text: Any, what: str) -> None:
    """LimitError for a format string asking for a width of millions of characters."""
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise _limit(f"{what} with a width or precision of millions of characters")


def _replaced_length(text: str, old: str, new: str) -> int:
    """How long `text.replace(old, new)` would be."""
    count = len(text) + 1 if old == "" else text.count(old)
    return len(text) + count * (len(new) - len(old))


SIZING_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})
"""Filters whose integer arguments are widths or counts of the value they make."""
SIZING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
"""String methods whose integer arguments are widths of the value they make."""


def _check_known(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Pre-checks of the filters and methods whose output can outgrow their input."""
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        if _replaced_length(value, str(args[0]), str(args[1])) > MAX_CHARS:
            raise _limit(f"replace() making more than {MAX_CHARS} characters")
    elif name in ("format", "format_map"):
        _check_format(value, name)


def _joined_length(items: list[Any], separator: Any) -> int:
    """How long joining `items` with `separator` would be."""
    return sum(len(str(v)) for v in items) + len(str(separator)) * max(0, len(items) - 1)


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses arguments and results past the limits."""
    # Filters marked to take the environment, context or eval context get it first.
    value_at = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if len(args) <= value_at:
            return _sized(fn(*args, **kwargs), f"the filter {name!r} making a value")
        value, options = args[value_at], args[value_at + 1 :]
        if name in SIZING_FILTERS:
            _check_ints((*options, *kwargs.values()), f"the filter {name!r}")
        _check_known(name, value, options, kwargs)
        if name == "join" and "attribute" not in kwargs and len(options) < 2:
            value = list(value)  # a generator (`map`, `select`) is read once, here
            separator = options[0] if options else kwargs.get("d", "")
            if _joined_length(value, separator) > MAX_CHARS:
                raise _limit(f"join making more than {MAX_CHARS} characters")
            args = (*args[:value_at], value, *options)
        return _sized(fn(*args, **kwargs), f"the filter {name!r} making a value")

    return bounded


def _times(left: Any, right: Any) -> Any:
    """`left * right`, refused before it makes a value past the limits."""
    for seq, n in ((left, right), (right, left)):
        sequence = isinstance(seq, str | list | tuple) and isinstance(n, int)
        if sequence and len(seq) * max(0, n) > MAX_CHARS:
            raise _limit(f"'*' making more than {MAX_CHARS} characters or items")
    numbers = isinstance(left, int) and isinstance(right, int)
    if numbers and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _limit(f"'*' making a number of more than {MAX_INT_BITS} bits")
    return left * right


def _power(left: Any, right: Any) -> Any:
    """`left ** right`, refused before it makes a number past MAX_INT_BITS."""
    numbers = isinstance(left, int) and isinstance(right, int) and right > 0
    # |left| ** right has at least right * (bit_length - 1) bits.
    if numbers and right * (left.bit_length() - 1) > MAX_INT_BITS:
        raise _limit(f"'**' making a number of more than {MAX_INT_BITS} bits")
    return left**right


def _modulo(left: Any, right: Any) -> Any:
    """`left % right` (printf-style formatting of a string), refused for huge widths."""
    _check_format(left, "'%' formatting")
    if isinstance(left, str) and "*" in left:  # `%*d`: the width comes from the values
        _check_ints(right if isinstance(right, tuple) else (right,), "'%*' formatting")
    return left % right


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox with every operator, call and loop counted and sized (see the module)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    _ops: Mapping[str, Callable[[Any, Any], Any]] = {
        "*": _times,
        "**": _power,
        "+": operator.add,
        "%": _modulo,
    }

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        """An intercepted operator, sized before or after (`+` cannot outgrow its operands)."""
        _step()
        function = self._ops.get(op) or self.binop_table[op]
        return _sized(function(left, right), f"{op!r} making a value")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from the template, counted, its arguments and result sized."""
        _step()
        name = getattr(__obj, "__name__", "")
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, str):
            if name in SIZING_METHODS:
                _check_ints((*args, *kwargs.values()), f"the method {name!r}")
            _check_known(name, receiver, args, kwargs)
            if name == "join" and len(args) == 1 and not kwargs:
                items = list(args[0])  # a generator is read once, here
                if _joined_length(items, receiver) > MAX_CHARS:
                    raise _limit(f"join() making more than {MAX_CHARS} characters")
                args = (items,)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(receiver, list | dict):  # `append`, `extend`, `update` grow it in place
            _sized(receiver, f"the method {name!r} growing a value")
        return _sized(result, f"the call of {name or 'a function'!r} making a value")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` sandboxed, refused for a format asking for millions of characters."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__, value.__name__)
        return wrapped

    def promptopt_iterate(self, iterable: Any) -> Iterator[Any]:
        """A loop's items, each one a step."""
        for item in iterable:
            _step()
            yield item

    def promptopt_sized(self, value: Any) -> Any:
        """A `~` concatenation, sized."""
        return _sized(value, "'~' making a string")


class _Bound(NodeTransformer):
    """Routes every loop's items and every `~` through the sandbox's counters."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = self._call("promptopt_iterate", cast(nodes.Expr, node.iter))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Expr:
        self.generic_visit(node)
        return self._call("promptopt_sized", node)

    @staticmethod
    def _call(method: str, argument: nodes.Expr) -> nodes.Call:
        return nodes.Call(
            nodes.EnvironmentAttribute(method), [argument], [], None, None, lineno=argument.lineno
        )


_ENV = _BoundedSandbox(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)
_ENV.globals.pop("lipsum", None)  # pages of filler text: nothing a prompt needs
_ENV.filters = {name: _bounded_filter(name, fn) for name, fn in _ENV.filters.items()}


def _is_literal(template: str) -> bool:
    """True when Jinja2 would return the text unchanged (no markup, no newline to normalise)."""
    return "\r" not in template and not any(m in template for m in _MARKERS)


@functools.lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[jinja2.Template, frozenset[str]]:
    """The compiled template and its free variables (globals such as `range` left out)."""
    try:
        ast = _ENV.parse(template)
        names = frozenset(meta.find_undeclared_variables(ast) - set(_ENV.globals))
        compiled = _ENV.from_string(_Bound().visit(ast))
    except jinja2.TemplateSyntaxError as exc:
        problem = (exc.message or "syntax error").rstrip(".")
        raise TemplateError(
            f"invalid template: {problem} (line {exc.lineno} of the template); fix the "
            "Jinja2 syntax, or write a literal '{{' as {{ '{{' }}"
        ) from None
    except Exception as exc:  # e.g. a literal number of more digits than Python converts
        raise TemplateError(f"invalid template: {type(exc).__name__}: {exc}") from None
    return compiled, names


def placeholders(template: str) -> frozenset[str]:
    """The variables a template reads (`{{ shop }}`, `{% if vip %}` ...); raises TemplateError."""
    if _is_literal(template):
        return frozenset()
    return _parsed(template)[1]


def _render_bounded(compiled: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """The rendered text, within MAX_CHARS, MAX_STEPS and MAX_RENDER_S."""
    token = _budget.set(_Budget())
    try:
        parts: list[str] = []
        length = 0
        for part in compiled.generate(variables):
            length += len(part)
            if length > MAX_CHARS:
                raise _limit(f"rendered text of more than {MAX_CHARS} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        _budget.reset(token)


def _undefined_name(exc: jinja2.UndefinedError) -> str | None:
    """The variable an UndefinedError is about, when it is a plain undefined variable."""
    found = _UNDEFINED.fullmatch(exc.message or "")
    return found.group(1) if found else None


def _all_undefined(
    compiled: jinja2.Template, variables: Mapping[str, Any], first: str
) -> list[str]:
    """Every undefined variable a render reaches: rendered again with each found one filled."""
    missing = [first]
    filled = dict(variables)
    while len(missing) < MAX_UNDEFINED_REPORTED:
        filled[missing[-1]] = ""
        try:
            _render_bounded(compiled, filled)
        except jinja2.UndefinedError as exc:
            name = _undefined_name(exc)
            if name is None or name in missing:
                break
            missing.append(name)
        except Exception:  # the filler broke something else: report what was found
            break
        else:
            break
    return missing


def render(template: str, variables: Mapping[str, Any]) -> str:
    """The template filled from `variables`; TemplateError names every undefined variable."""
    if _is_literal(template):
        return template
    compiled, _ = _parsed(template)
    try:
        return _render_bounded(compiled, variables)
    except jinja2.UndefinedError as exc:
        first = _undefined_name(exc)
        defined = ", ".join(sorted(variables)) or "none"
        if first is None:
            what = exc.message or "undefined value"
            missing: list[str] = []
        else:
            missing = _all_undefined(compiled, variables, first)
            names = ", ".join(repr(n) for n in missing)
            what = f"undefined variable{'s' * (len(missing) > 1)} {names}"
        them = "them" if len(missing) > 1 else "it"
        raise TemplateError(
            f"{what}; define {them} in the suite's `vars` or the case's `vars` "
            f"(defined: {defined})",
            missing=tuple(missing),
        ) from None
    except LimitError as exc:
        raise TemplateError(str(exc)) from None
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
