"""The plain-run estimate's pure parts: what it counts, what it cannot, how it prices and prints."""

from __future__ import annotations

from pathlib import Path

from pytest_promptopt.evaluation.estimate import RoleTally
from pytest_promptopt.optimize.run_estimate import estimate_session, render_estimate
from pytest_promptopt.settings import Settings
from pytest_promptopt.suites.spec import Case, Suite


def settings(tmp_path: Path, **more: object) -> Settings:
    """Simulated settings on a database file that does not exist (nothing cached)."""
    url = f"sqlite:///{tmp_path / 'none.db'}"
    return Settings(rootdir=tmp_path, db_url=url, **{"model": "simulated", **more})  # type: ignore[arg-type]


def test_an_unknown_price_makes_the_total_unknown() -> None:
    tally = RoleTally()
    tally.add_cost(0.5)
    assert tally.cost_usd == 0.5
    tally.add_cost(None)
    tally.add_cost(1.0)
    assert tally.cost_usd is None


def test_samples_turns_and_judge_repeats_are_counted(tmp_path: Path) -> None:
    suite = Suite(
        name="s",
        prompt="Help.",
        cases=[
            Case(id="a", input="where is 7?", repeats=3),
            Case(id="b", turns=["hi", "and then?"]),
            Case.model_validate(
                {"id": "c", "input": "x", "judge": False, "assert": [{"max_chars": 50}]}
            ),
        ],
    )
    data = estimate_session([(suite, c) for c in suite.cases], settings(tmp_path, judge_repeats=2))
    assert data["roles"]["target"]["calls"] == 3 + 2 + 1
    assert data["roles"]["judge"]["calls"] == (3 + 1) * 2
    assert data["roles"]["judge"]["max_calls"] == 2 * (3 + 1) * 2  # one schema retry each
    assert data["cache"] == "use (no database yet)"
    assert not (tmp_path / "none.db").exists()  # an estimate creates no database
    # Output tokens of uncached calls are their max_tokens: a bound.
    assert data["roles"]["target"]["output_tokens"] == 6 * 1024


def test_target_functions_are_listed_not_counted(tmp_path: Path) -> None:
    suite = Suite(name="app", target="app:answer", cases=[Case(id="q\x1bX", input="hi")])
    data = estimate_session([(suite, suite.cases[0])], settings(tmp_path))
    assert data["roles"] == {}
    assert data["not_counted"] == ["app[q\x1bX]: a target function"]
    assert any("not counted: app[q" in line for line in render_estimate(data))


def test_tool_loops_are_listed_with_their_bound_not_counted(tmp_path: Path) -> None:
    case = Case.model_validate(
        {"id": "r", "input": "refund 7", "tool_results": {"lookup": "delivered"}, "max_steps": 4}
    )
    tool = {"name": "lookup", "description": "find", "input_schema": {"type": "object"}}
    suite = Suite.model_validate({"name": "agent", "prompt": "Help.", "tools": [tool]})
    data = estimate_session([(suite, case)], settings(tmp_path))
    assert data["roles"] == {}
    assert data["not_counted"] == ["agent[r]: a tool loop (up to 4 target calls)"]


def test_simulated_users_are_listed_with_their_bound_not_counted(tmp_path: Path) -> None:
    user = {"persona": "a customer", "goal": "a cake", "max_turns": 3}
    suite = Suite.model_validate(
        {"name": "chat", "prompt": "Help.", "repeats": 2, "cases": [{"id": "u", "user": user}]}
    )
    data = estimate_session([(suite, suite.cases[0])], settings(tmp_path))
    assert data["roles"] == {}
    assert data["not_counted"] == ["chat[u]: a simulated user (up to 6 target calls, 8 user calls)"]


def test_batch_halves_the_dollars_and_cache_off_counts_everything(tmp_path: Path) -> None:
    suite = Suite(name="s", prompt="Help.", cases=[Case(id="a", input="hi")])
    jobs = [(suite, suite.cases[0])]
    full = estimate_session(jobs, settings(tmp_path))["total"]["cost_usd"]
    half = estimate_session(jobs, settings(tmp_path, batch=True))["total"]["cost_usd"]
    assert half == round(full / 2, 6)
    off = estimate_session(jobs, settings(tmp_path, cache_mode="off"))
    assert off["total"]["calls"] == 2 and off["total"]["cached"] == 0


def test_pairwise_comparisons_are_listed_not_counted(tmp_path: Path) -> None:
    suite = Suite(name="s", prompt="Help.", comparison="pairwise", cases=[Case(id="a", input="hi")])
    jobs = [(suite, suite.cases[0])]
    assert estimate_session(jobs, settings(tmp_path))["not_counted"] == []
    gated = estimate_session(jobs, settings(tmp_path, baseline=True))
    assert gated["not_counted"] == ["s: the pairwise judge's comparison calls"]
