"""Settings: one dataclass resolved from flags, environment, ini keys and defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import ConfigError

CACHE_MODES = ("use", "refresh", "off", "replay")
DEFAULT_MODEL = "claude-haiku-4-5"
SIMULATED_MODEL = "simulated"


@dataclass(frozen=True)
class OptimizeSettings:
    """The knobs of the optimization pipeline."""

    candidates: int = 6
    quick_tests: int = 6
    rigorous_tests: int = 6
    top_k: int = 3
    top_m: int = 2
    iterations: int = 3
    samples: int = 1


@dataclass(frozen=True)
class Settings:
    """Everything the plugin is configured with; never holds secrets."""

    rootdir: Path
    db_url: str
    model: str = DEFAULT_MODEL
    judge_model: str | None = None
    threshold: float = 0.7
    concurrency: int = 8
    cache_mode: str = "use"
    max_calls: int | None = None
    budget_usd: float | None = None
    report_dir: Path = Path(".promptopt/reports")
    optimize: bool = False
    resume: str | None = None
    apply: bool = False
    timeout_s: float = 60.0
    max_retries: int = 4
    knobs: OptimizeSettings = field(default_factory=OptimizeSettings)

    @property
    def effective_judge_model(self) -> str:
        """The judge and generator model: the configured one, else the model under test."""
        return self.judge_model or self.model

    @property
    def uses_simulator(self) -> bool:
        """True when the offline simulator answers any role."""
        return SIMULATED_MODEL in (self.model, self.effective_judge_model)

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON-safe data for the run row and reports (database password hidden)."""
        from pytest_promptopt.storage.urls import hide_password

        data = asdict(self)
        data["rootdir"] = str(self.rootdir)
        data["report_dir"] = str(self.report_dir)
        data["db_url"] = hide_password(self.db_url)
        return data


def _to_int(name: str, minimum: int) -> Callable[[str], int]:
    def convert(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {raw!r}")
        return value

    return convert


def _to_float(name: str, lo: float, hi: float | None = None) -> Callable[[str], float]:
    def convert(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise ConfigError(f"{name} must be {bound}, got {raw!r}")
        return value

    return convert


def _cache_mode(raw: str) -> str:
    if raw not in CACHE_MODES:
        raise ConfigError(f"--promptopt-cache must be one of {', '.join(CACHE_MODES)}, got {raw!r}")
    return raw


class _Resolver:
    """Looks a setting up as flag > environment > ini > default."""

    def __init__(self, option: Callable[[str], Any], ini: Callable[[str], Any]) -> None:
        self._option = option
        self._ini = ini

    def get(self, dest: str, ini: str | None, env: str | None, default: Any) -> Any:
        value = self._option(dest)
        if value is not None:
            return value
        if env and os.environ.get(env):
            return os.environ[env]
        if ini:
            raw = self._ini(ini)
            if raw not in (None, "", []):
                return raw
        return default


def resolve_settings(
    rootdir: Path, option: Callable[[str], Any], ini: Callable[[str], Any]
) -> Settings:
    """Build Settings from pytest's option and ini lookups; raises ConfigError on bad values."""
    r = _Resolver(option, ini)

    def conv(value: Any, converter: Callable[[str], Any]) -> Any:
        return None if value is None else converter(str(value))

    default_db = f"sqlite:///{rootdir / '.promptopt' / 'promptopt.db'}"
    report_dir = Path(
        str(r.get("promptopt_report_dir", "promptopt_report_dir", None, ".promptopt/reports"))
    )
    if not report_dir.is_absolute():
        report_dir = rootdir / report_dir
    knobs = OptimizeSettings(
        **{
            name: conv(
                r.get(f"promptopt_{name}", f"promptopt_{name}", None, default),
                _to_int(f"promptopt_{name}", 1),
            )
            for name, default in asdict(OptimizeSettings()).items()
        }
    )
    if knobs.top_m > knobs.top_k:
        raise ConfigError(
            f"promptopt_top_m ({knobs.top_m}) cannot exceed promptopt_top_k ({knobs.top_k})"
        )
    db_url = str(r.get("promptopt_db", "promptopt_db", "PROMPTOPT_DB", default_db))
    if "://" not in db_url:
        db_url = f"sqlite:///{Path(db_url) if Path(db_url).is_absolute() else rootdir / db_url}"
    return Settings(
        rootdir=rootdir,
        db_url=db_url,
        model=str(r.get("promptopt_model", "promptopt_model", "PROMPTOPT_MODEL", DEFAULT_MODEL)),
        judge_model=r.get(
            "promptopt_judge_model", "promptopt_judge_model", "PROMPTOPT_JUDGE_MODEL", None
        ),
        threshold=conv(
            r.get("promptopt_threshold", "promptopt_threshold", None, 0.7),
            _to_float("--promptopt-threshold", 0.0, 1.0),
        ),
        concurrency=conv(
            r.get("promptopt_concurrency", "promptopt_concurrency", None, 8),
            _to_int("--promptopt-concurrency", 1),
        ),
        cache_mode=conv(
            r.get("promptopt_cache", "promptopt_cache", "PROMPTOPT_CACHE", "use"), _cache_mode
        ),
        max_calls=conv(
            r.get("promptopt_max_calls", "promptopt_max_calls", None, None),
            _to_int("--promptopt-max-calls", 0),
        ),
        budget_usd=conv(
            r.get("promptopt_budget_usd", "promptopt_budget_usd", None, None),
            _to_float("--promptopt-budget-usd", 0.0),
        ),
        report_dir=report_dir,
        optimize=bool(option("promptopt_optimize")),
        resume=option("promptopt_resume"),
        apply=bool(option("promptopt_apply")),
        timeout_s=conv(
            r.get("promptopt_timeout", "promptopt_timeout", None, 60.0),
            _to_float("--promptopt-timeout", 0.001),
        ),
        max_retries=conv(
            r.get("promptopt_max_retries", "promptopt_max_retries", None, 4),
            _to_int("--promptopt-max-retries", 0),
        ),
        knobs=knobs,
    )
