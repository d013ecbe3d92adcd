"""What the end of a session tells the user, read where the user reads it: the terminal under
`-q`, `-rA` and `-n 2`, and report.json, report.md and report.html (issue 20)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.plugin import SUPPORT_PROMPT, write_suite

XDIST = ("-n", "2", "-p", "no:cacheprovider")

GRADED = f"""
name: graded
prompt: "{SUPPORT_PROMPT}"
min_pass_rate: 0.9
cases:
  - id: good
    input: I want a refund for order 123
    judge: false
    assert: [{{contains: "30-day"}}]
  - id: bad
    input: I want a refund for order 123
    judge: false
    assert: [{{contains: zebra}}]
"""
WOBBLY = f"""
name: wobbly
prompt: "{SUPPORT_PROMPT}"
repeats: 5
min_passes: 4
cases:
  - id: opener
    input: I want a refund for order 123
    flaky: true
    judge: false
    assert: [{{icontains: "happy to help"}}]
"""
PLAIN_FAIL = f"""
name: plain
prompt: "{SUPPORT_PROMPT}"
cases:
  - id: zebra
    input: I want a refund for order 123
    judge: false
    assert: [{{contains: zebra}}]
"""
GATE = (
    "FAILED pass-rate gate: suite 'graded': pass rate 50% (1 of 2 cases) is under its minimum "
    "90% (min_pass_rate)"
)
BAD_REASON = (
    "bad: counts against the suite's pass rate (min_pass_rate 90%): score 0.00 under the "
    "threshold 0.70; failed check: contains 'zebra'"
)


def run_dir(pytester: pytest.Pytester) -> Path:
    """The latest run's report folder."""
    return max((pytester.path / ".promptopt" / "reports").iterdir(), key=lambda p: int(p.name))


