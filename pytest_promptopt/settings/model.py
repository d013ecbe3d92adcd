"""The settings table: each field of `Settings` and `OptimizeSettings` is one setting, its row
(flag, ini key, environment variable, kind, help) in the field's annotation, its default the
field's. `SETTINGS` is read back from the fields, so each setting is written once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pytest_promptopt.settings.kinds import (
    CACHE_MODES,
    CacheMode,
    Choice,
    Comparison,
    DatabaseUrl,
    FileUnderRoot,
    Folders,
    Integer,
    Number,
    PriceEntry,
    Prices,
    RoleParams,
    Shard,
    Toggle,
    UnderRoot,
)
from pytest_promptopt.settings.optimize import OptimizeSettings as OptimizeSettings
from pytest_promptopt.settings.table import SettingSpec, rows, setting, switch

DEFAULT_MODEL = "claude-haiku-4-5"
SIMULATED_MODEL = "simulated"
_TOGGLE: dict[str, Any] = {"kind": Toggle(), "action": "store_true"}


@dataclass(frozen=True)
class Settings:
    """Everything the plugin is configured with; never holds secrets."""

    rootdir: Path
    optimize: Annotated[
        bool,
        switch(
            "--optimize",
            "run the optimization pipeline for each selected suite first; its items then judge "
            "the best prompt",
        ),
    ] = False
    # may hold a password: never in a repr or a traceback
    db_url: Annotated[
        str,
        setting(
            "--promptopt-db",
            "SQLAlchemy database URL (PostgreSQL for shared history); a plain path is an SQLite "
            "file",
            DatabaseUrl(),
            env=True,
        ),
    ] = field(default=".promptopt/promptopt.db", repr=False)
    model: Annotated[
        str,
        setting(
            "--promptopt-model",
            f"model under test; '{SIMULATED_MODEL}' selects the offline simulator",
            env=True,
        ),
    ] = DEFAULT_MODEL
    judge_model: Annotated[
        str | None,
        setting(
            "--promptopt-judge-model",
            "judge model",
            env=True,
            default_text="the model under test",
        ),
    ] = None
    user_model: Annotated[
        str | None,
        setting(
            "--promptopt-user-model",
            "model that plays a case's simulated `user:`",
            env=True,
            default_text="the judge's model",
        ),
    ] = None
    judge_repeats: Annotated[
        int,
        setting(
            "--promptopt-judge-repeats",
            "judge calls per answer; the median per criterion is the verdict and the spread is "
            "stored",
            Integer(1, 25),
        ),
    ] = 1
    optimizer_model: Annotated[
        str | None,
        setting(
            "--promptopt-optimizer-model",
            "--optimize: model that writes candidate prompts and cases and analyses failures "
            "(best a stronger one than the model under test)",
            env=True,
            default_text="the judge model",
        ),
    ] = None
    judge_params: Annotated[
        dict[str, Any] | None,
        setting(
            "--promptopt-judge-params",
            "the judge's own request parameters, a JSON or YAML mapping of a suite's `params` "
            "keys (thinking, output_config.effort, max_tokens, ...)",
            RoleParams(),
        ),
    ] = None
    optimizer_params: Annotated[
        dict[str, Any] | None,
        setting(
            "--promptopt-optimizer-params",
            "--optimize: the writers' and analyst's own request parameters (as "
            "--promptopt-judge-params)",
            RoleParams(),
        ),
    ] = None
    holdout: Annotated[
        float,
        setting(
            "--promptopt-holdout",
            "--optimize: share of the given cases held out from the prompt writers to choose and "
            "gate the best prompt",
            Number(0.0, 0.9),
        ),
    ] = 0.3
    confirm: Annotated[
        float | None,
        setting(
            "--promptopt-confirm",
            "--optimize: share of the given cases kept from the search for the final decision "
            "(the original against the winner, scored once); 0: none, so the original stays",
            Number(0.0, 0.6),
            default_text="0.3, at least 3 cases, from 6 given cases on",
        ),
    ] = None
    threshold: Annotated[
        float,
        setting(
            "--promptopt-threshold",
            "pass mark of the cases whose suite and case set no `threshold` (a case's own "
            "threshold wins, then its suite's; this flag is only the default)",
            Number(0.0, 1.0),
        ),
    ] = 0.7
    min_pass_rate: Annotated[
        float | None,
        setting(
            "--promptopt-min-pass-rate",
            "grade each suite as a whole: its failing cases are xfailed and the session fails "
            "when its pass rate is under this (a suite's own `min_pass_rate` wins)",
            Number(0.0, 1.0),
            default_text="off",
        ),
    ] = None
    min_judge_agreement: Annotated[
        float | None,
        setting(
            "--promptopt-min-judge-agreement",
            "fail the session when a suite's judge agrees with people's labels less than this "
            "(the lower bound of the quadratic-weighted kappa's interval, on a criterion "
            "with 10 or more labelled answers; a suite's own `min_judge_agreement` wins)",
            Number(0.0, 1.0),
            default_text="off",
        ),
    ] = None
    concurrency: Annotated[
        int,
        setting("--promptopt-concurrency", "model calls in flight per process", Integer(1, 1024)),
    ] = 8
    cache_mode: Annotated[
        str,
        setting(
            "--promptopt-cache",
            f"response cache mode: {', '.join(CACHE_MODES)}",
            Choice(CacheMode),
            env=True,
        ),
    ] = "use"
    max_calls: Annotated[
        int | None,
        setting("--promptopt-max-calls", "hard cap on API calls per pytest run", Integer(0)),
    ] = None
    budget_usd: Annotated[
        float | None,
        setting("--promptopt-budget-usd", "hard cap on spend per pytest run, in USD", Number(0.0)),
    ] = None
    resume: Annotated[
        str | None,
        setting(
            "--promptopt-resume",
            "continue an interrupted optimize run: RUN, or the latest when no id is given",
            ini=False,
            action="optional",
            const="latest",
            metavar="RUN",
            default_text="off",
        ),
    ] = None
    shard: Annotated[
        tuple[int, int] | None,
        setting(
            "--promptopt-shard",
            "run only shard I of N: the cases whose suite and case key hash into it (every "
            "case is in one shard, the same on every machine)",
            Shard(),
            env=True,
            default_text="all cases",
        ),
    ] = None
    run_name: Annotated[
        str | None,
        setting(
            "--promptopt-run-name",
            "sessions with this name on one database join one run (shards of a CI matrix); "
            "sharded sessions defer the suite-level gates to `promptopt gate --run NAME`",
            env=True,
            default_text="gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT> when sharded under GitHub "
            "Actions, else none",
        ),
    ] = None
    report_dir: Annotated[
        Path, setting("--promptopt-report-dir", "where reports go", UnderRoot())
    ] = Path(".promptopt/reports")
    apply: Annotated[
        bool,
        switch(
            "--promptopt-apply",
            "--optimize: write the best prompt to the suite's prompt file when it is better",
        ),
    ] = False
    use_best: Annotated[
        bool,
        setting(
            "--promptopt-use-best",
            "--optimize: the items judge the search's best prompt even when the confirmation "
            "did not prove it better than the original (--promptopt-apply still needs the proof)",
            **_TOGGLE,
        ),
    ] = False
    timeout_s: Annotated[
        float | None,
        setting(
            "--promptopt-timeout",
            "seconds before one model request times out (every role)",
            Number(0.001),
            default_text="sized per request from max_tokens",
        ),
    ] = None
    check_timeout_s: Annotated[
        float,
        setting(
            "--promptopt-check-timeout",
            "seconds a sync or async `python` check, or a suite's `target` function, may take "
            "on its own (its model calls not counted) before its item errors",
            Number(0.001),
        ),
    ] = 60.0
    max_retries: Annotated[
        int,
        setting(
            "--promptopt-max-retries",
            "SDK retries for 5xx, timeout and connection errors; refusals wait for the "
            "account's limit",
            Integer(0, 50),
        ),
    ] = 4
    baseline: Annotated[
        bool,
        setting(
            "--promptopt-baseline",
            "compare each suite with its blessed baseline run (`promptopt bless`); "
            "a regressed suite fails the session",
            **_TOGGLE,
        ),
    ] = False
    regression_margin: Annotated[
        float,
        setting(
            "--promptopt-regression-margin",
            "--promptopt-baseline: the drop in mean score that counts as a regression",
            Number(0.0, 1.0),
        ),
    ] = 0.02
    compare: Annotated[
        str,
        setting(
            "--promptopt-compare",
            "how the baseline gate and variants compare runs: `scores` (a paired test on the "
            "judge's scores) or `pairwise` (the judge shown both answers to each case, in both "
            "orders); a suite's own `comparison` wins",
            Choice(Comparison),
        ),
    ] = "scores"
    prices: Annotated[
        tuple[PriceEntry, ...],
        setting(
            "--promptopt-prices",
            "model prices that add to or override the published ones: "
            "`model = input, output[, cache_write, cache_read]` in USD per million tokens, one "
            "per line (or `;`-separated)",
            Prices(),
        ),
    ] = ()
    cache_file: Annotated[
        Path | None,
        setting(
            "--promptopt-cache-file",
            "a JSONL cache file (from `promptopt cache export`) whose answers are looked up "
            "before the database's, so CI can replay from a file committed next to the suites",
            FileUnderRoot(),
        ),
    ] = None
    batch: Annotated[
        bool,
        setting(
            "--promptopt-batch",
            "send the evaluations' model calls (every uncached call of a plain run) through the "
            "Message Batches API, at half price; a killed run resumes its submitted batch",
            **_TOGGLE,
        ),
    ] = False
    dry_run: Annotated[
        bool,
        switch(
            "--promptopt-dry-run",
            "make no model call: print the calls, tokens and dollars the run (or --optimize) "
            "would make, from the suites and the response cache, and skip every item",
        ),
    ] = False
    allowed_paths: Annotated[
        tuple[Path, ...],
        setting(
            "--promptopt-allowed-paths",
            "folders outside the rootdir whose files suites may read (prompt, case and media "
            "files)",
            Folders(),
            ini_type="linelist",
        ),
    ] = ()
    knobs: OptimizeSettings = field(default_factory=OptimizeSettings)

    def __post_init__(self) -> None:
        """Take the relative paths (the defaults too) under the rootdir."""
        for spec in SETTINGS:
            value = getattr(self, spec.name) if spec.group == "run" else None
            if isinstance(spec.kind, UnderRoot | DatabaseUrl) and value is not None:
                object.__setattr__(
                    self, spec.name, spec.kind.parse(spec.label, value, self.rootdir)
                )

    @property
    def defers_gates(self) -> bool:
        """True for one shard of several of a named run: `promptopt gate` applies the gates."""
        return self.run_name is not None and self.shard is not None and self.shard[1] > 1

    @property
    def effective_judge_model(self) -> str:
        """The judge and generator model: the configured one, else the model under test."""
        return self.judge_model or self.model

    @property
    def effective_user_model(self) -> str:
        """The simulated users' model: the configured one, else the judge's."""
        return self.user_model or self.effective_judge_model

    @property
    def effective_optimizer_model(self) -> str:
        """The writer roles' model (prompts, cases, analysis): configured, else the judge's."""
        return self.optimizer_model or self.effective_judge_model

    @property
    def uses_simulator(self) -> bool:
        """True when the offline simulator answers any role."""
        models = (self.model, self.effective_judge_model, self.effective_user_model)
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
        data["shard"] = None if self.shard is None else list(self.shard)
        return data


SETTINGS: tuple[SettingSpec, ...] = rows(Settings) + rows(OptimizeSettings)
