"""k-of-n cases, flaky cases, suite pass-rate gates and variants, end to end.

The k-of-n cases run on a scripted fake whose answer opens with "Happy to help" in sample 3
only; their check is deterministic (`judge: false`). The rest need some model: the simulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from pytest_promptopt.testing import ScriptedCall, ScriptedModel
from tests.support.plugin import (
    SUPPORT_PROMPT,
    default_db,
    outcomes_by_case,
    query,
    scalar,
    scripted,
    summary_lines,
    write_suite,
)

REFUND = "I want a refund for order 123"


def _opener(call: ScriptedCall) -> str:
    """Sample 3 opens with "Happy to help"; the other samples open differently."""
    if call.sample == 3:
        return "Happy to help! Send your order e-mail and I will start the refund."
    return "Sorry about that. Send your order e-mail and I will start the refund."


@pytest.fixture
def fake(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """A project whose model answers with `_opener`."""
    with scripted(pytester, monkeypatch, ScriptedModel(_opener)):
        yield pytester


def _k_of_n_suite(min_passes: int | None, *, flaky: bool = False) -> str:
    """One case, five samples, a check that exactly 1 of them passes (`_opener`)."""
    extra = f"min_passes: {min_passes}" if min_passes is not None else ""
    return f"""
        name: opener
        prompt: "{SUPPORT_PROMPT}"
        repeats: 5
        {extra}
        flaky: {"true" if flaky else "false"}
        cases:
          - id: greeting
            input: {REFUND}
            judge: false
            assert: [{{icontains: "happy to help"}}]
        """


def test_k_of_n_passes_when_enough_samples_pass_alone(fake: pytest.Pytester) -> None:
    write_suite(fake, "opener", _k_of_n_suite(1))
    result = fake.runpytest()
    result.assert_outcomes(passed=1)
    # Each sample is recorded with its own verdict: 1 of the 5 passed, 4 failed their check.
    rows = query(default_db(fake), "SELECT sample, passed FROM evaluations ORDER BY sample")
    assert rows == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 0)]


def test_k_of_n_fails_saying_how_many_samples_passed_and_were_needed(
    fake: pytest.Pytester,
) -> None:
    write_suite(fake, "opener", _k_of_n_suite(2))
    result = fake.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["opener[[]greeting[]] FAILED: *5 sample(s))", "  1 of 5 samples passed, 2 needed"]
    )


def test_without_min_passes_a_check_failed_in_any_sample_fails_the_case(
    fake: pytest.Pytester,
) -> None:
    write_suite(fake, "opener", _k_of_n_suite(None))
    result = fake.runpytest()
    result.assert_outcomes(failed=1)
    assert "samples passed" not in result.stdout.str()


def test_min_passes_over_repeats_is_a_collection_error_naming_file_suite_case_field(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "opener", _k_of_n_suite(6))
    result = sim.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*opener.promptopt.yaml: suite 'opener', case 'greeting': field 'min_passes' "
            "(the suite's, 6) is more than the case's samples (repeats: 5)*"
        ]
    )


def _two_case_suite(name: str, header: str = "") -> str:
    """A suite with one case that passes and one that fails, both on deterministic checks."""
    return f"""
        name: {name}
        prompt: "{SUPPORT_PROMPT}"
        {header}
        cases:
          - id: good
            input: {REFUND}
            judge: false
            assert: [{{icontains: "30-day"}}]
          - id: bad
            input: {REFUND}
            judge: false
            assert: [{{contains: zebra}}]
        """


def test_a_failing_flaky_case_is_xfailed_never_fails_the_session_and_is_recorded_failed(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "wobbly", _two_case_suite("wobbly").replace("  - id: bad", "  - id: bad\n"
                "            flaky: true"))  # fmt: skip
    result = sim.runpytest("-rx")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "XFAIL wobbly.promptopt.yaml::wobbly[[]bad[]] - flaky case (never fails the session): "
            "score 0.00 under the threshold 0.70; failed check: contains 'zebra'"
        ]
    )
    db = default_db(sim)
    assert query(
        db,
        "SELECT t.case_key, e.passed FROM evaluations e "
        "JOIN test_cases t ON t.id = e.test_case_id ORDER BY t.case_key",
    ) == [("bad", 0), ("good", 1)]
    assert scalar(db, "SELECT status FROM optimization_runs") == "passed"
    # Counted as failed in the summary.
    line = summary_lines(result)["wobbly"]
    assert (line["cases"], line["passed"], line["rate"]) == ("2", "1", "50")


def test_flaky_at_suite_level_xfails_its_failing_cases(sim: pytest.Pytester) -> None:
    write_suite(sim, "wobbly", _two_case_suite("wobbly", "flaky: true"))
    result = sim.runpytest()
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


GATE_LINE = (
    "FAILED pass-rate gate: suite 'gated': pass rate 50% (1 of 2 cases) is under its minimum "
    "90% (min_pass_rate)"
)


def test_a_suite_under_its_min_pass_rate_fails_the_session_with_xfailed_cases(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "gated", _two_case_suite("gated", "min_pass_rate: 0.9"))
    result = sim.runpytest("-rx")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([GATE_LINE])
    result.stdout.fnmatch_lines(
        [
            "XFAIL gated.promptopt.yaml::gated[[]bad[]] - counts against the suite's pass rate "
            "(min_pass_rate 90%): score 0.00 under the threshold 0.70; failed check: contains *"
        ]
    )
    db = default_db(sim)
    assert scalar(db, "SELECT status FROM optimization_runs") == "failed"
    assert scalar(db, "SELECT count(*) FROM evaluations WHERE passed = 0") == 1
    report_dir = next((sim.path / ".promptopt" / "reports").iterdir())
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "\u274c FAILED pass-rate gate: suite 'gated': pass rate 50% (1 of 2 cases) is under" in (
        markdown
    )
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert data["status"] == "failed"
    assert data["pass_rate_gates"] == [{"suite": "gated", "passed": 1, "cases": 2, "minimum": 0.9}]


def test_a_suite_meeting_its_min_pass_rate_passes(sim: pytest.Pytester) -> None:
    write_suite(sim, "gated", _two_case_suite("gated", "min_pass_rate: 0.5"))
    result = sim.runpytest()
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["pass-rate gate: suite 'gated': pass rate 50% * meets *50%*"])


def test_the_flag_and_the_ini_grade_every_suite_and_the_suites_own_value_wins(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "gated", _two_case_suite("gated"))
    write_suite(sim, "lenient", _two_case_suite("lenient", "min_pass_rate: 0.5"))
    result = sim.runpytest("--promptopt-min-pass-rate=0.9")
    result.assert_outcomes(passed=2, xfailed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([GATE_LINE, "pass-rate gate: suite 'lenient': * meets *50%*"])

    sim.makeini("[pytest]\npromptopt_model = simulated\npromptopt_min_pass_rate = 0.4\n")
    result = sim.runpytest()
    result.assert_outcomes(passed=2, xfailed=2)
    assert result.ret == pytest.ExitCode.OK


def test_the_pass_rate_gate_and_variants_are_decided_on_the_controller_under_xdist(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "gated", _two_case_suite("gated", "min_pass_rate: 0.9"))
    # Only the gate can fail this session. The second variant's records may reach the
    # controller first: the first variant stays the reference.
    write_suite(
        sim,
        "briefs",
        f"""
        name: briefs
        prompt: "{SUPPORT_PROMPT}"
        variants: {{b: {{}}, a: {{prompt: "Answer in one short sentence."}}}}
        cases:
          - {{id: one, input: {REFUND}, judge: false, assert: [{{max_chars: 100000}}]}}
          - {{id: two, input: hello, judge: false, assert: [{{max_chars: 100000}}]}}
        """,
    )
    result = sim.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=180)
    result.assert_outcomes(passed=5, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([GATE_LINE])
    result.stdout.fnmatch_lines(
        ["variants of briefs (each compared with b):", "    b: *", "    a: *on 2 shared cases)"]
    )
    assert scalar(default_db(sim), "SELECT status FROM optimization_runs") == "failed"


VARIANTS = f"""
    name: support
    prompt: "{SUPPORT_PROMPT}"
    variants:
      full: {{}}
      terse: {{prompt: "Answer in one short sentence."}}
    cases:
      - id: refund
        input: {REFUND}
        expected: Apologises, asks for the order e-mail, states the 30-day policy
      - id: policy
        input: {REFUND}
        judge: false
        assert: [{{icontains: "30-day"}}]
    """


def test_variants_run_every_case_once_per_variant_recorded_as_their_own_prompts(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "support", VARIANTS)
    result = sim.runpytest("-rA")
    assert set(outcomes_by_case(result)) == {
        f"support.promptopt.yaml::support[{case}@{variant}]"
        for case in ("refund", "policy")
        for variant in ("full", "terse")
    }
    db = default_db(sim)
    assert query(db, "SELECT suite, prompt_text FROM prompts ORDER BY id") == [
        ("support@full", SUPPORT_PROMPT),
        ("support@terse", "Answer in one short sentence."),
    ]
    # Each variant has its own case rows and one evaluation per case.
    assert query(
        db,
        "SELECT p.suite, count(*) FROM evaluations e JOIN prompts p ON p.id = e.prompt_id "
        "GROUP BY p.suite ORDER BY p.suite",
    ) == [("support@full", 2), ("support@terse", 2)]
    assert set(summary_lines(result)) == {"support@full", "support@terse"}
    out = result.stdout.str()
    block = out[out.index("variants of support (each compared with full):") :]
    lines = block.splitlines()
    assert re.match(r"^    full: mean score [\d.]+, pass rate \d+% \(\d of 2 passed\)$", lines[1])
    assert re.match(
        r"^    terse: mean score [\d.]+, pass rate \d+% \(\d of 2 passed\) "
        r"\([+-][\d.]+; pass rate [+-]\d+ points on 2 shared cases\)$",
        lines[2],
    )
    assert lines[3].startswith("        paired: verdict inconclusive, shared cases 2, change ")
    assert lines[4].split() == ["case", "full", "terse"]
    assert [line.split()[0] for line in lines[5:7]] == ["refund", "policy"]
    report_dir = next((sim.path / ".promptopt" / "reports").iterdir())
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "### Variants of support (each compared with full)" in markdown
    assert "| case | full | terse |" in markdown
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "Variants of support" in html
