"""End to end: the shipped example project, as a user runs it, on a temporary database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.example import copy_example, outcomes, run_pytest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the example project (its database and reports stay in tmp)."""
    return copy_example(tmp_path)


def test_example_project_judges_caches_and_replays(project: Path) -> None:
    first = run_pytest(project, "-rA")
    assert first.returncode == 1, first.stdout[-3000:]
    result = outcomes(first.stdout)
    assert "PASSED" in result.values() and "FAILED" in result.values()
    assert "ERROR" not in result.values()
    assert "promptopt: model 'simulated'" in first.stdout
    assert "=== promptopt ===" in first.stdout.replace("=" * 10, "===")
    assert re.search(r"support_bot: 15 cases, mean score 0\.\d\d", first.stdout)
    assert "judge:" in first.stdout  # failure text carries the judge's reasoning

    second = run_pytest(project, "-rA")
    assert outcomes(second.stdout) == result
    for line in second.stdout.splitlines():
        if re.match(r"^\w+: \d+ cases", line):
            assert "calls 0," in line, line  # every call served from the cache

    replay = run_pytest(project, "-rA", "--promptopt-cache=replay")
    assert outcomes(replay.stdout) == result

    reports = sorted((project / ".promptopt" / "reports").iterdir(), key=lambda p: int(p.name))
    assert len(reports) == 3
    data = json.loads((reports[-1] / "report.json").read_text())
    assert {s["name"] for s in data["suites"]} >= {
        "support_bot", "sql_assistant", "bank_guard", "order_bot"
    }  # fmt: skip
    tools = [c for c in data["cases"] if c["suite"] == "order_bot" and c["tool_calls"]]
    assert tools == []  # the original prompt never tells the model to use its tool
    assert (reports[-1] / "report.html").read_text().count("<svg") >= 3


