"""Checks on an answer: text (contains, regex, length, JSON), tool calls, stop, the call's
latency and cost, the team's own `python` functions, and `not` around any of them.

Text checks read the answer's text only; tool inputs are checked with `tool_input`.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.evaluation.python_checks import run_python
from pytest_promptopt.evaluation.results import AssertionResult
from pytest_promptopt.llm.service import Usage
from pytest_promptopt.suites.patterns import search
from pytest_promptopt.suites.spec import AssertionSpec, Case


def _parse_json(text: str) -> tuple[bool, Any, str]:
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


def _schema_error(schema: dict[str, Any], value: Any) -> str:
    """The first JSON Schema error of `value` as `where: message`, or '' when it validates."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return ""
    first = errors[0]
    where = "/".join(str(p) for p in first.path) or "(root)"
    return f"{where}: {first.message}"


def _calls_detail(answer: Answer) -> str:
    """`calls: a, b` or `no tool calls`."""
    names = answer.called()
    return f"calls: {', '.join(names)}" if names else "no tool calls"


def _text_check(kind: str, value: Any, text: str) -> tuple[bool, str]:
    """(passed, detail) of a check on the answer's text."""
    if kind == "contains":
        return value in text, ""
    if kind == "not_contains":
        passed = value not in text
        return passed, "" if passed else "found in the answer"
    if kind == "icontains":
        return value.lower() in text.lower(), ""
    if kind == "regex":
        return search(value, text) is not None, ""
    if kind == "max_chars":
        return len(text) <= value, f"answer has {len(text)} chars"
    ok, parsed, err = _parse_json(text)
    if kind == "is_json":
        return ok == value, err if value else ("answer is JSON" if ok else "")
    if not ok:  # json_schema
        return False, err
    detail = _schema_error(value, parsed)
    return not detail, detail


def _tool_check(kind: str, value: Any, answer: Answer) -> tuple[bool, str]:
    """(passed, detail) of a check on the answer's tool calls or stop reason."""
    if kind == "tool_called":
        passed = bool(answer.calls_of(value))
        return passed, "" if passed else _calls_detail(answer)
    if kind == "tool_not_called":
        count = len(answer.calls_of(value))
        return not count, f"called {count} time(s)" if count else ""
    if kind == "tool_input":
        calls = answer.calls_of(value["name"])
        if not calls:
            return False, f"{value['name']} was not called ({_calls_detail(answer)})"
        detail = _schema_error(value["json_schema"], calls[0].get("input"))
        return not detail, f"input {detail}" if detail else ""
    # stop_reason
    passed = answer.stop_reason == value
    return passed, "" if passed else f"stopped with {answer.stop_reason or 'no stop reason'}"


def _call_check(kind: str, value: float, figures: Usage) -> tuple[bool, str]:
    """(passed, detail) of a check on the call itself: its latency or its cost.

    A cached answer is checked with the latency and cost of the call that made it.
    """
    cached = " (recorded with the cached answer)" if figures.cache_hits else ""
    if kind == "max_latency_ms":
        took = figures.call_latency_ms
        return took <= value, f"the call took {took:.0f} ms{cached}"
    if figures.call_cost_usd is None:
        return False, "the call's cost is unknown (no price for its model: set promptopt_prices)"
    return figures.call_cost_usd <= value, f"the call cost ${figures.call_cost_usd:.6f}{cached}"


def _expected(spec: AssertionSpec) -> str:
    """How a check's expectation is shown: the value, `schema`, `NAME schema`, or the negated."""
    if spec.kind == "json_schema":
        return "schema"
    if spec.kind == "tool_input":
        return f"{spec.value['name']!r} schema"
    if spec.kind == "not":
        return f"{spec.value.kind} {_expected(spec.value)}"
    return repr(spec.value)


def _what_held(spec: AssertionSpec, inner: AssertionResult, text: str) -> str:
    """What a negated check found: the text a regex matched, else the check's own detail."""
    if spec.kind == "regex":
        found = search(spec.value, text)
        if found is not None:
            return f"matched {found!r}"
    return inner.detail or "it held"


_DEFAULT_CODE = OwnCode()
TOOL_KINDS = frozenset({"tool_called", "tool_not_called", "tool_input", "stop_reason"})
CALL_KINDS = frozenset({"max_latency_ms", "max_cost_usd"})


def _result(spec: AssertionSpec, passed: bool, detail: str) -> AssertionResult:
    """The stored outcome of a check."""
    return AssertionResult(
        kind=spec.kind, expected=_expected(spec), passed=passed, detail=detail, weight=spec.weight
    )


def check(spec: AssertionSpec, answer: Answer, figures: Usage | None = None) -> AssertionResult:
    """Run one check that needs no function of the team's (not `python`, not `not`)."""
    if spec.kind in TOOL_KINDS:
        passed, detail = _tool_check(spec.kind, spec.value, answer)
    elif spec.kind in CALL_KINDS:
        passed, detail = _call_check(spec.kind, spec.value, figures or Usage())
    else:
        passed, detail = _text_check(spec.kind, spec.value, answer.text)
    return _result(spec, passed, detail)


async def run_check(
    spec: AssertionSpec, answer: Answer, case: Case, figures: Usage, code: OwnCode | None = None
) -> AssertionResult:
    """Run any check against an answer of `case`; a `python` check's error is raised.

    `code` runs the `python` checks (off the loop, within its timeout; the default's is 60 s).
    """
    if spec.kind == "python":
        passed, detail = await run_python(spec, answer, case, figures, code or _DEFAULT_CODE)
    elif spec.kind == "not":
        inner = await run_check(spec.value, answer, case, figures, code)
        passed = not inner.passed
        detail = "" if passed else _what_held(spec.value, inner, answer.text)
    else:
        return check(spec, answer, figures)
    return _result(spec, passed, detail)


async def check_all(
    specs: tuple[AssertionSpec, ...],
    answer: Answer,
    case: Case,
    figures: Usage,
    code: OwnCode | None = None,
) -> list[AssertionResult]:
    """Run every check against an answer of `case`, in order."""
    return [await run_check(spec, answer, case, figures, code) for spec in specs]


def checks_score(results: list[AssertionResult]) -> float:
    """The weighted share of passed checks (1.0 with none): a `judge: false` case's score."""
    total = sum(r.weight for r in results)
    return sum(r.weight for r in results if r.passed) / total if total else 1.0
