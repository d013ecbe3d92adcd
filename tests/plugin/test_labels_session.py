"""Labels on real sessions: what `promptopt label` reads after pytest, and a later run's match."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from pytest_promptopt.cli.main import main
from tests.support.plugin import SUPPORT, default_db, run_ids, write_suite


def cli(pytester: pytest.Pytester, *args: str, keys: str = "") -> Result:
    """`promptopt --db <the project's database> ARGS` with `keys` typed in."""
    return CliRunner().invoke(main, ["--db", str(default_db(pytester)), *args], input=keys)


def test_labels_of_one_session_match_the_same_answers_in_the_next(sim: pytest.Pytester) -> None:
    write_suite(sim, "support", SUPPORT)
    sim.runpytest().assert_outcomes(passed=1, failed=1)
    first = run_ids(default_db(sim))[-1]
    labelled = cli(sim, "label", "--labeller", "ann", "--criterion", "overall",
                   "--criterion", "functionality", keys="5\n4\nf\n1\n")  # fmt: skip
    assert labelled.exit_code == 0, labelled.output
    out = labelled.output
    assert f"run {first}: 2 answer(s) to label as ann" in out
    assert "I want a refund for order 123" in out and "states the 30-day policy" in out
    assert "wrote 4 label(s); 2 answer(s) labelled; none left" in out
    assert out.count("judge: ") == 2 and "functionality: you 1, judge 2" in out
    # The next session answers the same (the cache replays it): nothing new to label.
    sim.runpytest().assert_outcomes(passed=1, failed=1)
    second = run_ids(default_db(sim))[-1]
    assert second != first
    again = cli(sim, "label", "--labeller", "ann", "--run", str(second))
    assert again.exit_code == 0 and "nothing to label" in again.output
    # A file of labels by case key for the new run replaces ann's own.
    (sim.path / "labels.csv").write_text("case,level\nrefund,3\npenguins,2\n", encoding="utf-8")
    imported = cli(sim, "label", "import", str(sim.path / "labels.csv"), "--labeller", "ann")
    assert imported.exit_code == 0, imported.output
    assert "imported 2 label(s)" in imported.output and "0 new, 2 replaced" in imported.output
