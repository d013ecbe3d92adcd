"""The pull-request comment's Markdown: hostile text made inert, GitHub's size limit kept."""

from __future__ import annotations

import re
from urllib.parse import quote

from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.reporting.gfm import COMMENT_LIMIT, Budget, gfm_text, join_url
from pytest_promptopt.reporting.pr_comment import MARKER, CommentInput, render_comment
from pytest_promptopt.reporting.run_gates import RunGates
from pytest_promptopt.reporting.verdict import SessionVerdict
from pytest_promptopt.stats import CaseOutcome, compare_runs

VIEW = "https://view.example"
HOSTILE = "<script>alert(1)</script> | `rm -rf` @octocat see #12 and https://evil.example **x**"


def _data(case_ids: list[str], reasoning: str, suite: str = "support") -> CommentInput:
    """A run whose cases all went pass -> fail against baseline run 1, every id and text given."""
    before = {k: CaseOutcome(0.9, True) for k in case_ids}
    after = {k: CaseOutcome(0.3 + (i % 7) / 100, False) for i, k in enumerate(case_ids)}
    comparison = compare_runs(before, after)
    result = BaselineResult(suite=suite, baseline_run_id=1, run_id=2, comparison=comparison)
    records = [
        CaseRecord(suite=suite, case_id=k, score=o.score, threshold=0.7, passed=o.passed)
        for k, o in after.items()
    ]

    def judged(outcomes: dict[str, CaseOutcome]) -> dict[str, dict[str, object]]:
        rows = [{"case_key": k, "score": o.score, "passed": o.passed, "reasoning": reasoning}
                for k, o in outcomes.items()]  # fmt: skip
        return {suite: {"prompt_id": 1, "cases": rows}}

    return CommentInput(
        run_id=2,
        name="gh-1-1",
        failed=True,
        gates=RunGates(baselines={suite: result}),
        verdict=SessionVerdict(),
        totals={suite: SuiteTotals.of(suite, records)},
        judged=judged(after),
        baseline_judged={1: judged(before)},
        case_url=lambda run, s, case: join_url(VIEW, f"/c/{quote(case, safe='')}"),
    )


def _text_outside_tags(markdown: str) -> str:
    """What would render as raw HTML: every `<tag` that is not the comment's own."""
    own = ("<!-- promptopt-comment -->", "<details>", "</details>", "<summary>", "</summary>")
    for tag in own:
        markdown = markdown.replace(tag, "")
    return re.sub(r"\]\(https://view\.example/c/[^)\s]*\)", "]", markdown)  # link targets


def test_hostile_case_ids_and_reasoning_render_as_text() -> None:
    key = "sk-ant-api03-" + "k" * 40
    data = _data([HOSTILE, "refund-1|x"], reasoning=HOSTILE + f"\n\n# heading\n@everyone {key}")
    body = render_comment(data)
    assert key not in body and "[REDACTED]" in body
    assert body.startswith(MARKER + "\n")
    rest = _text_outside_tags(body)
    assert "%40octocat" in body  # the link's target has the id, quoted
    assert "<" not in rest.replace("&lt;", "")  # no raw HTML at all
    assert "&lt;script&gt;" in body
    assert not re.search(r"(?<!\\)`", rest)  # every backtick escaped: no code span opens
    assert not re.search(r"@(?=[A-Za-z])", rest)  # no mention pings anyone
    assert not re.search(r"(?<!&)#\d", rest)  # no cross-reference to an issue
    assert "https://evil" not in rest and "\\*\\*x\\*\\*" in body
    assert "\n# heading" not in body  # a newline in the text cannot start a heading
    # A pipe in a case id cannot add a column to the per-case table.
    row = next(line for line in body.splitlines() if "refund-1" in line and line.startswith("|"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 6


def test_links_quote_what_would_end_them() -> None:
    url = join_url("https://view.example/base/", "/runs/2/cases/a (b)<c>?suite=x y")
    assert url == "https://view.example/base/runs/2/cases/a%20%28b%29%3Cc%3E?suite=x%20y"


def test_gfm_text_keeps_plain_text_readable() -> None:
    assert gfm_text("refund-1 scored 0.75") == "refund-1 scored 0.75"
    assert gfm_text("mail me@x.org") == "mail me@&#8203;x.org"


def test_a_huge_run_stays_under_githubs_limit_with_a_note() -> None:
    ids = [f"case-{i:05d}-" + "x" * 60 for i in range(3000)]
    body = render_comment(_data(ids, reasoning="r" * 2000))
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith(MARKER)
    assert "**regressed**" in body  # the verdict line comes first and survives
    assert "cut here to stay under GitHub's 65,536-character comment limit" in body
    assert body.rstrip().endswith("</details>")  # the details are closed even when cut
    head = body.split("<details>")[0]
    assert "\u2026 and 2975 more (in the details)" in head  # the flips line is capped


def test_the_budget_cuts_at_the_first_block_that_does_not_fit() -> None:
    budget = Budget(limit=1000, reserve=200)
    assert budget.add("a" * 500) and not budget.add("b" * 400) and not budget.add("c")
    budget.close("end")
    text = budget.text()
    assert "bbbb" not in text and text.startswith("a" * 500)
    assert "2 more lines" in text and text.endswith("end\n") and len(text) < 1000


def test_clustered_cases_state_their_design_effect() -> None:
    keys = [f"c{i}" for i in range(12)]
    before = {k: CaseOutcome(0.9, True, "", f"topic-{i % 4}") for i, k in enumerate(keys)}
    after = {
        k: CaseOutcome(0.9 - 0.05 * (i % 4) - 0.01 * (i % 3), True, "", f"topic-{i % 4}")
        for i, k in enumerate(keys)
    }
    data = _data(keys, reasoning="")
    comparison = compare_runs(before, after)
    data.gates.baselines = {
        "support": BaselineResult(
            suite="support", baseline_run_id=1, run_id=2, comparison=comparison
        )
    }
    assert comparison.clusters is not None
    line = next(
        x for x in render_comment(data).splitlines() if x.startswith("- ") and "**support**" in x
    )
    assert f"4 clusters of 12 cases, design effect {comparison.clusters.design_effect:.2f}" in line
    assert "detects" in line or comparison.min_detectable_change is None
