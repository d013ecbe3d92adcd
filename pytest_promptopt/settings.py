"""Settings: one table (`SETTINGS`) gives every setting's flag, ini key, environment variable,
default, reading and help; the dataclasses, `resolve_settings` and the pytest options follow it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_promptopt.errors import ConfigError

CACHE_MODES = ("use", "refresh", "off", "replay")
DEFAULT_MODEL = "claude-haiku-4-5"
SIMULATED_MODEL = "simulated"


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

    def parse(self, name: str, value: object, rootdir: Path) -> int:
        """The number, or a ConfigError naming the setting and its range."""
        raw = str(value)
        try:
            number: int | None = int(raw)
        except ValueError:
            number = None
        too_big = number is not None and self.maximum is not None and number > self.maximum
        if number is None or number < self.minimum or too_big:
            bound = (
                f"an integer >= {self.minimum}"
                if self.maximum is None
                else f"an integer from {self.minimum} to {self.maximum}"
            )
            raise ConfigError(f"{name} must be {bound}, got {raw!r}")
        return number


@dataclass(frozen=True)
class Number(Kind):
    """A number of at least `lo` (and at most `hi`, when given)."""

    lo: float
    hi: float | None = None
    metavar = "X"

    def parse(self, name: str, value: object, rootdir: Path) -> float:
        """The number, or a ConfigError naming the setting and its range."""
        raw = str(value)
        try:
            number = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(number):  # NaN compares false with every bound, so it would pass
            raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        if number < self.lo or (self.hi is not None and number > self.hi):
            bound = f">= {self.lo}" if self.hi is None else f"between {self.lo} and {self.hi}"
            raise ConfigError(f"{name} must be {bound}, got {raw!r}")
        return number


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few words."""

    options: tuple[str, ...]
    metavar = "MODE"

    def parse(self, name: str, value: object, rootdir: Path) -> str:
        """The word, or a ConfigError listing the choices."""
        raw = str(value)
        if raw not in self.options:
            raise ConfigError(f"{name} must be one of {', '.join(self.options)}, got {raw!r}")
        return raw


class Switch(Kind):
    """An on/off flag (store_true)."""

    def parse(self, name: str, value: object, rootdir: Path) -> bool:
        """The flag's state."""
        return bool(value)

    def show(self, default: Any) -> str:
        """'on' or 'off'."""
        return "on" if default else "off"


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


class Toggle(Switch):
    """An on/off flag that also has an ini key (`true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`)."""

    def parse(self, name: str, value: object, rootdir: Path) -> bool:
        """The state, or a ConfigError naming the setting and the words it takes."""
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("true", "yes", "1", "on"):
            return True
        if word in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")


class FileUnderRoot(UnderRoot):
    """A file; a relative one is taken under the rootdir."""

    metavar = "FILE"

    def show(self, default: Any) -> str:
        """'none' or the default under `<rootdir>`."""
        return "none" if default is None else super().show(default)


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
            if not folder.is_dir():
                raise ConfigError(
                    f"{name}: {entry!r} is not a folder (looked for {folder}); create it, fix "
                    "the entry (relative to the rootdir) or remove it"
                )
            folders.append(folder.resolve())
        return tuple(folders)

    def show(self, default: Any) -> str:
        """The default: only the rootdir."""
        return "the rootdir only"


PriceEntry = tuple[str, tuple[float, ...]]


