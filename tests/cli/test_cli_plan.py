"""`promptopt plan` on a SQLite file filled with a suite's runs through the repositories."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.stats import RULES, min_detectable_change
from pytest_promptopt.storage import (
    Database,
    EvaluationRepository,
    PromptRepository,
    RunRepository,
    TestCaseRepository,
)

CASES = [f"c{i}" for i in range(24)]
NOISE = 0.1


def _fill(path: Path, runs: int, samples: int = 1, seed: int = 3, clustered: bool = False) -> None:
    """`runs` runs of suite `s` (24 cases) whose scores are a case mean plus noise per sample;
    `clustered`: 6 clusters of 4 cases (stored in the case spec) sharing their noise."""
    rng = random.Random(seed)
    means = {k: rng.uniform(0.5, 0.8) for k in CASES}
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    with db.session_scope() as s:
        for n in range(runs):
            run = RunRepository(s).create(f"s{n}", "test", {"optimize": False})
            prompt = PromptRepository(s).add(run.id, "s", "Be kind.", stage="given")
            rows = [
                {"case_key": k, "input_message": k, "expected_behavior": "x", "stage": "given"}
                | ({"spec": {"cluster": f"g{i // 4}"}} if clustered else {})
                for i, k in enumerate(CASES)
            ]
            shared = [rng.gauss(0, NOISE) if clustered else 0.0 for _ in range(6)]
            ids = TestCaseRepository(s).upsert_many(run.id, "s", rows)
            evals = []
            for i, key in enumerate(CASES):
                for sample in range(samples):
                    score = means[key] + shared[i // 4] + rng.gauss(0, NOISE)
                    evals.append(
                        {
                            "run_id": run.id,
                            "prompt_id": prompt.id,
                            "test_case_id": ids[key],
                            "sample": sample,
                            "model_response": "ok",
                            "overall_score": score,
                            "passed": score >= 0.7,
                        }
                    )
            EvaluationRepository(s).add_many(evals)
            RunRepository(s).finish(run.id, "passed")
    db.dispose()


def _plan(path: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["--db", str(path), "plan", "--suite", "s", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def test_plan_states_what_the_suite_detects_and_what_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _fill(path, runs=4)
    data = _plan(path, "--detect", "0.05")
    assert data["enough_history"] is True
    assert data["runs"] == [4, 3, 2, 1] and data["pairs"] == 3 and data["cases"] == 24
    sd = data["sd"]
    assert isinstance(sd, float) and 0.1 < sd < 0.2  # two runs' noise: about 0.1 * sqrt(2)
    alpha = RULES["baseline"].alpha
    assert data["detects"] == round(min_detectable_change(sd, 24, alpha) or 0, 6)
    needed = data["cases_needed"]
    assert isinstance(needed, int) and needed > 24
    assert (min_detectable_change(sd, needed, alpha) or 1) <= 0.05
    assert (min_detectable_change(sd, needed - 1, alpha) or 0) > 0.05
    assert isinstance(data["samples_needed"], int) and data["samples_needed"] > 1
    text = CliRunner().invoke(main, ["--db", str(path), "plan", "--suite", "s", "--detect", "0.05"])
    assert f"24 cases, 1 sample per case: detects {data['detects']:.3f}" in text.output
    assert f"for 0.05 you need {needed} cases, or {data['samples_needed']} samples" in text.output


def test_plan_reads_history_up_to_the_given_run(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _fill(path, runs=4)
    assert _plan(path, "--detect", "0.05", "--run", "2")["runs"] == [2, 1]


def test_plan_says_when_history_is_too_thin(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _fill(path, runs=1)
    data = _plan(path, "--detect", "0.05")
    assert data["enough_history"] is False
    assert "history too thin to say" in str(data["message"])
    assert "run it again" in str(data["message"])
    missing = _plan(path, "--detect", "0.05", "--run", "1")
    assert missing["runs"] == [1]
    none = CliRunner().invoke(
        main, ["--db", str(path), "plan", "--suite", "nope", "--detect", "0.1"]
    )
    assert none.exit_code == 0 and "no run judged suite 'nope'" in none.output


def test_one_run_with_samples_is_enough_history(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _fill(path, runs=1, samples=3)
    data = _plan(path, "--detect", "0.05")
    assert data["enough_history"] is True and data["samples"] == 3
    within = data["within_sd"]
    assert isinstance(within, float) and 0.07 < within < 0.13  # the noise of one sample, 0.1
    assert "spread of samples within a case" in str(data["source"])


def test_clusters_in_the_history_raise_the_cases_needed(tmp_path: Path) -> None:
    plain, clustered = tmp_path / "plain.db", tmp_path / "clustered.db"
    _fill(plain, runs=4)
    _fill(clustered, runs=4, clustered=True)
    flat, grouped = _plan(plain, "--detect", "0.05"), _plan(clustered, "--detect", "0.05")
    assert flat["design_effect"] == 1.0
    effect = grouped["design_effect"]
    assert isinstance(effect, float) and effect > 1.5  # 4 cases sharing half their noise
    assert grouped["cases_needed"] > flat["cases_needed"]  # type: ignore[operator]