def reports(pytester: pytest.Pytester) -> tuple[dict[str, Any], str, str]:
    """report.json (parsed), report.md and report.html of the latest run."""
    folder = run_dir(pytester)
    return (
        json.loads((folder / "report.json").read_text()),
        (folder / "report.md").read_text(),
        (folder / "report.html").read_text(),
    )


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the `promptopt` terminal section."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ promptopt =+$", line))
    ends = (
        i
        for i in range(start + 1, len(lines))
        if lines[i].startswith("===") or re.match(r"^\d+ (passed|failed|error)", lines[i])
    )
    end = next(ends, len(lines))
    return lines[start + 1 : end]


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_a_failed_pass_rate_gate_leads_the_summary_when_other_items_fail_too(
    sim: pytest.Pytester, xdist: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    step_summary = sim.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    write_suite(sim, "graded", GRADED)
    write_suite(sim, "plain", PLAIN_FAIL)
    sim.makepyfile(test_other="def test_other():\n    assert 1 == 2\n")
    args = ("-q", *XDIST) if xdist else ("-q",)
    result = sim.runpytest_subprocess(*args) if xdist else sim.runpytest(*args)
    result.assert_outcomes(passed=1, failed=2, xfailed=1)
    lines = section(result)
    # The gate comes first, with its failing case and the reason it failed; then the spend;
    # then the suites.
    assert lines[0] == GATE
    assert lines[1] == "    " + BAD_REASON
    assert lines[2].startswith("spend: ")
    assert re.match(r"^(graded: 2 cases|plain: 1 case),", lines[3])  # xdist: either first
    # The same facts, in the same order, in every report.
    data, markdown, html = reports(sim)
    verdict = data["verdict"]
    assert [g["kind"] for g in verdict["gates"]] == ["pass-rate"]
    assert verdict["gates"][0]["cases"] == [BAD_REASON]
    assert (
        markdown.index("FAILED pass-rate gate")
        < markdown.index("spend: ")
        < markdown.index("| suite |")
    )
    assert html.index("FAILED pass-rate gate") < html.index("spend: ") < html.index('id="suite-1"')
    # The GitHub step summary is the Markdown report: the same verdict first.
    assert step_summary.read_text().startswith(markdown.rstrip("\n"))


def test_failing_cases_of_graded_and_flaky_suites_say_why_everywhere(sim: pytest.Pytester) -> None:
    write_suite(sim, "graded", GRADED.replace("min_pass_rate: 0.9", "min_pass_rate: 0.5"))
    write_suite(sim, "wobbly", WOBBLY)
    result = sim.runpytest("-rx")
    result.assert_outcomes(passed=1, xfailed=2)
    flaky_reason = (
        "flaky case (never fails the session): score 0.20 under the threshold 0.70; failed "
        "check: icontains 'happy to help'; 1 of 5 samples passed, 4 needed"
    )
    # -rx: the whole reason on the XFAIL line...
    result.stdout.fnmatch_lines(
        [f"XFAIL wobbly.promptopt.yaml::wobbly[[]opener[]] - {flaky_reason}"]
    )
    # ...and by default, in the promptopt section, under the suite (the gate held, so no
    # verdict line carries them).
    plain = sim.runpytest()
    lines = section(plain)
    assert f"    xfailed {BAD_REASON.replace('90%', '50%')}" in lines
    assert f"    xfailed opener: {flaky_reason}" in lines
    data, markdown, html = reports(sim)
    rows = {c["case_id"]: c for c in data["cases"]}
    assert rows["opener"]["flaky"] is True and rows["opener"]["reason"] == flaky_reason
    assert "1 of 5 samples passed, 4 needed" in markdown
    assert "\u274c failed (flaky): flaky case" in markdown
    assert "counts against the suite's pass rate (min\\_pass\\_rate 50%)" in markdown
    assert '<span class="badge">flaky</span>' in html
    assert "1 of 5 samples passed, 4 needed" in html


SHOP_PROMPT = "You are the support assistant of a kitchenware shop."
ITEMS = ["pan", "knife", "pot", "mug", "kettle", "whisk", "grater", "ladle", "sieve", "tongs"]
CITIES = ["Wuppertal", "Carcassonne", "Bergamo", "Albacete", "Leeds", "Porto", "Ghent", "Graz"]
SMALL = (
    "--optimize",
    "--promptopt-apply",
    "--promptopt-candidates=3",
    "--promptopt-quick-tests=2",
    "--promptopt-rigorous-tests=2",
    "--promptopt-top-k=2",
    "--promptopt-top-m=1",
    "--promptopt-iterations=1",
    "--promptopt-samples=2",
)


def shop_suite(pytester: pytest.Pytester) -> Path:
    """Eighteen refund and delivery cases a bare prompt misses: enough held-out cases (6) for
    the apply gate to find the best prompt's gain significant. Returns the prompt file."""
    prompt = pytester.path / "prompt.txt"
    prompt.write_text(SHOP_PROMPT + "\n")
    lines = ["name: shop", "description: Support assistant of a kitchenware shop.",
             "prompt: prompt.txt", "cases:"]  # fmt: skip
    for item in ITEMS:
        lines += [f"  - id: refund-{item}", "    category: refund",
                  f"    input: My {item} arrived broken, refund please",
                  "    expected: Apologises, states the 30-day refund policy"]  # fmt: skip
    for city in CITIES:
        lines += [f"  - id: delivery-{city.lower()}", "    category: delivery",
                  f"    input: How long is delivery to {city}?",
                  "    expected: Says delivery takes 3-5 business days"]  # fmt: skip
    write_suite(pytester, "shop", "\n".join(lines) + "\n")
    return prompt


APPLIED = re.compile(
    r"^applied: shop: wrote prompt #\d+ to (?P<file>\S+prompt\.txt) \((?:held-out|confirmation) "
    r"(?P<before>\d\.\d\d) -> (?P<after>\d\.\d\d), paired gain \+\d\.\d{3} "
    r"\[\+\d\.\d{3}, \+\d\.\d{3}\] \(90%\)\)$"
)
SPEND = re.compile(
    r"^spend: target (?P<t>[\d,]+) calls \$[\d.]+, judge (?P<j>[\d,]+) calls \$[\d.]+, "
    r"optimize (?P<o>\d+) calls \$[\d.]+; session total (?P<total>[\d,]+) calls, "
    r"\$(?P<cost>[\d.]+)"
)


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_an_applied_prompt_and_the_spend_reach_the_summary_under_q_and_xdist(
    sim: pytest.Pytester, xdist: bool
) -> None:
    prompt = shop_suite(sim)
    args = ("-q", *SMALL, *(XDIST if xdist else ()))
    result = sim.runpytest_subprocess(*args)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert prompt.read_text() != SHOP_PROMPT + "\n"  # the file was rewritten...
    lines = section(result)
    applied = APPLIED.match(lines[0])
    assert applied, lines[:3]  # ...and the summary says so first, with the gate's figures
    assert Path(applied["file"]) == prompt
    assert float(applied["after"]) > float(applied["before"])
    spend = SPEND.match(lines[1])
    assert spend, lines[1]
    roles = int(spend["t"].replace(",", "")) + int(spend["j"].replace(",", "")) + int(spend["o"])
    assert roles == int(spend["total"].replace(",", "")) > 100 and float(spend["cost"]) > 0.01
    assert "of which the optimize pipelines" in lines[1] and "(estimated ~" in lines[1]
    # The suite's own line names what its pipeline spent (its items were served from cache).
    shop = next(line for line in lines if line.startswith("shop: "))
    assert re.search(r"its optimize pipeline [\d,]+ calls, \$0\.\d{4}$", shop), shop
    data, markdown, html = reports(sim)
    verdict = data["verdict"]
    assert verdict["applied"][0]["applied"] is True
    assert verdict["applied"][0]["file"] == str(prompt)
    low, high = verdict["applied"][0]["interval"]
    assert 0 < low < verdict["applied"][0]["gain"] < high
    assert verdict["spend"]["calls"] == int(spend["total"].replace(",", ""))
    assert [r["role"] for r in verdict["spend"]["roles"]] == ["target", "judge", "optimize"]
    # The Markdown header is the session's spend, not the items' cached zero.
    header = markdown.splitlines()[2]
    assert f"session {spend['total']} calls" in header and "$0.0000" not in header
    assert markdown.index("applied: shop") < markdown.index("spend: ") < markdown.index("| suite")
    assert html.index("applied: shop") < html.index("spend: ") < html.index('id="suite-1"')


def test_an_inline_prompt_is_not_applied_and_the_summary_says_why(sim: pytest.Pytester) -> None:
    shop_suite(sim)
    suite = sim.path / "shop.promptopt.yaml"
    suite.write_text(suite.read_text().replace("prompt: prompt.txt", f"prompt: {SHOP_PROMPT}"))
    result = sim.runpytest("-q", *SMALL)
    lines = section(result)
    assert lines[0].startswith("not applied: shop: its prompt is inline, not in a file"), lines[0]
    data, _, _ = reports(sim)
    assert data["verdict"]["applied"][0]["applied"] is False


TARGET_APP = """
def lookup(case):
    return {"soup": 1}[case.input]


def answer(prompt, case, client):
    return "Cook: " + str(lookup(case))
"""
CHECKS = """
def broken(answer, case):
    raise RuntimeError("the checker fell over")
"""


@pytest.mark.parametrize("args", [(), ("--tb=long",), XDIST], ids=["default", "long", "xdist"])
def test_an_exception_in_a_target_or_check_shows_the_users_traceback(
    sim: pytest.Pytester, args: tuple[str, ...]
) -> None:
    sim.makepyfile(kitchen=TARGET_APP, mychecks=CHECKS)
    write_suite(sim, "kitchen", "name: kitchen\nprompt: You cook.\ntarget: kitchen:answer\n"
                "cases:\n  - id: stew\n    input: stew please\n    expected: A stew\n")  # fmt: skip
    write_suite(sim, "chk", "name: chk\nprompt: You cook.\ncases:\n  - id: soup\n"
                "    input: soup please\n    judge: false\n"
                "    assert: [{python: 'mychecks:broken'}]\n")  # fmt: skip
    result = sim.runpytest_subprocess("-rA", *args)
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    assert "ERROR at setup of" not in out
    result.stdout.fnmatch_lines(
        [
            "*ERROR at call of kitchen[[]stew[]]*",
            "error in your target kitchen:answer (judging kitchen[[]stew[]]):",
            "Traceback (most recent call last):",
            '  File "*kitchen.py", line 6, in answer',
            '    return "Cook: " + str(lookup(case))',
            '  File "*kitchen.py", line 2, in lookup',
            "KeyError: 'stew please'",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "error in your python check mychecks:broken (judging chk[[]soup[]]):",
            "Traceback (most recent call last):",
            '  File "*mychecks.py", line 2, in broken',
            "RuntimeError: the checker fell over",
        ]
    )
    assert "pytest_promptopt" not in out.split("ERRORS")[1].split("= promptopt =")[0]
    result.stdout.fnmatch_lines(["ERROR kitchen.promptopt.yaml::kitchen[[]stew[]] - error in *"])


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_a_bad_judge_noise_is_one_error_at_the_start_and_errors_have_no_score(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: bool
) -> None:
    monkeypatch.setenv("PROMPTOPT_SIMULATED_JUDGE_NOISE", "loud")
    write_suite(sim, "support", f"""
name: support
prompt: "{SUPPORT_PROMPT}"
cases:
  - id: refund
    input: I want a refund for order 123
    expected: Apologises
  - id: weather
    input: What's the weather like?
""")  # fmt: skip
    args = ("-rA", *XDIST) if xdist else ("-rA",)
    result = sim.runpytest_subprocess(*args)
    result.assert_outcomes(errors=2)
    cause = (
        "PROMPTOPT_SIMULATED_JUDGE_NOISE must be a number >= 0 (the standard deviation of the "
        "simulated judge's noise, e.g. 0.15), got 'loud'; unset it for the default"
    )
    lines = result.outlines
    start = lines.index(f"promptopt: session error: {cause}; the cases will not run")
    assert start < next(i for i, line in enumerate(lines) if "ERRORS" in line)
    assert sum(cause in line for line in lines) == 2  # at the start, and once at the end
    # Each item names the cause in one line and points at the one full statement of it.
    assert (
        lines.count(
            "promptopt error: not run: PROMPTOPT_SIMULATED_JUDGE_NOISE must be a number >= 0 "
            "(the standard deviation of the simulated judge's noise, e.g. 0.15), got 'loud' (the "
            "session error in the promptopt section says more)"
        )
        == 2
    )
    result.stdout.fnmatch_lines(
        ["ERROR support.promptopt.yaml::support[[]refund[]] - promptopt error: not run: *"]
    )
    summary = section(result)
    assert summary[0] == f"session error: {cause} (2 items not run)"
    # An error has no score: no mean of 0.00 beside them.
    assert any(
        line.startswith("support: 2 cases, no score (2 cases errored), pass rate 0%")
        for line in summary
    ), summary
    data, markdown, html = reports(sim)
    assert data["suites"][0]["mean_score"] is None
    assert data["verdict"]["problems"] == [{"cause": cause, "items": 2}]
    assert "0.00" not in markdown.split("### Failures")[1]
    assert "Every case errored: no score to chart (2 errors)." in html


def test_progress_is_one_line_per_stage_and_its_counts_say_what_they_count(
    sim: pytest.Pytester,
) -> None:
    shop_suite(sim)
    result = sim.runpytest(*SMALL)
    stages = [line for line in result.outlines if re.match(r"^promptopt: \[shop\] \d+/\d+ ", line)]
    names = [line.split()[3] for line in stages]
    assert len(names) == len(set(names)) >= 10, stages  # one line per stage, at its end
    for line in stages:
        assert re.search(r"\(shop so far \d+ calls, \$[\d.]+; session \d+ calls, \$[\d.]+\)$",
                         line), line  # fmt: skip


TWO_ANSWERS = """
from pytest_promptopt import Case, Suite

suite = Suite(name="greeter", prompt="You greet people.", threshold=0.5,
              cases=[Case(id="hi", input="Hello!", expected="A friendly greeting")])


def test_two_answers(promptopt):
    first = promptopt.judge(suite, "hi", "Hello there, welcome!")
    second = promptopt.judge(suite, "hi", "Go away.")
    again = promptopt.judge(suite, "hi", "Hello there, welcome!")
    assert first.score == again.score
"""


def test_two_answers_judged_for_one_case_are_two_records(sim: pytest.Pytester) -> None:
    sim.makepyfile(test_two=TWO_ANSWERS)
    result = sim.runpytest()
    result.assert_outcomes(passed=1)
    # Two distinct answers: two records in the summary and two evaluation rows; the first
    # answer judged again is the same record.
    assert any(line.startswith("greeter: 2 cases,") for line in section(result)), section(result)
    from tests.support.plugin import default_db, query

    rows = query(default_db(sim), "SELECT sample FROM evaluations ORDER BY sample")
    assert rows == [(0,), (1,)]
    data, _, _ = reports(sim)
    assert len(data["cases"]) == 2
