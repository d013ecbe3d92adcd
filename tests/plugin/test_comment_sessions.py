"""`promptopt comment` over real sessions on the simulator: a regressed, an improved and an
inconclusive run, each line against what `promptopt gate` decided, and the sticky comment
posted twice to a loopback stand-in for the GitHub API."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from pytest_promptopt.reporting.pr_comment import MARKER
from tests.support.github_api import REPO, TOKEN, FakeGitHub, github, github_env
from tests.support.pr_comment import Runs, cli, make_runs

__all__ = ["github"]  # the fixture
VIEW = "http://view.example:8765"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return make_runs(tmp_path_factory.mktemp("pr-comment") / "project")


def comment(runs: Runs, *args: str) -> list[str]:
    code, out, err = cli(runs.root, runs.db, "comment", *args)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == MARKER
    return lines


def gate_json(runs: Runs, *args: str) -> tuple[int, dict[str, object]]:
    code, out, _ = cli(runs.root, runs.db, "gate", "--timeout", "5", "--json", *args)
    data: dict[str, object] = json.loads(out)
    return code, data


def flipped(lines: list[str], way: str) -> set[str]:
    """The cases named on a flips line (`pass → fail` or `fail → pass`)."""
    line = next((x for x in lines if x.startswith("- ") and f"** {way} (" in x), None)
    if line is None:
        return set()
    return set(re.findall(r"\[?([a-z]+-\d+)\]?(?:\([^)]*\))? \d\.\d\d \u2192", line))


def test_a_regressed_run(runs: Runs) -> None:
    lines = comment(runs, "--run", "worse", "--baseline", "blessed", "--link-base", VIEW)
    code, gate = gate_json(runs, "--run", "worse", "--baseline", "blessed")
    comparison = gate["baselines"]["support"]["comparison"]  # type: ignore[index]
    assert code == 1 and comparison["verdict"] == "regressed"
    assert lines[1] == "### \u274c promptopt: run **worse** failed"
    assert "- \u26a0\ufe0f cases failed: the run fails, as those sessions did" in lines
    # The failed gates are the gate's findings, word for word (once unescaped).
    shown = [html.unescape(x[4:]).replace("\\", "") for x in lines if x.startswith("- \u274c F")]
    findings = gate["gates"]
    assert shown == [f"FAILED {g['kind']} gate: {g['text']}" for g in findings] != []  # type: ignore[union-attr]
    suite = next(x for x in lines if x.startswith("- \u274c **support**: "))
    low, high = comparison["delta_ci"]
    assert (
        f"against baseline [run {runs.good}]({VIEW}/compare/{runs.good}/{runs.worse}): "
        f"**regressed**, change {comparison['mean_delta']:+.3f} (95% CI {low:+.3f} .. {high:+.3f}) "
        f"on 24 shared cases, pass \u2192 fail {comparison['pass_to_fail']}" in suite
    )
    assert f"detects {comparison['min_detectable_change']:.3f} (80% power)" in suite
    # The flips are the gate's, pass -> fail first, each linked to its page in the viewer.
    assert flipped(lines, "pass \u2192 fail") == set(comparison["pass_to_fail_cases"]) != set()
    assert flipped(lines, "fail \u2192 pass") == set()
    case = comparison["pass_to_fail_cases"][0]
    assert f"[{case}]({VIEW}/runs/{runs.worse}/cases/{case}?suite=support)" in "\n".join(lines)
    # Cost and cache against the baseline run's, and the details folded away.
    assert any(x.startswith("| support | 48 (+0) | 0 (+0) |") for x in lines)
    assert lines.index("<details><summary>Per-case results and the judge's reasoning</summary>")
    assert "**The judge's reasoning on the flips**" in lines and lines[-1] == "</details>"


def test_an_improved_run(runs: Runs) -> None:
    lines = comment(runs, "--run", "good", "--baseline", "worse")
    code, gate = gate_json(runs, "--run", "good", "--baseline", "worse")
    comparison = gate["baselines"]["support"]["comparison"]  # type: ignore[index]
    assert code == 0 and comparison["verdict"] == "improved"
    assert lines[1] == "### \u2705 promptopt: run **good** passed"
    suite = next(x for x in lines if x.startswith("- \u2705 **support**: 24/24 passed"))
    assert f"against baseline run {runs.worse}: **improved**" in suite  # no viewer: no link
    assert len(flipped(lines, "fail \u2192 pass")) == comparison["fail_to_pass"] > 0
    assert flipped(lines, "pass \u2192 fail") == set()


def test_an_inconclusive_run_by_its_id(runs: Runs) -> None:
    report = "https://github.com/octo/shop/actions/runs/1"
    lines = comment(runs, "--run", str(runs.few), "--baseline", "blessed", "--report-url", report)
    assert lines[1] == f"### \u2705 promptopt: run **run {runs.few}** passed"
    suite = next(x for x in lines if x.startswith("- \u26a0\ufe0f **support**: 3/3 passed"))
    assert f"against baseline run {runs.good}: **inconclusive** (" in suite
    assert "on 3 shared cases" in suite
    assert f"[report]({report})" in lines[3]
    assert f"| [refund-1]({report}) | passed |" in "\n".join(lines)


def test_a_run_missing_a_shard_says_so(runs: Runs) -> None:
    lines = comment(runs, "--run", "half", "--baseline", "blessed")
    assert lines[1] == "### \u274c promptopt: run **half** failed"
    assert "- \u26a0\ufe0f shard 2/2: never started" in lines
    assert gate_json(runs, "--run", "half")[0] == 2  # the gate agrees: shards are missing


def test_post_creates_then_updates_one_comment(
    runs: Runs, github: FakeGitHub, tmp_path: Path
) -> None:
    env = github_env(tmp_path, github.url)
    said = []
    for _ in range(2):
        code, out, err = cli(runs.root, runs.db, "comment", "--run", "worse", "--baseline",
                             "blessed", "--post", extra=env)  # fmt: skip
        assert code == 0, err
        assert TOKEN not in out + err
        said.append(err.strip())
    assert said == [
        f"promptopt comment: created comment 900 https://github.test/{REPO}/pull/7#c0",
        f"promptopt comment: updated comment 900 https://github.test/{REPO}/pull/7#c0",
    ]
    assert [m for m, *_ in github.requests if m != "GET"] == ["POST", "PATCH"]
    assert len(github.comments) == 1 and github.comments[0]["body"] == out