class Prices(Kind):
    """Model prices, one `model = input, output[, cache_write, cache_read]` entry per line.

    Dollars per million tokens; lines may also be separated by `;` (for the flag), and blank
    lines and `#` comments are skipped.
    """

    metavar = "PRICES"
    _FORMAT = "model = input, output[, cache_write, cache_read] (USD per million tokens)"

    def parse(self, name: str, value: object, rootdir: Path) -> tuple[PriceEntry, ...]:
        """The (model, numbers) entries, or a ConfigError naming the key, the line and the fix."""
        if isinstance(value, list | tuple):
            lines: list[object] = list(value)
        else:
            lines = list(str(value).replace(";", "\n").splitlines())
        entries: list[PriceEntry] = []
        for number, raw in enumerate(lines, start=1):
            line = str(raw).split("#", 1)[0].strip()
            if line:
                entries.append(self._entry(name, number, line))
        return tuple(entries)

    def _entry(self, name: str, number: int, line: str) -> PriceEntry:
        """One line's entry."""
        model, sep, rest = line.partition("=")
        fields = [f.strip() for f in rest.split(",")]
        problem = None
        if not sep or not model.strip():
            problem = "it has no `model =`"
        elif len(fields) not in (2, 4):
            problem = f"it gives {len(fields)} price{'s' * (len(fields) != 1)}, not 2 or 4"
        else:
            try:
                numbers = tuple(float(f) for f in fields)
            except ValueError:
                problem = "a price is not a number"
            else:
                if not all(math.isfinite(n) for n in numbers):
                    problem = "a price is not a finite number"
                elif any(n < 0 for n in numbers):
                    problem = "a price is negative"
                else:
                    return model.strip(), numbers
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
        if isinstance(value, dict):
            loaded: Any = value
        else:
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
        if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
            raise ConfigError(
                f"{name} takes a mapping of request parameters (the keys of a suite's "
                f"`params`), got {value!r}"
            )
        return dict(loaded)

    def show(self, default: Any) -> str:
        """The default: none."""
        return "none"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its attribute, flag, ini key, environment variable, default, kind and help."""

    name: str  # attribute on Settings (group "run") or on OptimizeSettings (group "knobs")
    flag: str
    help: str
    default: Any = None
    ini: str | None = None
    env: str | None = None
    kind: Kind = field(default_factory=Kind)
    ini_type: Literal["string", "linelist"] = "string"
    group: Literal["run", "knobs"] = "run"
    # "optional": the flag's value may be left out, which gives `const`
    action: Literal["store", "store_true", "optional"] = "store"
    const: str | None = None
    metavar: str = ""  # else the kind's
    default_text: str | None = None  # help's wording of a default that is no literal value

    @property
    def dest(self) -> str:
        """The option's destination (`--promptopt-max-calls` -> `promptopt_max_calls`)."""
        bare = self.flag.lstrip("-").removeprefix("promptopt-")
        return "promptopt_" + bare.replace("-", "_")

    @property
    def label(self) -> str:
        """The name errors use: a pipeline knob's ini key, any other setting's flag."""
        return self.ini if self.group == "knobs" and self.ini else self.flag


def _switch(name: str, flag: str, text: str) -> SettingSpec:
    """An on/off flag with no ini key, off by default."""
    return SettingSpec(name, flag, text, False, kind=Switch(), action="store_true")


def _knob(name: str, default: int, text: str, maximum: int) -> SettingSpec:
    """One `--optimize` pipeline knob: an integer from 1 to `maximum`, a flag and an ini key."""
    ini = f"promptopt_{name}"
    flag = "--" + ini.replace("_", "-")
    return SettingSpec(name, flag, text, default, ini, kind=Integer(1, maximum), group="knobs")


