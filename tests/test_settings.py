"""The settings table: pytest options, precedence, defaults, paths and validation messages."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.integration.options import help_text
from pytest_promptopt.settings import SETTINGS, OptimizeSettings, Settings, resolve_settings

# The defaults and environment variables PRODUCT.md documents, written out independently of the
# table, so a changed default in the table fails here.
DOCUMENTED = {
    "--optimize": (None, "off"),
    "--promptopt-db": ("PROMPTOPT_DB", "sqlite:///<rootdir>/.promptopt/promptopt.db"),
    "--promptopt-model": ("PROMPTOPT_MODEL", "claude-haiku-4-5"),
    "--promptopt-judge-model": ("PROMPTOPT_JUDGE_MODEL", "the model under test"),
    "--promptopt-user-model": ("PROMPTOPT_USER_MODEL", "the judge's model"),
    "--promptopt-threshold": (None, "0.7"),
    "--promptopt-concurrency": (None, "8"),
    "--promptopt-cache": ("PROMPTOPT_CACHE", "use"),
    "--promptopt-max-calls": (None, "none"),
    "--promptopt-budget-usd": (None, "none"),
    "--promptopt-report-dir": (None, "<rootdir>/.promptopt/reports"),
    "--promptopt-timeout": (None, "sized per request from max_tokens"),
    "--promptopt-max-retries": (None, "4"),
    "--promptopt-candidates": (None, "6"),
    "--promptopt-top-k": (None, "3"),
    "--promptopt-top-m": (None, "2"),
}


@pytest.fixture(autouse=True)
def _no_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PROMPTOPT_* variable leaks in from the outer environment."""
    for spec in SETTINGS:
        if spec.env:
            monkeypatch.delenv(spec.env, raising=False)


def resolve(tmp_path: Path, flags: dict[str, Any], ini: dict[str, Any]) -> Settings:
    """Settings from plain dicts standing in for pytest's option and ini lookups."""
    return resolve_settings(tmp_path, flags.get, ini.get)


