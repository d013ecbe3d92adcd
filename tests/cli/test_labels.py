"""`promptopt label`: the terminal loop (resumable, the judge hidden until labelled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import OVERALL, answer_hash
from tests.support.label_db import labels_of, run_cli, seed_run


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "labels.db"
    seed_run(path, "u1", {"c1": "reply one", "c2": "reply two", "c3": "reply three"})
    return path


def test_the_loop_hides_the_judge_until_labelled_and_resumes(db_path: Path) -> None:
    first = run_cli(db_path, "label", "--labeller", "ann", keys="4\np\nq\n")
    assert first.exit_code == 0, first.output
    out = first.output
    assert "3 answer(s) to label as ann" in out
    assert "question c1" in out and "expect c1" in out and "reply one" in out
    assert "tool call lookup" in out and '"order": 7' in out
    # c1's reasoning appears only after its label; c3's not at all (quit at its prompt).
    assert out.index("REASONING-c1") > out.index("reply one") > 0
    assert out.index("REASONING-c1") > out.index("overall [1-5 p f s n q]")
    assert "REASONING-c2" in out and "reply three" in out and "REASONING-c3" not in out
    assert "overall: you 4, judge failed (score 0.50)" in out
    assert "judge's levels: functionality 3, safety 5, tone n/a" in out
    assert "wrote 2 label(s); 2 answer(s) labelled; 1 left" in out
    assert labels_of(db_path) == {
        ("c1", OVERALL, "ann"): (4, None, None),
        ("c2", OVERALL, "ann"): (None, True, None),
    }
    # Run again: only c3 is left; its reasoning stays hidden when quitting at the prompt.
    second = run_cli(db_path, "label", "--labeller", "ann", keys="q\n")
    assert "1 answer(s) to label" in second.output and "reply three" in second.output
    assert "reply one" not in second.output and "REASONING-c3" not in second.output
    assert "wrote 0 label(s)" in second.output
    third = run_cli(db_path, "label", "--labeller", "ann", keys="f\n")
    assert "none left" in third.output and "REASONING-c3" in third.output
    done = run_cli(db_path, "label", "--labeller", "ann")
    assert done.exit_code == 0 and "nothing to label" in done.output
    # Another labeller has everything still to label.
    other = run_cli(db_path, "label", keys="q\n", env={"PROMPTOPT_LABELLER": "bob"})
    assert "3 answer(s) to label as bob" in other.output


def test_skip_note_bad_keys_and_criteria(db_path: Path) -> None:
    keys = "s\nx\nn\ntoo curt\n2\np\nq\n"
    result = run_cli(db_path, "label", "--labeller", "ann", "--criterion", "overall",
                     "--criterion", "functionality", keys=keys)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "unknown key 'x'" in result.output
    assert "REASONING-c1" not in result.output  # skipped: the judge stays hidden
    assert "functionality: you pass, judge 3" in result.output
    assert labels_of(db_path) == {
        ("c2", OVERALL, "ann"): (2, None, "too curt"),
        ("c2", "functionality", "ann"): (None, True, None),
    }
    # Quit in the middle of an answer keeps its first label; the rest is asked next time.
    run_cli(db_path, "label", "--labeller", "ann", "--criterion", "overall",
            "--criterion", "safety", keys="5\nq\n")  # fmt: skip
    assert labels_of(db_path)[("c1", OVERALL, "ann")] == (5, None, None)
    again = run_cli(db_path, "label", "--labeller", "ann", "--criterion", "safety", keys="q\n")
    assert "3 answer(s) to label" in again.output and "safety [1-5" in again.output
    eof = run_cli(db_path, "label", "--labeller", "zed", keys="n\n")  # input ends at the note
    assert eof.exit_code == 0 and "wrote 0 label(s)" in eof.output
    bad = run_cli(db_path, "label", "--criterion", "tonne")
    assert bad.exit_code == 1
    assert "criterion 'tonne' was not judged in run 1" in bad.output and "tone" in bad.output
    nosuite = run_cli(db_path, "label", "--suite", "nope")
    assert nosuite.exit_code == 1 and "its suites: support" in nosuite.output


def test_an_answer_labelled_once_is_labelled_in_a_later_run(db_path: Path) -> None:
    run_cli(db_path, "label", "--labeller", "ann", keys="4\n3\n")
    later = seed_run(db_path, "u2", {"c1": "reply one", "c2": "changed", "c3": "reply three"})
    result = run_cli(db_path, "label", "--labeller", "ann", "--run", str(later), keys="q\n")
    assert "2 answer(s) to label" in result.output and "changed" in result.output
    assert "reply one" not in result.output
    db = Database(f"sqlite:///{db_path}")
    with transaction(db) as repos:
        found = repos.labels.for_hashes([answer_hash("support", "c1", "reply one", [
            {"id": "t1", "name": "lookup", "input": {"order": 7}}
        ])])  # fmt: skip
        assert [(x.level, x.labeller) for x in found] == [(4, "ann")]
    db.dispose()


def test_printed_text_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / "hostile.db"
    seed_run(path, "u1", {"evil\x1b[2J": "answer \x1b]0;owned\x07 text"})
    result = run_cli(path, "label", "--labeller", "ann\x1b[31m", keys="q\n")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;owned\\x07" in result.output and "evil\\x1b[2J" in result.output