SETTINGS: tuple[SettingSpec, ...] = (
    _switch(
        "optimize",
        "--optimize",
        "run the optimization pipeline for each selected suite first; its items then judge "
        "the best prompt",
    ),
    SettingSpec(
        "db_url",
        "--promptopt-db",
        "SQLAlchemy database URL (PostgreSQL for shared history); a plain path is an SQLite file",
        ".promptopt/promptopt.db",
        ini="promptopt_db",
        env="PROMPTOPT_DB",
        kind=DatabaseUrl(),
    ),
    SettingSpec(
        "model",
        "--promptopt-model",
        f"model under test; '{SIMULATED_MODEL}' selects the offline simulator",
        DEFAULT_MODEL,
        ini="promptopt_model",
        env="PROMPTOPT_MODEL",
    ),
    SettingSpec(
        "judge_model",
        "--promptopt-judge-model",
        "judge model",
        ini="promptopt_judge_model",
        env="PROMPTOPT_JUDGE_MODEL",
        default_text="the model under test",
    ),
    SettingSpec(
        "judge_repeats",
        "--promptopt-judge-repeats",
        "judge calls per answer; the median per criterion is the verdict and the spread is stored",
        1,
        ini="promptopt_judge_repeats",
        kind=Integer(1, 25),
    ),
    SettingSpec(
        "optimizer_model",
        "--promptopt-optimizer-model",
        "--optimize: model that writes candidate prompts and cases and analyses failures "
        "(best a stronger one than the model under test)",
        ini="promptopt_optimizer_model",
        env="PROMPTOPT_OPTIMIZER_MODEL",
        default_text="the judge model",
    ),
    SettingSpec(
        "judge_params",
        "--promptopt-judge-params",
        "the judge's own request parameters, a JSON or YAML mapping of a suite's `params` "
        "keys (thinking, output_config.effort, max_tokens, ...)",
        ini="promptopt_judge_params",
        kind=RoleParams(),
    ),
    SettingSpec(
        "optimizer_params",
        "--promptopt-optimizer-params",
        "--optimize: the writers' and analyst's own request parameters (as "
        "--promptopt-judge-params)",
        ini="promptopt_optimizer_params",
        kind=RoleParams(),
    ),
    SettingSpec(
        "holdout",
        "--promptopt-holdout",
        "--optimize: share of the given cases held out from the prompt writers to choose and "
        "gate the best prompt",
        0.3,
        ini="promptopt_holdout",
        kind=Number(0.0, 0.9),
    ),
    SettingSpec(
        "confirm",
        "--promptopt-confirm",
        "--optimize: share of the given cases kept from the search for the final decision "
        "(the original against the winner, scored once); 0: none, so the original stays",
        ini="promptopt_confirm",
        kind=Number(0.0, 0.6),
        default_text="0.3, at least 3 cases, from 6 given cases on",
    ),
    SettingSpec(
        "threshold",
        "--promptopt-threshold",
        "pass mark of the cases whose suite and case set no `threshold` (a case's own "
        "threshold wins, then its suite's; this flag is only the default)",
        0.7,
        ini="promptopt_threshold",
        kind=Number(0.0, 1.0),
    ),
    SettingSpec(
        "min_pass_rate",
        "--promptopt-min-pass-rate",
        "grade each suite as a whole: its failing cases are xfailed and the session fails when "
        "its pass rate is under this (a suite's own `min_pass_rate` wins)",
        ini="promptopt_min_pass_rate",
        kind=Number(0.0, 1.0),
        default_text="off",
    ),
    SettingSpec(
        "concurrency",
        "--promptopt-concurrency",
        "model calls in flight per process",
        8,
        ini="promptopt_concurrency",
        kind=Integer(1, 1024),
    ),
    SettingSpec(
        "cache_mode",
        "--promptopt-cache",
        f"response cache mode: {', '.join(CACHE_MODES)}",
        "use",
        ini="promptopt_cache",
        env="PROMPTOPT_CACHE",
        kind=Choice(CACHE_MODES),
    ),
    SettingSpec(
        "max_calls",
        "--promptopt-max-calls",
        "hard cap on API calls per pytest run",
        ini="promptopt_max_calls",
        kind=Integer(0),
    ),
    SettingSpec(
        "budget_usd",
        "--promptopt-budget-usd",
        "hard cap on spend per pytest run, in USD",
        ini="promptopt_budget_usd",
        kind=Number(0.0),
    ),
    SettingSpec(
        "resume",
        "--promptopt-resume",
        "continue an interrupted optimize run: RUN, or the latest when no id is given",
        action="optional",
        const="latest",
        metavar="RUN",
        default_text="off",
    ),
    SettingSpec(
        "report_dir",
        "--promptopt-report-dir",
        "where reports go",
        Path(".promptopt/reports"),
        ini="promptopt_report_dir",
        kind=UnderRoot(),
    ),
    _switch(
        "apply",
        "--promptopt-apply",
        "--optimize: write the best prompt to the suite's prompt file when it is better",
    ),
    SettingSpec(
        "use_best",
        "--promptopt-use-best",
        "--optimize: the items judge the search's best prompt even when the confirmation did "
        "not prove it better than the original (--promptopt-apply still needs the proof)",
        False,
        ini="promptopt_use_best",
        kind=Toggle(),
        action="store_true",
    ),
    SettingSpec(
        "timeout_s",
        "--promptopt-timeout",
        "seconds before one model request times out (every role)",
        ini="promptopt_timeout",
        kind=Number(0.001),
        default_text="sized per request from max_tokens",
    ),
    SettingSpec(
        "check_timeout_s",
        "--promptopt-check-timeout",
        "seconds a sync or async `python` check, or a suite's `target` function, may take on "
        "its own (its model calls not counted) before its item errors",
        60.0,
        ini="promptopt_check_timeout",
        kind=Number(0.001),
    ),
    SettingSpec(
        "max_retries",
        "--promptopt-max-retries",
        "SDK retries for 5xx, timeout and connection errors; refusals wait for the account's limit",
        4,
        ini="promptopt_max_retries",
        kind=Integer(0, 50),
    ),
    SettingSpec(
        "baseline",
        "--promptopt-baseline",
        "compare each suite with its blessed baseline run (`promptopt bless`); "
        "a regressed suite fails the session",
        False,
        ini="promptopt_baseline",
        kind=Toggle(),
        action="store_true",
    ),
    SettingSpec(
        "regression_margin",
        "--promptopt-regression-margin",
        "--promptopt-baseline: the drop in mean score that counts as a regression",
        0.02,
        ini="promptopt_regression_margin",
        kind=Number(0.0, 1.0),
    ),
    SettingSpec(
        "prices",
        "--promptopt-prices",
        "model prices that add to or override the published ones: "
        "`model = input, output[, cache_write, cache_read]` in USD per million tokens, one per "
        "line (or `;`-separated)",
        (),
        ini="promptopt_prices",
        kind=Prices(),
    ),
    SettingSpec(
        "cache_file",
        "--promptopt-cache-file",
        "a JSONL cache file (from `promptopt cache export`) whose answers are looked up before "
        "the database's, so CI can replay from a file committed next to the suites",
        ini="promptopt_cache_file",
        kind=FileUnderRoot(),
    ),
    SettingSpec(
        "batch",
        "--promptopt-batch",
        "send the evaluations' model calls (every uncached call of a plain run) through the "
        "Message Batches API, at half price; a killed run resumes its submitted batch",
        False,
        ini="promptopt_batch",
        kind=Toggle(),
        action="store_true",
    ),
    SettingSpec(
        "allowed_paths",
        "--promptopt-allowed-paths",
        "folders outside the rootdir whose files suites may read (prompt, case and media files)",
        (),
        ini="promptopt_allowed_paths",
        kind=Folders(),
        ini_type="linelist",
    ),
    _knob("candidates", 6, "candidate prompts", 100),
    _knob("quick_tests", 6, "generated quick cases", 1000),
    _knob("rigorous_tests", 6, "generated rigorous cases", 1000),
    _knob("top_k", 3, "candidates kept after quick tests", 100),
    _knob("top_m", 2, "candidates refined after rigorous tests", 100),
    _knob("iterations", 3, "refinement iterations per track", 100),
    _knob("samples", 1, "samples per case when scores are close", 50),
)
_BY_NAME = {spec.name: spec for spec in SETTINGS}


