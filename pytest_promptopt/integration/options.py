"""Command-line flags and ini keys of the plugin (every name starts with `promptopt`)."""

from __future__ import annotations

import pytest

# (flag, dest/ini key, help, takes a value, has an ini key)
_VALUE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "--promptopt-db",
        "promptopt_db",
        "SQLAlchemy database URL (env PROMPTOPT_DB; default sqlite:///<rootdir>/.promptopt/promptopt.db)",
    ),
    (
        "--promptopt-model",
        "promptopt_model",
        "model under test; 'simulated' selects the offline simulator (env PROMPTOPT_MODEL)",
    ),
    (
        "--promptopt-judge-model",
        "promptopt_judge_model",
        "judge and generator model (env PROMPTOPT_JUDGE_MODEL; default: the model under test)",
    ),
    ("--promptopt-threshold", "promptopt_threshold", "default pass mark 0..1 (default 0.7)"),
    (
        "--promptopt-concurrency",
        "promptopt_concurrency",
        "model calls in flight per process (default 8)",
    ),
    (
        "--promptopt-cache",
        "promptopt_cache",
        "response cache: use, refresh, off or replay (env PROMPTOPT_CACHE; default use)",
    ),
    ("--promptopt-max-calls", "promptopt_max_calls", "hard cap on API calls per run"),
    ("--promptopt-budget-usd", "promptopt_budget_usd", "hard cap on spend per run, in USD"),
    (
        "--promptopt-report-dir",
        "promptopt_report_dir",
        "where reports go (default <rootdir>/.promptopt/reports)",
    ),
    ("--promptopt-timeout", "promptopt_timeout", "seconds before one model request times out (60)"),
    (
        "--promptopt-max-retries",
        "promptopt_max_retries",
        "SDK retries for 429/529/5xx/connection errors (default 4)",
    ),
    ("--promptopt-candidates", "promptopt_candidates", "--optimize: candidate prompts (6)"),
    ("--promptopt-quick-tests", "promptopt_quick_tests", "--optimize: generated quick cases (6)"),
    (
        "--promptopt-rigorous-tests",
        "promptopt_rigorous_tests",
        "--optimize: generated rigorous cases (6)",
    ),
    ("--promptopt-top-k", "promptopt_top_k", "--optimize: candidates kept after quick tests (3)"),
    (
        "--promptopt-top-m",
        "promptopt_top_m",
        "--optimize: candidates refined after rigorous tests (2)",
    ),
    (
        "--promptopt-iterations",
        "promptopt_iterations",
        "--optimize: refinement iterations per track (3)",
    ),
    (
        "--promptopt-samples",
        "promptopt_samples",
        "--optimize: samples per case when scores are close (1)",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    """Register the flags and ini keys."""
    group = parser.getgroup("promptopt", "prompt suites (pytest-promptopt)")
    group.addoption(
        "--optimize",
        action="store_true",
        dest="promptopt_optimize",
        default=False,
        help="optimize each selected suite first; its items then judge the best prompt",
    )
    group.addoption(
        "--promptopt-resume",
        dest="promptopt_resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="RUN",
        help="continue an interrupted optimize run (the latest when no id is given)",
    )
    group.addoption(
        "--promptopt-apply",
        action="store_true",
        dest="promptopt_apply",
        default=False,
        help="--optimize: write the best prompt to the suite's prompt file when it is better",
    )
    for flag, dest, text in _VALUE_OPTIONS:
        group.addoption(flag, dest=dest, default=None, metavar="VALUE", help=text)
        parser.addini(dest, help=text, default=None)