def test_example_project_optimize_is_the_readme_main_job(project: Path) -> None:
    baseline = run_pytest(project, "-rA")
    before = outcomes(baseline.stdout)
    failing_before = {n for n, o in before.items() if o == "FAILED"}
    assert failing_before, "the example prompts must fail some cases, or there is nothing to fix"

    optimized = run_pytest(project, "-rA", "--optimize")
    assert optimized.returncode == 0, optimized.stdout[-4000:]  # the README's main job passes
    after = outcomes(optimized.stdout)
    assert "ERROR" not in after.values()
    still_failing = {n for n in failing_before if after[n] != "PASSED"}
    assert not still_failing, still_failing  # every case the original failed is fixed
    assert not {n for n, o in before.items() if o == "PASSED" and after[n] != "PASSED"}
    # support_bot's winner is proven on its confirmation cases and replaces the original; the
    # suites too small to confirm say so, and the example's ini lets the items judge their
    # search's best anyway (promptopt_use_best), saying that too.
    assert re.search(
        r"support_bot: .*replaced the original with #\d+: its paired gain on the confirmation "
        r"cases is \+\d\.\d{3} \[\+\d\.\d{3}, \+\d\.\d{3}\] \(90%, \d cases\)",
        optimized.stdout.replace("\n    ", " "),
    ), optimized.stdout[-4000:]
    assert "kept the original: too small for a confirmation split" in optimized.stdout
    assert "--promptopt-use-best: the items judge the search's best" in optimized.stdout
    before_after = re.findall(r"optimized: (\d\.\d\d) -> (\d\.\d\d)", optimized.stdout)
    assert len(before_after) >= 4
    assert all(float(b) >= float(a) for a, b in before_after)
    # Feedback (seen by the prompt writers) and held-out scores side by side, and the gate.
    split = re.findall(r"feedback \d\.\d\d -> \d\.\d\d \(\d cases\), held-out", optimized.stdout)
    assert len(split) >= 4
    assert "apply gate: " in optimized.stdout

    run_dir = max((project / ".promptopt" / "reports").iterdir(), key=lambda p: int(p.name))
    for suite in ("support_bot", "sql_assistant", "bank_guard", "order_bot"):
        best = (run_dir / suite / "best_prompt.txt").read_text()
        assert best.strip() and best != (project / "prompts" / f"{suite}.txt").read_text()
        lineage = json.loads((run_dir / suite / "lineage.json").read_text())
        assert any(p["is_original"] for p in lineage)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["mode"] == "optimize" and report["status"] in ("passed", "failed")
    # refund_agent is an agent suite (tools that run): --optimize leaves it alone, saying so.
    assert "[refund_agent] not optimized: --optimize does not rewrite agent suites" in (
        optimized.stdout
    )
    agent_cases = [c for c in report["cases"] if c["suite"] == "refund_agent"]
    assert agent_cases and all(c["trajectory"] for c in agent_cases)
    first_steps = [
        next(s for s in c["trajectory"] if s.get("speaker") != "user") for c in agent_cases
    ]
    assert {s["tool_calls"][0]["name"] for s in first_steps} == {"lookup_order"}
    (customer,) = [c for c in agent_cases if c["case_id"] == "impatient-customer"]
    assert customer["trajectory"][0]["speaker"] == "user"  # the simulated customer opens
    assert customer["trajectory"][-1]["ended"] == "goal_reached"
    for suite in report["suites"]:
        if suite["name"] not in ("greeter", "refund_agent"):  # not optimized
            assert suite["finalists"] and suite["gate_verdict"]
            assert all("feedback" in f and "holdout" in f for f in suite["finalists"])
    markdown = (run_dir / "report.md").read_text()
    assert "| finalist | feedback (3 cases) | held-out (1 case) |" in markdown
    assert "| finalist | feedback (7 cases) | held-out (4 cases) |" in markdown  # support_bot
    assert "Finalists: feedback and held-out scores" in (run_dir / "report.html").read_text()
    # order_bot's prompt is a template: the best prompt keeps {{ shop }}, the tool gets called,
    # and a candidate that dropped the placeholder was rejected, saying so.
    order_bot = next(s for s in report["suites"] if s["name"] == "order_bot")
    assert "{{ shop }}" in (run_dir / "order_bot" / "best_prompt.txt").read_text()
    generated = next(st for st in order_bot["stages"] if st["stage"] == "generate_prompts")
    assert any("drops {{ shop }}" in r["reason"] for r in generated["summary"]["rejected"])
    calls = [c for c in report["cases"] if c["suite"] == "order_bot" and c["tool_calls"]]
    assert {c["tool_calls"][0]["name"] for c in calls} == {"lookup_order"}
    # Generated cases that copy order_bot's `{{ order }}` without a value could never render:
    # they are dropped at generation, saying why, and no evaluation errors on them.
    stages = {st["stage"]: st["summary"] for st in order_bot["stages"]}
    dropped = [
        *stages["generate_tests_quick"]["dropped"],
        *stages["generate_tests_rigorous"]["dropped"],
    ]
    assert dropped and all("'order'" in d["reason"] for d in dropped)
    assert stages["evaluate_quick"]["errors"] == 0 and stages["evaluate_rigorous"]["errors"] == 0
    # support_bot's held-out cases are lifted by what their feedback siblings taught.
    support = next(s for s in report["suites"] if s["name"] == "support_bot")
    best = next(f for f in support["finalists"] if f["best"])
    original = next(f for f in support["finalists"] if f["label"].endswith(" original"))
    assert best["holdout"] > original["holdout"]


SPEND_LINE = re.compile(
    r"^spend: .*session total (?P<calls>[\d,]+) calls, \$(?P<cost>[\d.]+).*"
    r"\(estimated ~(?P<est_calls>[\d,]+) calls, ~\$(?P<est_cost>[\d.]+) before cache hits\)$",
    flags=re.MULTILINE,
)


def test_the_optimize_estimate_is_within_a_quarter_of_what_the_run_spends(project: Path) -> None:
    """On a fresh database (no cache hits) the start-of-run estimate of the example's
    `--optimize` is within 25% of the calls and the dollars the run then spends; under `-q` the
    spend and every suite's apply outcome are still in the summary."""
    result = run_pytest(project, "-q", "--optimize", "--promptopt-apply")
    assert result.returncode == 0, result.stdout[-3000:]
    found = SPEND_LINE.search(result.stdout)
    assert found, result.stdout[-3000:]
    calls, est_calls = (int(found[k].replace(",", "")) for k in ("calls", "est_calls"))
    cost, est_cost = float(found["cost"]), float(found["est_cost"])
    assert abs(est_calls - calls) <= 0.25 * calls, (est_calls, calls)
    assert abs(est_cost - cost) <= 0.25 * cost, (est_cost, cost)
    applied = re.findall(r"^(?:not )?applied: (\w+): ", result.stdout, flags=re.MULTILINE)
    assert set(applied) == {"support_bot", "sql_assistant", "bank_guard", "order_bot", "order_desk"}
