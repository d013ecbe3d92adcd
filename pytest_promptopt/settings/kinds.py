"""The kinds of setting values: pydantic reads each one, the kind names the setting in errors.

pydantic is imported on the first value read, so a project that sets nothing never loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pytest_promptopt.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

CacheMode = Literal["use", "refresh", "off", "replay"]
CACHE_MODES: tuple[str, ...] = get_args(CacheMode)
Comparison = Literal["scores", "pairwise"]
"""How runs are compared (`--promptopt-compare`, a suite's `comparison`)."""
PriceEntry = tuple[str, tuple[float, ...]]


def _read(adapter: TypeAdapter[Any], value: object, strict: bool = False) -> tuple[Any, str]:
    """pydantic's reading of `value`, and '' or the type of its first complaint
    (`int_parsing`, `finite_number`, ...)."""
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value, strict=strict), ""
    except ValidationError as exc:
        return None, str(exc.errors()[0]["type"])


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """pydantic's reader of one of the plain types the kinds share."""
    from pydantic import DirectoryPath, Field, TypeAdapter

    price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
    types: dict[str, Any] = {
        "bool": bool,
        "folder": DirectoryPath,
        "prices": tuple[price, ...],
        "mapping": dict[str, Any],
    }
    return TypeAdapter(types[name])


class Kind:
    """How a setting's value is read and its default shown in help: here, text as given."""

    metavar = "NAME"

    def parse(self, name: str, value: object, rootdir: Path) -> Any:
        """The setting's value from a flag, environment or ini value; `name` labels errors."""
        return str(value)

    def show(self, default: Any) -> str:
        """The default as the help text shows it."""
        return "none" if default is None else str(default)


@dataclass(frozen=True)
class Integer(Kind):
    """A whole number of at least `minimum` (and at most `maximum`, which keeps a typo such as
    `--promptopt-judge-repeats=100000` from exhausting the machine)."""

    minimum: int
    maximum: int | None = None
    metavar = "N"

    @cached_property
    def _reader(self) -> TypeAdapter[int]:
        """pydantic's reader of the range."""
        from pydantic import Field, TypeAdapter

        return TypeAdapter(Annotated[int, Field(ge=self.minimum, le=self.maximum)])

    def parse(self, name: str, value: object, rootdir: Path) -> int:
        """The number, or a ConfigError naming the setting and its range."""
        number, problem = _read(self._reader, str(value))
        if problem:
            bound = (
                f"an integer >= {self.minimum}"
                if self.maximum is None
                else f"an integer from {self.minimum} to {self.maximum}"
            )
            raise ConfigError(f"{name} must be {bound}, got {str(value)!r}")
        return int(number)


@dataclass(frozen=True)
class Number(Kind):
    """A finite number of at least `lo` (and at most `hi`, when given)."""

    lo: float
    hi: float | None = None
    metavar = "X"

    @cached_property
    def _reader(self) -> TypeAdapter[float]:
        """pydantic's reader of the range (NaN and infinity refused)."""
        from pydantic import Field, TypeAdapter

        return TypeAdapter(Annotated[float, Field(ge=self.lo, le=self.hi, allow_inf_nan=False)])

    def parse(self, name: str, value: object, rootdir: Path) -> float:
        """The number, or a ConfigError naming the setting and its range."""
        number, problem = _read(self._reader, str(value))
        if not problem:
            return float(number)
        if problem == "float_parsing":
            need = "a number"
        elif problem == "finite_number":  # NaN compares false with every bound: refused first
            need = "a finite number"
        else:
            need = f">= {self.lo}" if self.hi is None else f"between {self.lo} and {self.hi}"
        raise ConfigError(f"{name} must be {need}, got {str(value)!r}")


@dataclass(frozen=True)
class Choice(Kind):
    """One of the words of a `Literal` type."""

    words: Any  # a Literal type, such as CacheMode
    metavar = "MODE"

    def parse(self, name: str, value: object, rootdir: Path) -> str:
        """The word, or a ConfigError listing the choices."""
        from pydantic import TypeAdapter

        word, problem = _read(TypeAdapter(self.words), str(value))
        if problem:
            options = ", ".join(get_args(self.words))
            raise ConfigError(f"{name} must be one of {options}, got {str(value)!r}")
        return str(word)


@dataclass(frozen=True)
class Shard(Kind):
    """`I/N`: shard I of N (1 <= I <= N)."""

    metavar = "I/N"

    def parse(self, name: str, value: object, rootdir: Path) -> tuple[int, int]:
        """(I, N), or a ConfigError naming the setting and the form it takes."""
        index, _, total = str(value).strip().partition("/")
        if index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total):
            return int(index), int(total)
        raise ConfigError(
            f"{name} must be I/N with 1 <= I <= N (shard I of N, such as 1/3), got {str(value)!r}"
        )


class Switch(Kind):
    """An on/off flag (store_true)."""

    def parse(self, name: str, value: object, rootdir: Path) -> bool:
        """The flag's state."""
        return bool(value)

    def show(self, default: Any) -> str:
        """'on' or 'off'."""
        return "on" if default else "off"


class Toggle(Switch):
    """An on/off flag that also has an ini key (`true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`)."""

    def parse(self, name: str, value: object, rootdir: Path) -> bool:
        """The state, or a ConfigError naming the setting and the words it takes."""
        if isinstance(value, bool):
            return value
        state, problem = _read(_adapter("bool"), str(value).strip())
        if problem:
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return bool(state)


