"""`promptopt judge-agreement` on a database of judged answers labelled by people."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from sklearn.metrics import cohen_kappa_score

from pytest_promptopt.cli.main import main
from pytest_promptopt.storage import (
    Database,
    EvaluationRepository,
    PromptRepository,
    RunRepository,
    TestCaseRepository,
    transaction,
)
from pytest_promptopt.storage.repositories import LabelInput

CASES = 40
ERROR_RATE = 0.3


@dataclass
class Labelled:
    """The database and what the test knows of it."""

    path: Path
    first_run: int
    second_run: int
    judge: list[int]  # the first run's judge level of each case (overall and `safety`)
    truth: list[int]  # people's level of each case
    second_judge: list[int]  # the second run's (only its first half of the cases)


def _levels(rng: np.random.Generator, n: int = CASES) -> tuple[list[int], list[int]]:
    """People's levels and a judge one level off at ERROR_RATE (seeded)."""
    truth = rng.integers(1, 6, size=n)
    step = np.where(truth == 5, -1, 1)
    judge = np.where(rng.random(n) < ERROR_RATE, truth + step, truth)
    return [int(v) for v in judge], [int(v) for v in truth]


def _store_run(
    db: Database, uid: str, judge: list[int], version: str, keys: list[str]
) -> tuple[int, list[int]]:
    """A run whose evaluations score each case at the judge's level; returns its id and
    its evaluation ids (the answers are the same text in every run: the same hashes)."""
    with db.session_scope() as s:
        run = RunRepository(s).create(uid, "test", {"model": "claude-haiku-4-5"})
        prompt = PromptRepository(s).add(run.id, "support", "Be kind.", stage="given")
        ids = TestCaseRepository(s).upsert_many(
            run.id, "support", [{"case_key": k, "input_message": k, "stage": "given"} for k in keys]
        )
        EvaluationRepository(s).add_many(
            [
                {
                    "run_id": run.id,
                    "prompt_id": prompt.id,
                    "test_case_id": ids[k],
                    "model_response": f"answer of {k}",
                    "scores": {"safety": (level - 1) / 4},
                    "overall_score": (level - 1) / 4,
                    "passed": level >= 4,
                    "judge_version": version,
                }
                for k, level in zip(keys, judge, strict=True)
            ]
        )
        RunRepository(s).finish(run.id, "passed")
        return run.id, [e.id for e in EvaluationRepository(s).for_run(run.id)]


@pytest.fixture
def labelled(tmp_path: Path) -> Labelled:
    """Run 1 judged 40 answers (judge version 2); people labelled them all, overall (level and
    pass) and `safety` (level); run 2 judged the first 20 answers again with version 1."""
    path = tmp_path / "labels.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    rng = np.random.default_rng(23)
    judge, truth = _levels(rng)
    keys = [f"c{i:02d}" for i in range(CASES)]
    first, _ = _store_run(db, "s1", judge, "2", keys)
    second_judge = [min(5, level + 1) for level in judge[:20]]
    second, _ = _store_run(db, "s2", second_judge, "1", keys[:20])
    with transaction(db) as repos:
        for evaluation in repos.evaluations.for_run(first):
            human = truth[keys.index(evaluation.test_case.case_key)]
            repos.labels.put(evaluation, LabelInput(level=human, passed=human >= 4))
            repos.labels.put(evaluation, LabelInput(criterion="safety", level=human))
    db.dispose()
    return Labelled(path, first, second, judge, truth, second_judge)


def _run(data: Labelled, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(data.path), "judge-agreement", *args])


def _json(data: Labelled, *args: str) -> dict[str, object]:
    result = _run(data, *args, "--json")
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.output)
    return loaded


