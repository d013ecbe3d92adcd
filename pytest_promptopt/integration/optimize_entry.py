"""The `--optimize` entry point: one pipeline per selected suite, then the items judge the best."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.errors import RunBusyError
from pytest_promptopt.integration import internals
from pytest_promptopt.optimize.apply import apply_best
from pytest_promptopt.optimize.claim import Lease, claim_pipeline, wait_for_pipeline
from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.estimate import estimate
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.optimize.pipeline import Pipeline
from pytest_promptopt.optimize.progress import Progress
from pytest_promptopt.reporting.verdict import OptimizeNote
from pytest_promptopt.suites.agent import AGENT_NOT_OPTIMIZED, is_agent

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.integration.collect import CaseItem
    from pytest_promptopt.suites.spec import Suite


def resume_run_id(runtime: Runtime) -> int | None:
    """The run to continue under --promptopt-resume (None without it); UsageError when none fits."""
    wanted = runtime.settings.resume
    if wanted is None:
        return None
    from pytest_promptopt.storage.repositories import transaction

    with transaction(runtime.db) as repos:
        if wanted == "latest":
            found = repos.runs.latest_resumable(exclude_uid=runtime.session_uid)
            if found is None:
                raise pytest.UsageError(
                    "--promptopt-resume: no interrupted or unfinished optimize run to continue in "
                    f"{runtime.db.url_for_display}; run `promptopt runs` to list runs"
                )
            return found
        try:
            run_id = int(wanted)
        except ValueError:
            raise pytest.UsageError(
                f"--promptopt-resume takes a run id (an integer) or nothing, got {wanted!r}; "
                "to resume the latest run and also select paths, write "
                f"`--promptopt-resume=latest {wanted}`"
            ) from None
        run = repos.runs.get(run_id)
        if run is None or run.mode != "optimize":
            what = "does not exist" if run is None else f"is a {run.mode} run, not an optimize run"
            raise pytest.UsageError(
                f"--promptopt-resume {run_id}: run {run_id} {what}; "
                "run `promptopt runs` to list runs"
            )
        return run_id


def progress_for(session: pytest.Session, runtime: Runtime) -> Progress:
    """Progress lines on the terminal reporter, or silence under -q or without a reporter."""
    config = session.config
    reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
    quiet = int(getattr(config.option, "verbose", 0) or 0) < 0
    return Progress(None if reporter is None or quiet else reporter, runtime.budget)


def selected_suites(case_items: list[CaseItem]) -> list[Suite]:
    """The distinct suites among the items, in item order."""
    seen: dict[str, Suite] = {}
    for item in case_items:
        seen.setdefault(item.suite.name, item.suite)
    return list(seen.values())


def optimize_suite(
    runtime: Runtime, suite: Suite, run_id: int | None, progress: Progress
) -> OptimizeOutcome:
    """Run one suite's pipeline on the runtime's loop; point its items at the best prompt."""
    ctx = RunContext.from_runtime(runtime, suite, run_id)
    planned = estimate(suite, runtime.settings)
    progress.line(f"[{suite.name}] {planned.describe()}")
    budget = runtime.budget
    calls, spent, unpriced = budget.calls, budget.spent_usd, budget.unpriced_calls
    outcome = runtime.loop.run(Pipeline(ctx, progress=progress).run())
    outcome.calls = budget.calls - calls
    outcome.cost_usd = budget.spent_since(spent, unpriced)
    outcome.estimate_calls, outcome.estimate_cost_usd = planned.calls, planned.cost_usd
    runtime.suites.use_prompt(suite.name, outcome.best_prompt_id, outcome.best_prompt_text)
    runtime.suites.record_outcome(outcome)
    return outcome


def optimize_selected(
    session: pytest.Session, runtime: Runtime, case_items: list[CaseItem]
) -> None:
    """Optimize each selected suite in order, before any item runs (once per suite under xdist)."""
    worker = internals.worker_id(session.config)
    if worker is not None and runtime.settings.resume is not None:
        raise pytest.UsageError("--promptopt-resume continues one run in one process; drop -n")
    run_id = resume_run_id(runtime)
    progress = progress_for(session, runtime)
    if run_id is not None:
        try:
            runtime.run.adopt(run_id)
        except RunBusyError as exc:
            raise pytest.UsageError(
                f"--promptopt-resume: {exc}; another session is resuming or running it: wait "
                "for it to finish (or stop that process), then resume again"
            ) from None
        progress.line(f"resuming optimize run {run_id}")
    suites = []
    for suite in selected_suites(case_items):
        if is_agent(suite, suite.cases):  # item 6 of issue 26: agents are not optimized yet
            if worker is None or worker == "gw0":
                progress.line(f"[{suite.name}] {AGENT_NOT_OPTIMIZED}", bold=True)
            continue
        suites.append(suite)
    if worker is not None and suites:
        # Workers start at different suites, so several suites are optimized at once.
        shift = int(worker.removeprefix("gw") or 0) % len(suites)
        suites = suites[shift:] + suites[:shift]
    if runtime.settings.run_name is not None:
        # The sessions of a named run (shards on several machines) claim pipelines as xdist
        # workers do: under a name unique among all of them.
        worker = f"{socket.gethostname()}:{os.getpid()}:{worker or 'main'}"
    waiting = []
    for suite in suites:
        if worker is not None and not claim_pipeline(runtime, suite.name, worker):
            waiting.append(suite)
            continue
        _run_owned(runtime, suite, run_id, progress, worker)
    for suite in waiting:
        assert worker is not None
        verdict, best = wait_for_pipeline(runtime, suite.name, worker)
        if verdict == "takeover":
            progress.line(f"[{suite.name}] the worker optimizing this suite stopped; taking over")
            _run_owned(runtime, suite, run_id, progress, worker)
        elif best is not None:
            runtime.suites.use_prompt(suite.name, *best)


def _run_owned(
    runtime: Runtime, suite: Suite, run_id: int | None, progress: Progress, worker: str | None
) -> None:
    """Run a suite's pipeline this process owns (holding the xdist lease when there is one)."""
    lease = Lease(runtime, suite.name, worker) if worker is not None else None
    try:
        outcome = optimize_suite(runtime, suite, run_id, progress)
    except BaseException:
        if lease is not None:
            lease.release(None)
        raise
    if lease is not None:
        lease.release(outcome.best_prompt_id)
    progress.line(f"[{suite.name}] {outcome.describe()}", bold=True)
    for line in outcome.finalist_lines():
        progress.line(f"[{suite.name}]   {line}")
    if runtime.settings.apply:
        progress.line(f"[{suite.name}] {apply_best(suite, outcome)}")


def optimize_notes(outcomes: list[Any]) -> list[OptimizeNote]:
    """What the end of the session says of each suite this process optimized."""
    return [
        OptimizeNote(
            suite=o.suite,
            estimate_calls=o.estimate_calls,
            estimate_cost_usd=o.estimate_cost_usd,
            calls=o.calls,
            cost_usd=o.cost_usd,
            apply=o.apply,
        )
        for o in outcomes
        if isinstance(o, OptimizeOutcome)
    ]
