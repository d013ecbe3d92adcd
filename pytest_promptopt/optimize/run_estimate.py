"""`promptopt estimate` and `--promptopt-dry-run`: a session's calls, tokens and dollars ahead.

A plain run's calls are counted from the suites and the response cache (`evaluation/estimate.py`);
under `--optimize` each suite's pipeline adds its declared call bounds (`optimize/estimate.py`),
before cache hits. Nothing here calls a model or writes a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_promptopt.evaluation.estimate import CHARS_PER_TOKEN, CallCounter, RoleTally
from pytest_promptopt.evaluation.judge_calls import JudgeCalls
from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CallStore
from pytest_promptopt.llm.pricing import PriceTable
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.optimize.estimate import estimate as optimize_estimate
from pytest_promptopt.settings import SIMULATED_MODEL, Settings
from pytest_promptopt.storage import Database
from pytest_promptopt.suites.spec import Case, Suite

ESTIMATE_FILE_ENV = "PROMPTOPT_ESTIMATE_FILE"
"""Where `promptopt estimate` has its pytest session write the estimate as JSON (internal)."""
BOUNDS_NOTE = (
    f"input tokens of calls not cached are characters / {CHARS_PER_TOKEN}; their output tokens "
    "and dollars are upper bounds (every answer at its max_tokens); cached calls cost $0 and "
    "show their recorded tokens"
)


def _database(settings: Settings) -> tuple[Database, bool]:
    """The session's database, or an empty one in memory when its SQLite file is not there."""
    db = Database(settings.db_url)
    path = db.sqlite_path
    if path is not None and not path.exists():
        db = Database("sqlite://")
        db.ensure_schema()
        return db, False
    db.ensure_schema()
    return db, True


def _service(settings: Settings, db: Database) -> LLMService:
    """A model service shaped as the session's (same keys, same requests) that never sends."""
    return LLMService(
        store=CallStore(db, cache_file=settings.cache_file),
        budget=Budget(),
        cache_mode=settings.cache_mode,
        concurrency=1,
        timeout_s=settings.timeout_s,
        max_retries=0,
        prices=PriceTable.from_settings(settings.prices),
        role_params={
            "judge": settings.judge_params or {},
            "generate": settings.optimizer_params or {},
            "analyze": settings.optimizer_params or {},
        },
        offline=settings.model == SIMULATED_MODEL,
    )


def _total(tallies: Sequence[RoleTally]) -> RoleTally:
    """The sum of several tallies."""
    total = RoleTally()
    for t in tallies:
        total.calls += t.calls
        total.max_calls += t.max_calls
        total.cached += t.cached
        total.input_tokens += t.input_tokens
        total.output_tokens += t.output_tokens
        total.add_cost(t.cost_usd)
    return total


def estimate_session(
    jobs: Sequence[tuple[Suite, Case]], settings: Settings, *, optimize: bool | None = None
) -> dict[str, Any]:
    """The estimate of a session judging these (suite, case) items, as JSON-ready data."""
    optimize = settings.optimize if optimize is None else optimize
    db, existed = _database(settings)
    try:
        llm = _service(settings, db)
        judge = JudgeCalls(
            llm, model=settings.effective_judge_model, repeats=settings.judge_repeats
        )
        counter = CallCounter(llm, judge, settings.model, batch=settings.batch)
        found = counter.count([(s, s.system_template, c) for s, c in jobs])
    finally:
        db.dispose()
    roles = {name: found.roles[name] for name in sorted(found.roles)}
    found.unknown += _pairwise(jobs, settings)
    data: dict[str, Any] = {
        "mode": "optimize" if optimize else "run",
        "cases": found.cases,
        "model": settings.model,
        "judge_model": settings.effective_judge_model,
        "judge_repeats": settings.judge_repeats,
        "cache": settings.cache_mode if existed else f"{settings.cache_mode} (no database yet)",
        "batch": settings.batch,
        "roles": {name: t.as_dict() for name, t in roles.items()},
        "not_counted": found.unknown,
        "notes": [BOUNDS_NOTE],
    }
    total = _total(list(roles.values()))
    if optimize:
        data["optimize"] = _optimize_part(jobs, settings, total)
        data["notes"].append(
            "--optimize: each suite's pipeline at its declared bounds before cache hits (in the "
            "total's calls and dollars, not its tokens), then the items judged as a plain run"
        )
    data["total"] = total.as_dict()
    return data


def _pairwise(jobs: Sequence[tuple[Suite, Case]], settings: Settings) -> list[str]:
    """The suites compared pairwise (with a baseline or between variants): not counted."""
    named: dict[str, None] = {}
    for suite, _ in jobs:
        pairwise = (suite.comparison or settings.compare) == "pairwise"
        if pairwise and (settings.baseline or suite.variant is not None):
            named.setdefault(suite.name)
    return [f"{name}: the pairwise judge's comparison calls" for name in named]


def _optimize_part(
    jobs: Sequence[tuple[Suite, Case]], settings: Settings, total: RoleTally
) -> list[dict[str, Any]]:
    """Each selected suite's optimizer estimate, added into `total`."""
    suites: dict[str, Suite] = {}
    for suite, _ in jobs:
        suites.setdefault(suite.name, suite)
    part = []
    for suite in suites.values():
        found = optimize_estimate(suite, settings)
        total.calls += found.calls
        total.max_calls += found.max_calls
        total.add_cost(found.cost_usd)
        part.append(
            {
                "suite": suite.name,
                "calls": found.calls,
                "max_calls": found.max_calls,
                "cost_usd": None if found.cost_usd is None else round(found.cost_usd, 6),
                "roles": dict(found.roles),
            }
        )
    return part


def _dollars(value: float | None) -> str:
    """`$0.0123`, or `unknown` for an unpriced model."""
    return "unknown" if value is None else f"${value:.4f}"


def render_estimate(data: dict[str, Any]) -> list[str]:
    """The estimate as terminal lines."""
    what = "an --optimize run" if data["mode"] == "optimize" else "a run"
    lines = [
        f"estimate of {what}: {data['cases']} cases, model {data['model']}, judge "
        f"{data['judge_model']} x{data['judge_repeats']}, cache {data['cache']}"
        + (", batch (half price)" if data["batch"] else "")
    ]
    head = f"{'role':<10}{'calls':>7}{'at most':>9}{'cached':>8}{'in tok':>10}{'out tok':>10}"
    lines.append(head + f"{'dollars':>12}")
    rows = [*data["roles"].items(), ("total", data["total"])]
    for name, t in rows:
        lines.append(
            f"{name:<10}{t['calls']:>7}{t['max_calls']:>9}{t['cached']:>8}"
            f"{t['input_tokens']:>10}{t['output_tokens']:>10}{_dollars(t['cost_usd']):>12}"
        )
    for one in data.get("optimize", []):
        roles = ", ".join(f"{k} {v}" for k, v in one["roles"].items())
        lines.append(
            f"optimize {one['suite']}: ~{one['calls']} calls (up to {one['max_calls']}; "
            f"{roles}), ~{_dollars(one['cost_usd'])} before cache hits"
        )
    for why in data["not_counted"]:
        lines.append(f"not counted: {why}")
    lines += [f"note: {n}" for n in data["notes"]]
    return lines
