"""One row of the settings table: a field's flag, keys and kind, read back from the dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints

from pytest_promptopt.settings.kinds import Integer, Kind, Switch


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its flag, help, ini key, environment variable, kind and, from the field it
    annotates, its attribute name and default."""

    flag: str
    help: str
    kind: Kind = field(default_factory=Kind)
    ini: str | None = None
    env: str | None = None
    ini_type: Literal["string", "linelist"] = "string"
    group: Literal["run", "knobs"] = "run"  # a field of Settings or of OptimizeSettings
    # "optional": the flag's value may be left out, which gives `const`
    action: Literal["store", "store_true", "optional"] = "store"
    const: str | None = None
    metavar: str = ""  # else the kind's
    default_text: str | None = None  # help's wording of a default that is no literal value
    name: str = ""  # the field's, filled in by `rows`
    default: Any = None  # the field's, filled in by `rows`

    @property
    def dest(self) -> str:
        """The option's destination (`--promptopt-max-calls` -> `promptopt_max_calls`)."""
        bare = self.flag.lstrip("-").removeprefix("promptopt-")
        return "promptopt_" + bare.replace("-", "_")

    @property
    def label(self) -> str:
        """The name errors use: a pipeline knob's ini key, any other setting's flag."""
        return self.ini if self.group == "knobs" and self.ini else self.flag


def setting(
    flag: str,
    text: str,
    kind: Kind | None = None,
    *,
    ini: bool = True,
    env: bool = False,
    **more: Any,
) -> SettingSpec:
    """A row whose ini key and environment variable follow its flag (`--promptopt-db`:
    `promptopt_db`, `PROMPTOPT_DB`)."""
    spec = SettingSpec(flag, text, kind or Kind(), **more)
    return dataclasses.replace(
        spec, ini=spec.dest if ini else None, env=spec.dest.upper() if env else None
    )


def switch(flag: str, text: str) -> SettingSpec:
    """An on/off flag with no ini key, off by default."""
    return SettingSpec(flag, text, Switch(), action="store_true")


def knob(name: str, text: str, maximum: int) -> SettingSpec:
    """One `--optimize` pipeline knob: an integer from 1 to `maximum`, a flag and an ini key."""
    return setting(
        f"--promptopt-{name.replace('_', '-')}", text, Integer(1, maximum), group="knobs"
    )


def rows(model: type) -> tuple[SettingSpec, ...]:
    """The rows of a settings dataclass: each field's SettingSpec with its name and default."""
    hints = get_type_hints(model, include_extras=True)
    found: list[SettingSpec] = []
    for each in dataclasses.fields(model):
        for spec in getattr(hints[each.name], "__metadata__", ()):
            if isinstance(spec, SettingSpec):
                found.append(dataclasses.replace(spec, name=each.name, default=each.default))
    return tuple(found)
