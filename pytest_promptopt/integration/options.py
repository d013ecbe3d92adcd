"""Command-line flags and ini keys of the plugin, registered from the settings table."""

from __future__ import annotations

import pytest

from pytest_promptopt.settings import SETTINGS, SettingSpec


def shown_default(spec: SettingSpec) -> str:
    """A setting's default as help text shows it."""
    return spec.default_text or spec.kind.show(spec.default)


def help_text(spec: SettingSpec) -> str:
    """A setting's help: its sentence, then its environment variable and default from the table."""
    prefix = "--optimize: " if spec.group == "knobs" else ""
    env = f"env {spec.env}; " if spec.env else ""
    return f"{prefix}{spec.help} ({env}default: {shown_default(spec)})"


def add_options(parser: pytest.Parser) -> None:
    """Register every setting's flag (and its ini key, when it has one)."""
    group = parser.getgroup("promptopt", "prompt suites (pytest-promptopt)")
    for spec in SETTINGS:
        text = help_text(spec)
        if spec.action == "store_true":
            # With an ini key too, "not given" stays None so that the ini value applies.
            default = None if spec.ini else spec.default
            group.addoption(
                spec.flag, action="store_true", dest=spec.dest, default=default, help=text
            )
            if spec.ini:
                parser.addini(spec.ini, help=text, type=spec.ini_type, default=None)
            continue
        optional = {"nargs": "?", "const": spec.const} if spec.action == "optional" else {}
        metavar = spec.metavar or spec.kind.metavar
        # The default stays None here, so resolve_settings can tell "not given" from a value.
        group.addoption(
            spec.flag, dest=spec.dest, default=None, metavar=metavar, help=text, **optional
        )
        if spec.ini:
            parser.addini(spec.ini, help=text, type=spec.ini_type, default=None)
