"""The --optimize entry point: overrides, outcomes, progress lines, --promptopt-apply and resume."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.integration.optimize_entry import optimize_selected, resume_run_id
from pytest_promptopt.optimize.estimate import estimate
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.settings import Settings
from pytest_promptopt.storage.repositories import RunRepository
from tests.support.optimize import make_suite


@dataclass
class Writer:
    """Collects terminal lines."""

    lines: list[str] = field(default_factory=list)

    def line(self, s: str = "", **markup: bool) -> None:
        self.lines.append(s)


def fake_session(writer: Writer, verbose: int = 0) -> Any:
    """Just enough of pytest.Session for the entry point."""
    manager = SimpleNamespace(get_plugin=lambda name: writer)
    config = SimpleNamespace(pluginmanager=manager, option=SimpleNamespace(verbose=verbose))
    return SimpleNamespace(config=config)


def runtime_for(tmp: Path, **overrides: Any) -> Runtime:
    """A simulator runtime on a tmp database."""
    return Runtime(
        Settings(
            rootdir=tmp,
            db_url=f"sqlite:///{tmp}/db.sqlite",
            model="simulated",
            optimize=True,
            report_dir=tmp / "reports",
            **overrides,
        )
    )


def test_optimize_selected_sets_override_outcome_and_progress(tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompt.txt"
    suite = make_suite()
    prompt_file.write_text(suite.prompt)
    suite = suite.model_copy(update={"prompt_path": str(prompt_file)})
    # Three cases cannot confirm a winner: --promptopt-use-best lets the items judge it anyway.
    runtime = runtime_for(tmp_path, apply=True, use_best=True)
    writer = Writer()
    items = [SimpleNamespace(suite=suite, case=c) for c in suite.cases]
    optimize_selected(fake_session(writer), runtime, items)  # type: ignore[arg-type]
    outcome = runtime.suites.outcome("shop_bot")
    assert isinstance(outcome, OptimizeOutcome)
    assert runtime.suites.outcomes() == [outcome]
    state = runtime.suites.state(suite)  # the items judge the best prompt, not the original
    assert (state.prompt_id, state.prompt_text) == (
        outcome.best_prompt_id,
        outcome.best_prompt_text,
    )
    assert runtime.suites.judged_prompt("shop_bot") == outcome.best_prompt_text
    text = "\n".join(writer.lines)
    assert "estimate ~" in text
    assert "1/11 generate_prompts ..." not in text  # one line per stage, at its end
    assert "1/11 generate_prompts completed" in text and "11/11 save_reports completed" in text
    assert outcome.describe() in text
    assert outcome.improved
    # Three given cases are too few to confirm anything, so nothing can prove the gain.
    assert prompt_file.read_text().strip() == suite.prompt.strip()
    assert (
        "not applied to shop_bot: kept the original: too small for a confirmation split: 3 "
        "given cases (at least 6 needed" in text
    )
    assert "--promptopt-use-best: the items judge the search's best" in text
    runtime.close("passed")


def test_without_use_best_the_items_judge_the_original_when_unproven(tmp_path: Path) -> None:
    suite = make_suite()
    runtime = runtime_for(tmp_path)
    items = [SimpleNamespace(suite=suite, case=c) for c in suite.cases]
    optimize_selected(fake_session(Writer()), runtime, items)  # type: ignore[arg-type]
    outcome = runtime.suites.outcome("shop_bot")
    assert isinstance(outcome, OptimizeOutcome)
    assert outcome.best_prompt_id == outcome.original_prompt_id != outcome.winner_prompt_id
    state = runtime.suites.state(suite)  # the items judge the original
    assert (state.prompt_id, state.prompt_text) == (outcome.original_prompt_id, suite.prompt)
    assert outcome.decision.startswith("kept the original: too small for a confirmation split")
    runtime.close("passed")


def test_quiet_mode_prints_nothing_and_inline_prompts_are_not_applied(tmp_path: Path) -> None:
    suite = make_suite()
    runtime = runtime_for(tmp_path, apply=True)
    writer = Writer()
    items = [SimpleNamespace(suite=suite, case=c) for c in suite.cases]
    optimize_selected(fake_session(writer, verbose=-1), runtime, items)  # type: ignore[arg-type]
    assert writer.lines == []
    outcome = runtime.suites.outcome("shop_bot")
    assert isinstance(outcome, OptimizeOutcome) and outcome.applied_to is None
    runtime.close("passed")


def test_resume_without_an_interrupted_run_is_a_usage_error(tmp_path: Path) -> None:
    runtime = runtime_for(tmp_path, resume="latest")
    with pytest.raises(pytest.UsageError, match="no interrupted or unfinished optimize run"):
        resume_run_id(runtime)
    with pytest.raises(pytest.UsageError, match="does not exist"):
        resume_run_id(runtime_for(tmp_path, resume="999"))
    with pytest.raises(pytest.UsageError, match="takes a run id"):
        resume_run_id(runtime_for(tmp_path, resume="abc"))


def test_resume_latest_finds_the_interrupted_optimize_run(tmp_path: Path) -> None:
    earlier = runtime_for(tmp_path)
    run_id = earlier.run_id
    earlier.run.finish(run_id, "interrupted")
    with earlier.db.session_scope() as s:
        done = RunRepository(s).create("finished-one", "optimize", {})
        RunRepository(s).finish(done.id, "passed")
    now = runtime_for(tmp_path, resume="latest")
    assert resume_run_id(now) == run_id
    assert resume_run_id(runtime_for(tmp_path)) is None


def test_estimate_counts_calls_from_the_knobs(tmp_path: Path) -> None:
    settings = runtime_for(tmp_path).settings
    est = estimate(make_suite(), settings)
    assert 100 < est.calls < est.max_calls
    assert est.cost_usd is not None and est.cost_usd > 0
    assert "model calls" in est.describe()
    # A model without a price: the calls are counted, the cost is not guessed.
    unpriced = estimate(make_suite(), dataclasses.replace(settings, model="claude-next-1"))
    assert (unpriced.calls, unpriced.cost_usd) == (est.calls, None)
    assert "unknown cost before cache hits" in unpriced.describe()
    # ...until promptopt_prices gives it one.
    priced = dataclasses.replace(
        settings, model="claude-next-1", prices=(("claude-next-1", (1.0, 5.0)),)
    )
    haiku = dataclasses.replace(settings, model="claude-haiku-4-5")  # $1 / $5 as well
    assert estimate(make_suite(), priced).cost_usd == pytest.approx(
        estimate(make_suite(), haiku).cost_usd
    )


def test_resume_latest_also_finds_a_failed_run_a_cap_stopped(tmp_path: Path) -> None:
    capped = runtime_for(tmp_path)
    run_id = capped.run_id
    with capped.db.session_scope() as s:
        from pytest_promptopt.storage.repositories import StageResultRepository

        row, _ = StageResultRepository(s).start(run_id, "shop_bot", "evaluate_quick")
        StageResultRepository(s).complete(row.id, {}, status="budget_exhausted")
        RunRepository(s).finish(run_id, "failed")
    assert resume_run_id(runtime_for(tmp_path, resume="latest")) == run_id