def test_json_has_every_figure_per_criterion_matching_scikit_learn(labelled: Labelled) -> None:
    data = _json(labelled, "--run", str(labelled.first_run))
    suite = data["suites"]["support"]  # type: ignore[index]
    overall = suite["criteria"]["overall"]
    for key in ("n", "exact", "kappa", "alpha", "pass_kappa", "bias", "confusion"):
        assert key in overall
    expected = cohen_kappa_score(
        labelled.judge, labelled.truth, weights="quadratic", labels=[1, 2, 3, 4, 5]
    )
    assert overall["n"] == CASES
    assert overall["kappa"] == pytest.approx(expected, abs=1e-4)
    assert suite["criteria"]["safety"]["kappa"] == pytest.approx(expected, abs=1e-4)
    interval = overall["intervals"]["kappa"]
    assert interval["low"] <= overall["kappa"] <= interval["high"]
    judge_pass = [j >= 4 for j in labelled.judge]
    human_pass = [h >= 4 for h in labelled.truth]
    assert overall["pass_kappa"] == pytest.approx(
        cohen_kappa_score(judge_pass, human_pass), abs=1e-4
    )
    assert overall["bias"] == pytest.approx(
        np.mean(labelled.judge) - np.mean(labelled.truth), abs=1e-4
    )
    assert sum(map(sum, overall["confusion"])) == CASES
    assert suite["judge_versions"] == ["2"]


def test_the_kappa_interval_contains_the_judges_true_kappa(labelled: Labelled) -> None:
    # The simulated judge errs at a known rate: its population kappa (from a million answers)
    # lies in the interval the command reports from 40 labels.
    judge, truth = _levels(np.random.default_rng(99), 1_000_000)
    true_kappa = cohen_kappa_score(judge, truth, weights="quadratic", labels=[1, 2, 3, 4, 5])
    data = _json(labelled, "--run", str(labelled.first_run))
    interval = data["suites"]["support"]["criteria"]["overall"]["intervals"]["kappa"]  # type: ignore[index]
    assert interval["low"] <= true_kappa <= interval["high"]
    assert interval["high"] - interval["low"] < 0.4


def test_default_compares_each_label_with_the_newest_judgement(labelled: Labelled) -> None:
    # Run 2 judged the first 20 answers again: those labels meet its judgement, the other 20
    # run 1's; the suite says both judge versions were used.
    data = _json(labelled)
    suite = data["suites"]["support"]  # type: ignore[index]
    newest = labelled.second_judge + labelled.judge[20:]
    expected = cohen_kappa_score(
        newest, labelled.truth, weights="quadratic", labels=[1, 2, 3, 4, 5]
    )
    assert suite["criteria"]["overall"]["kappa"] == pytest.approx(expected, abs=1e-4)
    assert suite["judge_versions"] == ["1", "2"]
    only_second = _json(labelled, "--run", str(labelled.second_run))
    assert only_second["suites"]["support"]["criteria"]["overall"]["n"] == 20  # type: ignore[index]


def test_table_shows_each_criterion_with_intervals_and_confusion(labelled: Labelled) -> None:
    result = _run(labelled, "--run", str(labelled.first_run))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("suite support: 80 labels of 40 answers")
    header = lines[1].split()
    assert header[:3] == ["criterion", "n", "exact"]
    overall = next(line for line in lines if line.strip().startswith("overall"))
    assert overall.split()[1] == "40" and "[" in overall
    assert "  overall: judge level (rows) by people's level (columns)" in lines


def test_unknown_suite_and_empty_database_say_so(labelled: Labelled, tmp_path: Path) -> None:
    result = _run(labelled, "--suite", "nope")
    assert result.exit_code == 0
    assert "no labels yet" in result.output
    empty = _json(labelled, "--suite", "nope")
    assert empty["suites"] == {}


def test_a_few_labels_are_said_to_be_too_few(tmp_path: Path) -> None:
    path = tmp_path / "few.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    keys = ["a", "b", "c"]
    run_id, _ = _store_run(db, "few", [5, 4, 2], "2", keys)
    with transaction(db) as repos:
        for evaluation in repos.evaluations.for_run(run_id):
            repos.labels.put(evaluation, LabelInput(level=3))
    db.dispose()
    result = CliRunner().invoke(main, ["--db", str(path), "judge-agreement"])
    assert result.exit_code == 0, result.output
    assert "under 10 labelled answers (overall)" in result.output
    assert "too few labels" in result.output


def test_enough_labels_carry_no_too_few_line(labelled: Labelled) -> None:
    result = _run(labelled, "--run", str(labelled.first_run))
    assert "too few labels" not in result.output
