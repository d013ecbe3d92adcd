"""Templates: sandboxed Jinja2, strict about undefined names, compiled once; placeholders."""

from __future__ import annotations

import pytest

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites import templates
from pytest_promptopt.suites.templates import (
    TemplateError,
    placeholder_change,
    placeholders,
    render,
)


def test_render_fills_variables_and_keeps_the_text_as_written() -> None:
    out = render(
        "You work for {{ shop }}.\n{% if vip %}Be quick.{% endif %}\n",
        {"shop": "N&W <1>", "vip": True},
    )
    assert out == "You work for N&W <1>.\nBe quick.\n"  # no autoescape, trailing newline kept


def test_an_undefined_variable_is_named_with_what_is_defined() -> None:
    with pytest.raises(TemplateError) as info:
        render("Hello {{ name }} from {{ shop }}", {"shop": "N"})
    assert str(info.value) == (
        "undefined variable 'name'; define it in the suite's `vars` or the case's `vars` "
        "(defined: shop)"
    )
    assert info.value.missing == ("name",)
    assert isinstance(info.value, SuiteError)


def test_undefined_inside_a_loop_and_with_no_vars_at_all() -> None:
    with pytest.raises(TemplateError, match=r"undefined variable 'items'; .*\(defined: none\)"):
        render("{% for i in items %}{{ i }}{% endfor %}", {})


def test_default_filter_and_is_defined_still_work_under_strict_undefined() -> None:
    assert render("{{ tone | default('plain') }}", {}) == "plain"
    assert render("{% if tone is defined %}{{ tone }}{% else %}-{% endif %}", {}) == "-"


def test_a_missing_attribute_says_so() -> None:
    with pytest.raises(TemplateError, match="'dict object' has no attribute 'city'"):
        render("{{ user.city }}", {"user": {"name": "x"}})


def test_the_sandbox_refuses_unsafe_attributes() -> None:
    with pytest.raises(TemplateError, match="SecurityError: access to attribute '__class__'"):
        render("{{ ''.__class__.__mro__ }}", {})


def test_a_syntax_error_names_the_line_of_the_template() -> None:
    with pytest.raises(TemplateError) as info:
        render("line one\n{{ shop", {"shop": "x"})
    message = str(info.value)
    assert message.startswith("invalid template: unexpected end of template")
    assert "(line 2 of the template)" in message
    assert "{{ '{{' }}" in message  # how to write a literal brace pair


def test_a_failing_filter_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="template failed to render: TypeError"):
        render("{{ n | round(x) }}", {"n": 1.5, "x": "two"})


def test_compiled_templates_are_cached() -> None:
    template = "cached {{ unique_name_for_this_test }}"
    first = templates._parsed(template)[0]
    assert render(template, {"unique_name_for_this_test": 1}) == "cached 1"
    assert templates._parsed(template)[0] is first


def test_text_without_markup_is_returned_without_compiling() -> None:
    before = templates._parsed.cache_info().currsize
    text = "no markup here, even {braces} and 100% of it\n"
    assert render(text, {}) is text
    assert placeholders(text) == frozenset()
    assert templates._parsed.cache_info().currsize == before


def test_placeholders_are_the_free_variables_without_globals() -> None:
    found = placeholders(
        "{{ a }} {% if b %}{{ c.d }}{% endif %}{% for i in items %}{{ i }}{% endfor %}"
        "{% set local = 1 %}{{ local }}{% for n in range(3) %}{{ n }}{% endfor %}"
    )
    assert found == frozenset({"a", "b", "c", "items"})


def test_placeholders_of_a_broken_template_raise() -> None:
    with pytest.raises(TemplateError, match="invalid template"):
        placeholders("{% if x %}")


def test_placeholder_change_none_when_the_same() -> None:
    assert placeholder_change("For {{ shop }}: {{ q }}", "Be kind. {{q}} at {{ shop }}") is None
    assert placeholder_change("plain", "also plain") is None


def test_placeholder_change_names_what_was_dropped_and_invented() -> None:
    reason = placeholder_change("For {{ shop }}, {{ name }}", "For {{ name }} in {{ city }}")
    assert reason == (
        "the candidate drops {{ shop }} and invents {{ city }}; it must keep exactly the "
        "placeholders: name, shop"
    )
    assert placeholder_change("{{ a }}", "no vars") == (
        "the candidate drops {{ a }}; it must keep exactly the placeholders: a"
    )
    assert placeholder_change("none", "{{ b }}") == (
        "the candidate invents {{ b }}; it must keep exactly the placeholders: none"
    )


def test_placeholder_change_rejects_a_candidate_that_does_not_parse() -> None:
    reason = placeholder_change("{{ a }}", "{{ a ")
    assert reason is not None and reason.startswith("the candidate is not a valid template:")