class UnderRoot(Kind):
    """A directory; a relative one is taken under the rootdir."""

    metavar = "DIR"

    def parse(self, name: str, value: object, rootdir: Path) -> Path:
        """The absolute directory."""
        path = Path(str(value))
        return path if path.is_absolute() else rootdir / path

    def show(self, default: Any) -> str:
        """The default under `<rootdir>`."""
        return f"<rootdir>/{Path(default).as_posix()}"


class FileUnderRoot(UnderRoot):
    """A file; a relative one is taken under the rootdir."""

    metavar = "FILE"

    def show(self, default: Any) -> str:
        """'none' or the default under `<rootdir>`."""
        return "none" if default is None else super().show(default)


class DatabaseUrl(Kind):
    """An SQLAlchemy URL; a plain path is an SQLite file (a relative one under the rootdir)."""

    metavar = "URL"

    def parse(self, name: str, value: object, rootdir: Path) -> str:
        """The URL."""
        url = str(value)
        return url if "://" in url else f"sqlite:///{UnderRoot().parse(name, url, rootdir)}"

    def show(self, default: Any) -> str:
        """The default's SQLite URL under `<rootdir>`."""
        return f"sqlite:///{UnderRoot().show(default)}"


class Folders(Kind):
    """Folders, one per line in the ini (`os.pathsep`-separated on the command line); a relative
    one is taken under the rootdir. Each must exist."""

    metavar = "PATHS"

    def parse(self, name: str, value: object, rootdir: Path) -> tuple[Path, ...]:
        """The absolute folders, or a ConfigError naming the setting, the entry and the fix."""
        if isinstance(value, list | tuple):
            entries = [str(v).strip() for v in value]
        else:
            entries = [e.strip() for e in str(value).split(os.pathsep)]
        folders: list[Path] = []
        for entry in filter(None, entries):
            if "\x00" in entry:
                raise ConfigError(f"{name}: {entry!r} holds a NUL byte; remove it")
            path = Path(entry).expanduser()
            folder = path if path.is_absolute() else rootdir / path
            if _read(_adapter("folder"), folder)[1]:
                raise ConfigError(
                    f"{name}: {entry!r} is not a folder (looked for {folder}); create it, fix "
                    "the entry (relative to the rootdir) or remove it"
                )
            folders.append(folder.resolve())
        return tuple(folders)

    def show(self, default: Any) -> str:
        """The default: only the rootdir."""
        return "the rootdir only"


class Prices(Kind):
    """Model prices, one `model = input, output[, cache_write, cache_read]` entry per line.

    Dollars per million tokens; lines may also be separated by `;` (for the flag), and blank
    lines and `#` comments are skipped. Entries already read (a settings copy) are kept.
    """

    metavar = "PRICES"
    _FORMAT = "model = input, output[, cache_write, cache_read] (USD per million tokens)"
    _PROBLEMS = {
        "float_parsing": "a price is not a number",
        "finite_number": "a price is not a finite number",
        "greater_than_equal": "a price is negative",
    }

    def parse(self, name: str, value: object, rootdir: Path) -> tuple[PriceEntry, ...]:
        """The (model, numbers) entries, or a ConfigError naming the key, the line and the fix."""
        if isinstance(value, list | tuple):
            lines: list[object] = list(value)
        else:
            lines = list(str(value).replace(";", "\n").splitlines())
        entries: list[PriceEntry] = []
        for number, raw in enumerate(lines, start=1):
            if isinstance(raw, tuple):  # an entry of a Settings being copied
                model, prices = raw
                raw = f"{model} = {', '.join(str(p) for p in prices)}"
            line = str(raw).split("#", 1)[0].strip()
            if line:
                entries.append(self._entry(name, number, line))
        return tuple(entries)

    def _entry(self, name: str, number: int, line: str) -> PriceEntry:
        """One line's entry."""
        model, sep, rest = line.partition("=")
        fields = [f.strip() for f in rest.split(",")]
        if not sep or not model.strip():
            problem = "it has no `model =`"
        elif len(fields) not in (2, 4):
            problem = f"it gives {len(fields)} price{'s' * (len(fields) != 1)}, not 2 or 4"
        else:
            numbers, error = _read(_adapter("prices"), fields)
            if not error:
                return model.strip(), numbers
            problem = self._PROBLEMS.get(error, "a price is not a number")
        where = name if name.startswith("promptopt_prices") else f"promptopt_prices ({name})"
        raise ConfigError(
            f"{where}: line {number} {line!r} is not a price ({problem}); "
            f"write it as {self._FORMAT}"
        )

    def show(self, default: Any) -> str:
        """The default: the published prices only."""
        return "published prices"


class RoleParams(Kind):
    """A structured role's own request parameters: a JSON or YAML mapping (a suite's `params`
    keys: `thinking`, `output_config: {effort}`, `max_tokens`, ...), checked at start-up."""

    metavar = "PARAMS"

    def parse(self, name: str, value: object, rootdir: Path) -> dict[str, Any]:
        """The mapping, or a ConfigError naming the setting and the format."""
        loaded: Any = value
        if not isinstance(value, dict):
            import yaml

            try:
                loaded = yaml.safe_load(str(value))
            except yaml.YAMLError as exc:
                problem = str(exc).splitlines()[0]
                raise ConfigError(
                    f"{name} is not JSON or YAML ({problem}); write a mapping such as "
                    '\'{"thinking": {"type": "adaptive"}, "max_tokens": 4096}\''
                ) from None
        if loaded is None:
            return {}
        mapping, problem = _read(_adapter("mapping"), loaded, strict=True)
        if problem:
            raise ConfigError(
                f"{name} takes a mapping of request parameters (the keys of a suite's "
                f"`params`), got {value!r}"
            )
        return dict(mapping)

    def show(self, default: Any) -> str:
        """The default: none."""
        return "none"
