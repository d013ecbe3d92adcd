"""`promptopt label import FILE`: CSV or JSONL labels, all checked before any is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_promptopt.cli import label_file
from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import OVERALL
from tests.support.label_db import labels_of, run_cli, seed_run


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "labels.db"
    seed_run(path, "u1", {"c1": "reply one", "c2": "reply two"})
    seed_run(path, "u2", {"c1": "newer one", "c2": "reply two", "c9": "x"}, suite="support")
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_by_case_with_levels_and_pass(db_path: Path, tmp_path: Path) -> None:
    levels = write(tmp_path / "levels.csv", "case,criterion,level,note\nc1,,4,ok\nc2,safety,2,\n")
    result = run_cli(db_path, "label", "import", str(levels), "--labeller", "ann")
    assert result.exit_code == 0, result.output
    assert "imported 2 label(s)" in result.output and "2 new, 0 replaced" in result.output
    passes = write(tmp_path / "pass.csv", "case,pass,labeller\nc1,fail,bob\nc9,TRUE,bob\nc2,0,\n")
    result = run_cli(db_path, "label", "import", str(passes), "--labeller", "ann")
    assert result.exit_code == 0, result.output
    assert "3 new, 0 replaced" in result.output
    assert labels_of(db_path) == {
        ("c1", OVERALL, "ann"): (4, None, "ok"),
        ("c2", "safety", "ann"): (2, None, None),
        ("c1", OVERALL, "bob"): (None, False, None),
        ("c9", OVERALL, "bob"): (None, True, None),
        ("c2", OVERALL, "ann"): (None, False, None),
    }


def test_a_run_column_picks_the_run_and_relabelling_replaces(db_path: Path, tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", "case,level,run\nc1,5,1\n")
    assert run_cli(db_path, "label", "import", str(first), "--labeller", "ann").exit_code == 0
    again = write(tmp_path / "b.csv", "case,level\nc1,2\n")  # the newest run: another answer
    assert (
        "1 new, 0 replaced"
        in run_cli(db_path, "label", "import", str(again), "--labeller", "ann").output
    )
    same = write(tmp_path / "c.csv", "case,level\nc1,3\n")
    result = run_cli(db_path, "label", "import", str(same), "--run", "2", "--labeller", "ann")
    assert "0 new, 1 replaced" in result.output
    db = Database(f"sqlite:///{db_path}")
    with transaction(db) as repos:
        stored = sorted((x.level, x.evaluation_id) for x in repos.labels.for_suite("support"))
    db.dispose()
    assert stored == [(3, 3), (5, 1)]  # run 1's c1 is evaluation 1, run 2's is evaluation 3


def test_jsonl_by_evaluation_id(db_path: Path, tmp_path: Path) -> None:
    lines = [
        {"evaluation": 1, "criterion": "functionality", "level": 3, "note": "half"},
        {"evaluation": "2", "pass": True, "labeller": "bob"},
        {"case": "c9", "suite": "support", "level": 1},
    ]
    path = write(tmp_path / "l.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    result = run_cli(db_path, "label", "import", str(path), env={"PROMPTOPT_LABELLER": "cy"})
    assert result.exit_code == 0, result.output
    assert labels_of(db_path) == {
        ("c1", "functionality", "cy"): (3, None, "half"),
        ("c2", OVERALL, "bob"): (None, True, None),
        ("c9", OVERALL, "cy"): (1, None, None),
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.csv", "case,level\nc1,4\nnope,3\n", "bad.csv:3: field case: no answer to case "
         "'nope'"),
        ("bad.csv", "case,level\nc1,7\n", "bad.csv:2: field level: 7 is not a level; write a "
         "level 1-5"),
        ("bad.csv", "case,level\nc1,high\n", "bad.csv:2: field level: 'high' is not a whole"),
        ("bad.csv", "case,pass\nc1,maybe\n", "bad.csv:2: field pass: 'maybe' is not pass/fail"),
        ("bad.csv", "case,criterion\nc1,overall\n", "bad.csv:1: the header has no `level` or "
         "`pass` column"),
        ("bad.csv", "criterion,level\noverall,3\n", "bad.csv:1: the header has no `case` or "
         "`evaluation` column"),
        ("bad.csv", "case,levle\nc1,3\n", "bad.csv:1: unknown column(s) 'levle'"),
        ("bad.csv", "case,level\nc1,3,4\n", "bad.csv:2: 3 cells, the header has 2"),
        ("bad.csv", "case,criterion,level\nc1,tonne,3\n", "bad.csv:2: field criterion: 'tonne' "
         "was not judged on this answer; its criteria: overall, functionality, safety, tone"),
        ("bad.csv", "case,level\nc1,3\nc1,4\n", "bad.csv:3: field criterion: line 2 labels the "
         "same answer"),
        ("bad.csv", "evaluation,level\n99,3\n", "bad.csv:2: field evaluation: no evaluation 99"),
        ("bad.csv", "case,level,run\nc1,3,7\n", "bad.csv:2: field run: no run 7"),
        ("bad.csv", "case,evaluation,level\nc1,1,3\n", "bad.csv:2: field evaluation: both a case"),
        ("bad.csv", "", "bad.csv: the file is empty"),
        ("bad.jsonl", '{"case": "c1", "level": 2}\n{"case": "c2", "level": 2\n',
         "bad.jsonl:2: not a JSON object"),
        ("bad.jsonl", '{"case": "c1", "level": 2, "colour": 1}\n', "bad.jsonl:1: unknown key(s) "
         "'colour'"),
        ("bad.jsonl", '{"case": "c1", "level": 2.5}\n', "bad.jsonl:1: field level: 'float' is not"),
        ("bad.jsonl", '[1, 2]\n', "bad.jsonl:1: not a JSON object"),
        ("bad.jsonl", '{"evaluation": 99999999999999999999999, "level": 2}\n',
         "bad.jsonl:1: field evaluation: 1000000000000 is out of range"),
        ("bad.csv", "case,level,run\nc1,3,99999999999999999999\n", "bad.csv:2: field run: longer "
         "than 12 characters"),
    ],
)  # fmt: skip
def test_a_bad_file_writes_nothing_and_names_line_and_field(
    db_path: Path, tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = write(tmp_path / name, text)
    result = run_cli(db_path, "label", "import", str(path), "--labeller", "ann")
    assert result.exit_code == 1
    assert expected in result.output.replace("\n", " ").replace(str(tmp_path) + "/", "")
    assert labels_of(db_path) == {}


def test_every_bad_line_is_listed_in_line_order(db_path: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.csv", "case,level\nrefnd,3\nc1,9\nc2,4\n")
    result = run_cli(db_path, "label", "import", str(path))
    assert result.exit_code == 1
    lines = result.output.replace(str(tmp_path) + "/", "").splitlines()
    assert lines[0] == "Error: mixed.csv: nothing imported; 2 bad line(s):"
    assert lines[1].startswith("mixed.csv:2: field case: no answer to case 'refnd' in run 2")
    assert lines[2].startswith("mixed.csv:3: field level: 9 is not a level")
    assert labels_of(db_path) == {}


def test_a_case_in_two_suites_needs_its_suite(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    seed_run(path, "u1", {"c1": "a"}, suite="support")
    seed_run(path, "u2", {"c1": "b"}, suite="sales")
    # A third run holds both suites, each with a case `c1`.
    db = Database(f"sqlite:///{path}")
    with transaction(db) as repos:
        run = repos.runs.create("u3", "test", {})
        for suite in ("support", "sales"):
            prompt = repos.prompts.add(run.id, suite, "p", stage="given")
            ids = repos.test_cases.upsert_many(run.id, suite, [{"case_key": "c1",
                                                               "input_message": "q"}])  # fmt: skip
            repos.evaluations.add_many([{
                "run_id": run.id, "prompt_id": prompt.id, "test_case_id": ids["c1"],
                "model_response": suite, "overall_score": 1.0, "passed": True, "reasoning": "r",
            }])  # fmt: skip
    db.dispose()
    ambiguous = write(tmp_path / "a.csv", "case,level\nc1,4\n")
    result = run_cli(path, "label", "import", str(ambiguous))
    assert result.exit_code == 1 and "is in suites sales, support" in result.output
    result = run_cli(path, "label", "import", str(ambiguous), "--suite", "sales")
    assert result.exit_code == 0, result.output
    assert [k[0:2] for k in labels_of(path)] == [("c1", OVERALL)]


def test_hostile_and_oversized_files(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = write(tmp_path / "h.csv", "case,level\n\x1b[2Jevil,3\n")
    result = run_cli(db_path, "label", "import", str(hostile))
    assert result.exit_code == 1 and "\x1b" not in result.output and "\\x1b[2Jevil" in result.output
    many = write(tmp_path / "many.csv", "case,level\n" + "nope,3\n" * 30)
    result = run_cli(db_path, "label", "import", str(many))
    assert "30 bad line(s)" in result.output and "... and 10 more" in result.output
    monkeypatch.setattr(label_file, "MAX_BYTES", 10)
    result = run_cli(db_path, "label", "import", str(many))
    assert result.exit_code == 1 and "split it into smaller files" in result.output
    monkeypatch.setattr(label_file, "MAX_BYTES", 10_000)
    monkeypatch.setattr(label_file, "MAX_ROWS", 5)
    result = run_cli(db_path, "label", "import", str(many))
    assert result.exit_code == 1 and "more than 5 labels" in result.output
    missing = run_cli(db_path, "label", "import", str(tmp_path / "none.csv"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"case,level,note\nc1,3,caf\xe9\n")
    result = run_cli(db_path, "label", "import", str(latin))
    assert result.exit_code == 1 and "latin.csv:2: not UTF-8 text" in result.output
    assert labels_of(db_path) == {}


def test_the_labeller_defaults_to_the_os_user_and_the_groups_options_apply(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTOPT_LABELLER", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    path = write(tmp_path / "a.csv", "case,level\nc1,5\n")
    result = run_cli(db_path, "label", "--run", "1", "import", str(path))
    assert result.exit_code == 0, result.output
    db = Database(f"sqlite:///{db_path}")
    with transaction(db) as repos:
        assert [(x.labeller, x.evaluation_id) for x in repos.labels.for_suite()] == [("osuser", 1)]
    db.dispose()
    bad = run_cli(db_path, "label", "import", str(path), "--run", "newest")
    assert bad.exit_code == 2 and "'newest' is not a run id or `latest`" in bad.output
