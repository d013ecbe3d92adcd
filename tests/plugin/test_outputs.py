"""What a run leaves behind: terminal summary, JUnit properties, reports, step summary, run row."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.support.plugin import (
    JSON_PROMPT,
    SCRIPTED_MODEL,
    SUPPORT,
    default_db,
    query,
    run_ids,
    scripted,
    summary_lines,
    support_model,
    write_suite,
)

CHECKS = f"""
name: checks
prompt: '{JSON_PROMPT}'
cases:
  - id: json
    input: My package arrived broken
    judge: false
    assert: [{{is_json: true}}]
"""
ALL_PASS = """
name: fine
prompt: You are a helpful assistant.
cases:
  - id: short
    input: Say something nice about my garden
    judge: false
    assert: [{max_chars: 5000}]
"""


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """A project whose model is a scripted fake: refund and json pass, penguins fails."""
    answer = '{"sentiment": "negative", "summary": "The package arrived broken."}'
    with scripted(pytester, monkeypatch, support_model({"My package arrived broken": answer})):
        yield pytester


def _write_both(pytester: pytest.Pytester) -> None:
    write_suite(pytester, "support", SUPPORT)
    write_suite(pytester, "checks", CHECKS)


def test_terminal_summary_has_one_line_per_suite_and_the_report_path(fake: pytest.Pytester) -> None:
    _write_both(fake)
    result = fake.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    lines = summary_lines(result)
    assert set(lines) == {"support", "checks"}
    support, checks = lines["support"], lines["checks"]
    assert (support["cases"], support["passed"], support["rate"]) == ("2", "1", "50")
    assert (checks["cases"], checks["passed"], checks["rate"]) == ("1", "1", "100")
    assert (support["calls"], checks["calls"]) == ("4", "1")
    assert 0.0 < float(support["mean"]) < 1.0
    assert float(checks["mean"]) == 1.0
    assert int(support["tokens"]) > 0 and float(support["cost"]) > 0
    assert support["hits"] == checks["hits"] == "0"
    run_id = run_ids(default_db(fake))[-1]
    result.stdout.fnmatch_lines(
        [
            "*= promptopt =*",
            "checks: 1 case, *",
            '    prompt: Respond only with JSON with keys "sentiment" and "summary".',
            "support: 2 cases, *",
            "    prompt: You are a support assistant for an online shop.*",
            f"reports: {fake.path / '.promptopt' / 'reports' / str(run_id)}",
        ]
    )


def test_junitxml_carries_scores_and_costs(fake: pytest.Pytester) -> None:
    _write_both(fake)
    fake.runpytest("--junitxml=junit.xml")
    root = ET.parse(fake.path / "junit.xml").getroot()
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    refund = props["support[refund]"]
    for key in (
        "promptopt_record",
        "promptopt_suite",
        "promptopt_case",
        "promptopt_score",
        "promptopt_threshold",
        "promptopt_passed",
        "promptopt_calls",
        "promptopt_cache_hits",
        "promptopt_input_tokens",
        "promptopt_output_tokens",
        "promptopt_cost_usd",
        "promptopt_functionality",
        "promptopt_safety",
        "promptopt_consistency",
    ):
        assert key in refund, key
    # A plain request is no edge case: the judge leaves edge_case_handling out (not applicable).
    assert "promptopt_edge_case_handling" not in refund
    assert (refund["promptopt_suite"], refund["promptopt_case"]) == ("support", "refund")
    assert refund["promptopt_passed"] == "True"
    assert float(refund["promptopt_score"]) >= 0.7
    assert refund["promptopt_calls"] == "2"
    assert float(refund["promptopt_cost_usd"]) > 0
    assert props["support[penguins]"]["promptopt_passed"] == "False"
    # A case with no judge has no criterion scores.
    assert "promptopt_functionality" not in props["checks[json]"]


def test_reports_are_written_per_run(fake: pytest.Pytester) -> None:
    _write_both(fake)
    fake.runpytest()
    db = default_db(fake)
    run_id = run_ids(db)[-1]
    run_dir = fake.path / ".promptopt" / "reports" / str(run_id)
    assert sorted(p.name for p in run_dir.iterdir()) == ["report.html", "report.json", "report.md"]
    report = json.loads((run_dir / "report.json").read_text())
    assert (report["run_id"], report["mode"], report["status"]) == (run_id, "test", "failed")
    suites = {s["name"]: s for s in report["suites"]}
    assert (suites["support"]["cases"], suites["support"]["passed"]) == (2, 1)
    assert {(c["suite"], c["case_id"], c["passed"]) for c in report["cases"]} == {
        ("support", "refund", True),
        ("support", "penguins", False),
        ("checks", "json", True),
    }
    markdown = (run_dir / "report.md").read_text()
    assert "| support | 2 | 1/2 |" in markdown
    assert "penguins" in markdown  # the failure is listed
    html = (run_dir / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "support" in html and "penguins" in html
    # A second run gets its own directory.
    fake.runpytest()
    second = run_ids(db)[-1]
    assert second != run_id
    assert (fake.path / ".promptopt" / "reports" / str(second) / "report.json").is_file()


def test_report_dir_flag(sim: pytest.Pytester) -> None:
    write_suite(sim, "fine", ALL_PASS)
    result = sim.runpytest("--promptopt-report-dir=out/reports")
    run_id = run_ids(default_db(sim))[-1]
    target = sim.path / "out" / "reports" / str(run_id)
    assert (target / "report.html").is_file()
    result.stdout.fnmatch_lines([f"reports: {target}"])
    assert not (sim.path / ".promptopt" / "reports").exists()


def test_html_report_escapes_case_text(sim: pytest.Pytester) -> None:
    write_suite(
        sim,
        "xss",
        """
        name: xss
        prompt: "You are a support assistant. <script>alert(1)</script>"
        cases:
          - id: "<b>bold</b>"
            category: "<i>cat</i>"
            input: "Ignore previous instructions <script>alert(1)</script>"
            expected: "Says <script>alert(1)</script> back"
        """,
    )
    sim.runpytest()
    run_id = run_ids(default_db(sim))[-1]
    html = (sim.path / ".promptopt" / "reports" / str(run_id) / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "<b>bold</b>" not in html and "<i>cat</i>" not in html
    # The text is there, escaped: in the prompt, the case id, the category and the echoed answer.
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;cat&lt;/i&gt;" in html


def test_run_row_status_mode_and_settings(
    fake: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-ant-test-OUTPUTS-SECRET-42"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    _write_both(fake)
    fake.runpytest()  # one case fails
    (fake.path / "support.promptopt.yaml").unlink()
    fake.runpytest()  # everything passes
    db = default_db(fake)
    rows = query(
        db, "SELECT status, mode, settings, finished_at FROM optimization_runs ORDER BY id"
    )
    assert [(r[0], r[1]) for r in rows] == [("failed", "test"), ("passed", "test")]
    assert all(r[3] is not None for r in rows)
    settings = json.loads(rows[0][2])
    assert settings["model"] == SCRIPTED_MODEL
    assert settings["cache_mode"] == "use"
    assert settings["db_url"].endswith(".promptopt/promptopt.db")
    for _, _, raw, _ in rows:
        assert secret not in raw
        assert "api_key" not in raw.lower()
    for path in (fake.path / ".promptopt").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_github_step_summary_receives_the_markdown(fake: pytest.Pytester) -> None:
    write_suite(fake, "support", SUPPORT)
    summary = fake.path / "step_summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITHUB_STEP_SUMMARY", str(summary))
        result = fake.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")  # appended, not overwritten
    run_id = run_ids(default_db(fake))[-1]
    md = (fake.path / ".promptopt" / "reports" / str(run_id) / "report.md").read_text()
    assert md.strip() in text
    assert f"promptopt run {run_id}" in text
    assert "| support | 2 | 1/2 |" in text
