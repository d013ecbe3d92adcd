"""Prices in a session: a model without a price costs "unknown" (NULL), never a guess; the
ini key `promptopt_prices` gives it one; a bad price line is a configuration error."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.plugin import (
    SUPPORT,
    default_db,
    query,
    summary_lines,
    support_model,
    write_suite,
)

MODEL = "claude-next-1"  # no published price


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackMessagesServer]:
    with support_model().serve() as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        yield srv


def test_a_model_without_a_price_costs_unknown_with_one_warning(
    pytester: pytest.Pytester, server: LoopbackMessagesServer
) -> None:
    write_suite(pytester, "support", SUPPORT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--promptopt-model={MODEL}")
    result.assert_outcomes(passed=1, failed=1)
    assert server.request_count == 4  # two answers, two verdicts: every call was made
    line = summary_lines(result)["support"]
    assert (line["calls"], line["cost"], line["unknown_cost"]) == ("4", None, "unknown")
    output = result.stdout.str() + result.stderr.str()
    assert output.count(f"no published price for model '{MODEL}'") == 1, output
    db = default_db(pytester)
    assert query(db, "SELECT DISTINCT cost_usd FROM llm_calls") == [(None,)]
    assert query(db, "SELECT DISTINCT cost_usd FROM evaluations") == [(None,)]
    assert len(query(db, "SELECT id FROM llm_calls")) == 4
    # The reports say so too: unknown in Markdown, null in JSON.
    (run_dir,) = (pytester.path / ".promptopt" / "reports").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert [s["cost_usd"] for s in report["suites"]] == [None]
    assert "unknown" in (run_dir / "report.md").read_text()


def test_promptopt_prices_sets_a_price(
    pytester: pytest.Pytester, server: LoopbackMessagesServer
) -> None:
    write_suite(pytester, "support", SUPPORT)
    pytester.makeini(
        f"""
        [pytest]
        promptopt_prices =
            # USD per million tokens: input, output[, cache write, cache read]
            {MODEL} = 2, 8
            claude-haiku-4-5 = 1, 5, 1.25, 0.1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--promptopt-model={MODEL}")
    result.assert_outcomes(passed=1, failed=1)
    assert "no published price" not in result.stdout.str() + result.stderr.str()
    sql = "SELECT input_tokens, output_tokens, cost_usd FROM llm_calls"
    rows = query(default_db(pytester), sql)
    assert len(rows) == 4
    for tokens_in, tokens_out, cost in rows:
        assert cost == pytest.approx((tokens_in * 2 + tokens_out * 8) / 1e6)
    line = summary_lines(result)["support"]
    assert float(line["cost"]) > 0


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("claude-next-1 = 2", "it gives 1 price, not 2 or 4"),
        ("claude-next-1 = two, 8", "a price is not a number"),
        ("claude-next-1 2, 8", "it has no `model =`"),
    ],
)
def test_a_bad_price_line_names_the_key_the_line_and_the_fix(
    pytester: pytest.Pytester, line: str, problem: str
) -> None:
    write_suite(pytester, "support", SUPPORT)
    pytester.makeini(f"[pytest]\npromptopt_prices =\n    claude-haiku-4-5 = 1, 5\n    {line}\n")
    result = pytester.runpytest("--promptopt-model=simulated")
    assert result.ret != 0
    assert (
        f"ERROR: promptopt: promptopt_prices (ini): line 2 '{line}' is not a "
        f"price ({problem}); write it as model = input, output[, cache_write, cache_read] "
        "(USD per million tokens)"
    ) in result.stderr.lines