def _default(name: str) -> Any:
    """The table's default of one setting, for the dataclass fields."""
    return _BY_NAME[name].default


@dataclass(frozen=True)
class OptimizeSettings:
    """The knobs of the optimization pipeline."""

    candidates: int = _default("candidates")
    quick_tests: int = _default("quick_tests")
    rigorous_tests: int = _default("rigorous_tests")
    top_k: int = _default("top_k")
    top_m: int = _default("top_m")
    iterations: int = _default("iterations")
    samples: int = _default("samples")


@dataclass(frozen=True)
class Settings:
    """Everything the plugin is configured with; never holds secrets."""

    rootdir: Path
    db_url: str = field(repr=False)  # may hold a password: never in a repr or a traceback
    model: str = _default("model")
    judge_model: str | None = _default("judge_model")
    judge_repeats: int = _default("judge_repeats")
    optimizer_model: str | None = _default("optimizer_model")
    judge_params: dict[str, Any] | None = None
    optimizer_params: dict[str, Any] | None = None
    holdout: float = _default("holdout")
    confirm: float | None = _default("confirm")
    threshold: float = _default("threshold")
    min_pass_rate: float | None = _default("min_pass_rate")
    concurrency: int = _default("concurrency")
    cache_mode: str = _default("cache_mode")
    max_calls: int | None = _default("max_calls")
    budget_usd: float | None = _default("budget_usd")
    report_dir: Path = _default("report_dir")  # noqa: RUF009 (a Path is immutable)
    optimize: bool = _default("optimize")
    resume: str | None = _default("resume")
    apply: bool = _default("apply")
    use_best: bool = _default("use_best")
    timeout_s: float | None = _default("timeout_s")
    check_timeout_s: float = _default("check_timeout_s")
    max_retries: int = _default("max_retries")
    baseline: bool = _default("baseline")
    regression_margin: float = _default("regression_margin")
    prices: tuple[PriceEntry, ...] = _default("prices")
    cache_file: Path | None = None
    batch: bool = _default("batch")
    allowed_paths: tuple[Path, ...] = _default("allowed_paths")
    knobs: OptimizeSettings = field(default_factory=OptimizeSettings)

    @property
    def effective_judge_model(self) -> str:
        """The judge and generator model: the configured one, else the model under test."""
        return self.judge_model or self.model

    @property
    def effective_optimizer_model(self) -> str:
        """The writer roles' model (prompts, cases, analysis): configured, else the judge's."""
        return self.optimizer_model or self.effective_judge_model

    @property
    def uses_simulator(self) -> bool:
        """True when the offline simulator answers any role."""
        models = (self.model, self.effective_judge_model)
        return SIMULATED_MODEL in models or (
            self.optimize and self.effective_optimizer_model == SIMULATED_MODEL
        )

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON-safe data for the run row and reports (database password hidden)."""
        from pytest_promptopt.storage.urls import hide_password

        data = asdict(self)
        data["rootdir"] = str(self.rootdir)
        data["report_dir"] = str(self.report_dir)
        data["cache_file"] = None if self.cache_file is None else str(self.cache_file)
        data["allowed_paths"] = [str(p) for p in self.allowed_paths]
        data["prices"] = {model: list(numbers) for model, numbers in self.prices}
        data["db_url"] = hide_password(self.db_url)
        return data


def _lookup(
    spec: SettingSpec, option: Callable[[str], Any], ini: Callable[[str], Any]
) -> tuple[Any, str]:
    """A setting's raw value as flag > environment > ini > default, and the name of where it
    came from (the flag, the variable or the ini key), for its errors."""
    value = option(spec.dest)
    if value is not None:
        return value, spec.flag
    if spec.env and os.environ.get(spec.env):
        return os.environ[spec.env], spec.env
    if spec.ini:
        raw = ini(spec.ini)
        if raw not in (None, "", []):
            return raw, f"{spec.ini} (ini)"
    return spec.default, spec.label


def resolve_settings(
    rootdir: Path, option: Callable[[str], Any], ini: Callable[[str], Any]
) -> Settings:
    """Build Settings from pytest's option and ini lookups; raises ConfigError on bad values."""
    values: dict[str, dict[str, Any]] = {"run": {}, "knobs": {}}
    for spec in SETTINGS:
        raw, source = _lookup(spec, option, ini)
        value = None if raw is None else spec.kind.parse(source, raw, rootdir)
        values[spec.group][spec.name] = value
    knobs = OptimizeSettings(**values["knobs"])
    if knobs.top_m > knobs.top_k:
        raise ConfigError(
            f"promptopt_top_m ({knobs.top_m}) cannot exceed promptopt_top_k ({knobs.top_k})"
        )
    return Settings(rootdir=rootdir, knobs=knobs, **values["run"])