def _help(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> str:
    """`pytest --help` of a fresh project, on one line with single spaces."""
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside a value such as claude-haiku-4-5
    result = pytester.runpytest("--help")
    assert result.ret == 0, result.stderr.str()
    return " ".join(result.stdout.str().split())


def test_help_registers_exactly_the_table(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _help(pytester, monkeypatch)
    flags = set(re.findall(r"(?<![\w-])(--optimize|--promptopt-[a-z-]+)(?=[\s=])", text))
    assert flags == {spec.flag for spec in SETTINGS}
    ini_keys = set(re.findall(r"\b(promptopt_[a-z_]+) \((?:string|linelist)\):", text))
    assert ini_keys == {spec.ini for spec in SETTINGS if spec.ini}
    for spec in SETTINGS:
        assert help_text(spec) in text, spec.flag
        if spec.ini:
            assert f"{spec.ini} ({spec.ini_type}): {help_text(spec)}" in text


def test_help_shows_the_documented_defaults_and_env_vars(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _help(pytester, monkeypatch)
    for flag, (env, default) in DOCUMENTED.items():
        shown = help_text(next(spec for spec in SETTINGS if spec.flag == flag))
        assert shown.endswith(f"default: {default})"), shown
        assert (f"(env {env}; " in shown) is (env is not None), shown
        assert shown in text


def test_table_is_consistent() -> None:
    names = [spec.name for spec in SETTINGS]
    assert len(names) == len(set(names))
    for spec in SETTINGS:
        assert spec.ini in (None, spec.dest), spec.flag
        assert spec.action in ("store_true", "optional") or spec.ini, f"{spec.flag} has no ini key"
        assert not re.search(r"\(default|default:|\(\d", spec.help), "help repeats a default"


def test_the_table_is_read_from_the_fields(tmp_path: Path) -> None:
    by_name = {spec.name: spec for spec in SETTINGS}
    knob_fields = {f.name: f for f in dataclasses.fields(OptimizeSettings)}
    run_fields = {f.name: f for f in dataclasses.fields(Settings)}
    assert set(knob_fields) == {s.name for s in SETTINGS if s.group == "knobs"}
    assert set(run_fields) - {"rootdir", "knobs"} == {s.name for s in SETTINGS if s.group == "run"}
    plain = Settings(rootdir=tmp_path)
    for name in set(run_fields) - {"rootdir", "knobs", "db_url", "report_dir"}:
        assert getattr(plain, name) == by_name[name].default, name
    for name in knob_fields:
        assert getattr(plain.knobs, name) == by_name[name].default, name
    assert by_name["db_url"].default == ".promptopt/promptopt.db"
    assert by_name["report_dir"].default == Path(".promptopt/reports")
    # A Settings built in code takes its paths under its rootdir too.
    assert plain.db_url == f"sqlite:///{tmp_path / '.promptopt' / 'promptopt.db'}"
    assert plain.report_dir == tmp_path / ".promptopt" / "reports"
    assert "db_url" not in repr(plain)


def test_a_settings_is_checked_and_copied(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^promptopt_top_m \(4\) cannot exceed"):
        OptimizeSettings(top_m=4)
    s = resolve(tmp_path, {"promptopt_prices": "a = 1, 5", "promptopt_judge_params": "{x: 1}"}, {})
    copy = dataclasses.replace(s, model="other")
    assert (copy.model, copy.prices, copy.judge_params) == ("other", s.prices, {"x": 1})
    assert copy.db_url == s.db_url and copy.knobs == s.knobs


def test_nothing_set_loads_no_pydantic(tmp_path: Path) -> None:
    """Every pytest session resolves the settings: unset, they cost no pydantic import."""
    code = (
        "import sys, pathlib\n"
        "from pytest_promptopt.settings import resolve_settings\n"
        f"s = resolve_settings(pathlib.Path({str(tmp_path)!r}), {{}}.get, {{}}.get)\n"
        "print('pydantic' in sys.modules, s.concurrency)\n"
        "resolve_settings(s.rootdir, {'promptopt_concurrency': '3'}.get, {}.get)\n"
        "print('pydantic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "8", "True"]


def test_nothing_set_gives_the_dataclass_defaults(tmp_path: Path) -> None:
    s = resolve(tmp_path, {}, {})
    root_relative = {"rootdir", "db_url", "report_dir"}
    plain = Settings(rootdir=tmp_path, db_url="")
    for f in dataclasses.fields(Settings):
        if f.name not in root_relative:
            assert getattr(s, f.name) == getattr(plain, f.name), f.name
    assert s.knobs == OptimizeSettings()
    assert s.db_url == f"sqlite:///{tmp_path / '.promptopt' / 'promptopt.db'}"
    assert s.report_dir == tmp_path / ".promptopt" / "reports"
    assert s.effective_judge_model == s.model == "claude-haiku-4-5"
    assert (s.optimize, s.apply, s.resume) == (False, False, None)


def test_settings_precedence_flag_env_ini_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve(tmp_path, {}, {}).model == "claude-haiku-4-5"
    assert resolve(tmp_path, {}, {"promptopt_model": "ini-model"}).model == "ini-model"
    monkeypatch.setenv("PROMPTOPT_MODEL", "env-model")
    assert resolve(tmp_path, {}, {"promptopt_model": "ini-model"}).model == "env-model"
    flags = {"promptopt_model": "flag-model"}
    assert resolve(tmp_path, flags, {"promptopt_model": "ini-model"}).model == "flag-model"


@pytest.mark.parametrize(
    ("dest", "env", "attr", "values"),
    [
        ("promptopt_cache", "PROMPTOPT_CACHE", "cache_mode", ("use", "off", "replay", "refresh")),
        ("promptopt_judge_model", "PROMPTOPT_JUDGE_MODEL", "judge_model", (None, "i", "e", "f")),
        (
            "promptopt_db",
            "PROMPTOPT_DB",
            "db_url",
            ("<rootdir>", "sqlite:///i", "sqlite:///e", "x://f"),
        ),
        ("promptopt_threshold", None, "threshold", (0.7, "0.1", None, "0.3")),
        ("promptopt_max_calls", None, "max_calls", (None, "5", None, "7")),
        ("promptopt_top_k", None, "knobs.top_k", (3, "4", None, "5")),
    ],
)
def test_each_source_beats_the_next(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dest: str,
    env: str | None,
    attr: str,
    values: tuple[Any, str, str | None, str],
) -> None:
    default, ini_value, env_value, flag_value = values

    def got(flags: dict[str, Any], ini: dict[str, Any]) -> Any:
        value: Any = resolve(tmp_path, flags, ini)
        for part in attr.split("."):
            value = getattr(value, part)
        return value

    def parsed(raw: Any) -> Any:
        return got({dest: raw}, {})

    if default == "<rootdir>":
        default = f"sqlite:///{tmp_path / '.promptopt' / 'promptopt.db'}"
    assert got({}, {}) == default
    assert got({}, {dest: ini_value}) == parsed(ini_value) != default
    assert got({}, {dest: ""}) == got({}, {}), "an empty ini value counts as unset"
    if env is not None and env_value is not None:
        monkeypatch.setenv(env, "")
        assert got({}, {dest: ini_value}) == parsed(ini_value), "an empty env var is unset"
        monkeypatch.setenv(env, env_value)
        assert got({}, {dest: ini_value}) == parsed(env_value)
    assert got({dest: flag_value}, {dest: ini_value}) == parsed(flag_value)
    assert parsed(flag_value) != parsed(ini_value)


def test_real_pytest_config_precedence_and_actions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\npromptopt_threshold = 0.5\npromptopt_model = ini-model\n")
    monkeypatch.setenv("PROMPTOPT_MODEL", "env-model")

    def settings(*args: str) -> Settings:
        config = pytester.parseconfig(*args)
        return resolve_settings(Path(str(config.rootpath)), config.getoption, config.getini)

    plain = settings()
    assert (plain.threshold, plain.model, plain.concurrency) == (0.5, "env-model", 8)
    assert (plain.optimize, plain.apply, plain.resume) == (False, False, None)
    flagged = settings("--promptopt-threshold=0.6", "--promptopt-model=m", "--optimize")
    assert (flagged.threshold, flagged.model, flagged.optimize) == (0.6, "m", True)
    assert settings("--promptopt-resume").resume == "latest"
    assert settings("--promptopt-resume=7", "--promptopt-apply").resume == "7"
    assert settings("--promptopt-apply").apply is True


def test_paths_are_taken_under_the_rootdir(tmp_path: Path) -> None:
    assert resolve(tmp_path, {"promptopt_db": "x.db"}, {}).db_url == f"sqlite:///{tmp_path}/x.db"
    absolute = tmp_path / "elsewhere" / "y.db"
    assert resolve(tmp_path, {"promptopt_db": str(absolute)}, {}).db_url == f"sqlite:///{absolute}"
    url = "postgresql+psycopg://u@h/db"
    assert resolve(tmp_path, {}, {"promptopt_db": url}).db_url == url
    assert resolve(tmp_path, {}, {"promptopt_report_dir": "out"}).report_dir == tmp_path / "out"
    flags = {"promptopt_report_dir": str(tmp_path / "abs")}
    assert resolve(tmp_path, flags, {}).report_dir == tmp_path / "abs"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"promptopt_threshold": "1.5"},
            "--promptopt-threshold must be between 0.0 and 1.0, got '1.5'",
        ),
        ({"promptopt_threshold": "high"}, "--promptopt-threshold must be a number, got 'high'"),
        (
            {"promptopt_concurrency": "0"},
            "--promptopt-concurrency must be an integer from 1 to 1024, got '0'",
        ),
        (
            {"promptopt_max_calls": "many"},
            "--promptopt-max-calls must be an integer >= 0, got 'many'",
        ),
        ({"promptopt_budget_usd": "-1"}, "--promptopt-budget-usd must be >= 0.0, got '-1'"),
        ({"promptopt_timeout": "0"}, "--promptopt-timeout must be >= 0.001, got '0'"),
        (
            {"promptopt_max_retries": "-1"},
            "--promptopt-max-retries must be an integer from 0 to 50, got '-1'",
        ),
        (
            {"promptopt_cache": "sometimes"},
            "--promptopt-cache must be one of use, refresh, off, replay, got 'sometimes'",
        ),
        (
            {"promptopt_candidates": "0"},
            "--promptopt-candidates must be an integer from 1 to 100, got '0'",
        ),
        (
            {"promptopt_samples": "1.5"},
            "--promptopt-samples must be an integer from 1 to 50, got '1.5'",
        ),
        (
            {"promptopt_top_k": "2", "promptopt_top_m": "3"},
            "promptopt_top_m (3) cannot exceed promptopt_top_k (2)",
        ),
    ],
)
def test_settings_reject_bad_values(tmp_path: Path, flags: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, flags, {})
    assert str(info.value) == message


def test_a_bad_value_is_named_where_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ini key for an ini value, the flag for a flag's, the variable for the environment's."""
    with pytest.raises(
        ConfigError, match=r"^promptopt_concurrency \(ini\) must be an integer from 1 to 1024"
    ):
        resolve(tmp_path, {}, {"promptopt_concurrency": "zero"})
    with pytest.raises(ConfigError, match=r"^promptopt_candidates \(ini\) must be an integer"):
        resolve(tmp_path, {}, {"promptopt_candidates": "0"})
    monkeypatch.setenv("PROMPTOPT_CACHE", "sometimes")
    with pytest.raises(ConfigError, match=r"^PROMPTOPT_CACHE must be one of use"):
        resolve(tmp_path, {}, {})


def test_bad_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--promptopt-cache=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*promptopt: --promptopt-cache must be one of use, refresh*"])


def test_public_settings_hide_the_database_password(tmp_path: Path) -> None:
    s = resolve_settings(
        tmp_path, {"promptopt_db": "postgresql+psycopg://u:s3cret@db/x"}.get, {}.get
    )
    assert "s3cret" not in str(s.public_dict())


def test_the_baseline_switch_takes_its_flag_or_its_ini_key(tmp_path: Path) -> None:
    assert resolve(tmp_path, {}, {}).baseline is False
    assert resolve(tmp_path, {"promptopt_baseline": True}, {}).baseline is True
    words = {"true": True, "Yes": True, "1": True, "false": False, "off": False}
    for word, state in words.items():
        assert resolve(tmp_path, {}, {"promptopt_baseline": word}).baseline is state
    bad = r"promptopt_baseline \(ini\) must be true or false, got 'maybe'"
    with pytest.raises(ConfigError, match=bad):
        resolve(tmp_path, {}, {"promptopt_baseline": "maybe"})
    assert resolve(tmp_path, {}, {}).regression_margin == 0.02
    margin = resolve(tmp_path, {"promptopt_regression_margin": "0.05"}, {}).regression_margin
    assert margin == 0.05
    with pytest.raises(ConfigError, match="--promptopt-regression-margin must be between"):
        resolve(tmp_path, {"promptopt_regression_margin": "2"}, {})


def test_prices_read_ini_lines_and_semicolons_from_the_flag(tmp_path: Path) -> None:
    from pytest_promptopt.settings import Prices

    parsed = Prices().parse(
        "--promptopt-prices", "a = 1, 5; b = 2, 10, 2.5, 0.2  # cache rates too", tmp_path
    )
    assert parsed == (("a", (1.0, 5.0)), ("b", (2.0, 10.0, 2.5, 0.2)))
    assert Prices().parse("--promptopt-prices", ["", "# none yet"], tmp_path) == ()
    with pytest.raises(ConfigError, match=r"line 1 'a = -1, 5' is not a price \(a price is neg"):
        Prices().parse("--promptopt-prices", "a = -1, 5", tmp_path)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
@pytest.mark.parametrize(
    "flag",
    [
        "promptopt_threshold",
        "promptopt_budget_usd",
        "promptopt_min_pass_rate",
        "promptopt_holdout",
        "promptopt_regression_margin",
        "promptopt_timeout",
        "promptopt_check_timeout",
    ],
)
def test_every_number_setting_refuses_nan_and_infinity(
    tmp_path: Path, flag: str, value: str
) -> None:
    # Finding 9: NaN compares false with every bound, so `--promptopt-threshold=nan` passed.
    with pytest.raises(ConfigError, match="must be a finite number"):
        resolve(tmp_path, {flag: value}, {})


@pytest.mark.parametrize("value", ["nan", "inf", "1e999"])
def test_prices_refuse_nan_and_infinity(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="not a finite number"):
        resolve(tmp_path, {}, {"promptopt_prices": f"my-model = 1.0, {value}"})


def test_judge_repeats_are_bounded(tmp_path: Path) -> None:
    # Finding 10: `--promptopt-judge-repeats=100000` was accepted.
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, {"promptopt_judge_repeats": "100000"}, {})
    assert (
        str(info.value) == "--promptopt-judge-repeats must be an integer from 1 to 25, got '100000'"
    )
    assert resolve(tmp_path, {"promptopt_judge_repeats": "25"}, {}).judge_repeats == 25


def test_check_timeout_setting(tmp_path: Path) -> None:
    assert resolve(tmp_path, {}, {}).check_timeout_s == 60.0
    assert resolve(tmp_path, {}, {"promptopt_check_timeout": "2.5"}).check_timeout_s == 2.5
    with pytest.raises(ConfigError, match=r"--promptopt-check-timeout must be >= 0\.001"):
        resolve(tmp_path, {"promptopt_check_timeout": "0"}, {})


def test_holdout_nan_is_a_usage_error_not_an_internal_error(pytester: pytest.Pytester) -> None:
    # Finding 8: `--promptopt-holdout=nan` was an INTERNALERROR.
    result = pytester.runpytest("--promptopt-holdout=nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--promptopt-holdout must be a finite number, got 'nan'*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_sharded_session_under_github_actions_takes_the_workflow_run_as_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTOPT_RUN_NAME", raising=False)
    monkeypatch.delenv("PROMPTOPT_SHARD", raising=False)
    monkeypatch.setenv("GITHUB_RUN_ID", "812")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    sharded = resolve_settings(tmp_path, {"promptopt_shard": "2/3"}.get, {}.get)
    assert (sharded.shard, sharded.run_name, sharded.defers_gates) == ((2, 3), "gh-812-2", True)
    # Unsharded, a session never joins a run by itself; a given name wins over the default.
    assert resolve_settings(tmp_path, {}.get, {}.get).run_name is None
    named = resolve_settings(
        tmp_path, {"promptopt_shard": "1/1", "promptopt_run_name": "mine"}.get, {}.get
    )
    assert (named.run_name, named.defers_gates) == ("mine", False)  # 1/1: its own gates
    monkeypatch.delenv("GITHUB_RUN_ATTEMPT")
    assert resolve_settings(tmp_path, {"promptopt_shard": "2/3"}.get, {}.get).run_name is None
