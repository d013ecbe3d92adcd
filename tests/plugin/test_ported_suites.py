"""Defects found porting public suites (issue 18): offline means offline, cached answers keep
their figures, `promptopt runs` counts what the run used, beta calls keep their header, and a
suite's helpers import from its own folder."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.plugin import default_db, query, summary_lines, write_suite

PINNED = """
name: pinned
model: claude-sonnet-4-5
prompt: "You are a polite support assistant for an online shop."
variants:
  pinned: {}
  big: {model: claude-opus-4-1, prompt: "You are a terse support assistant."}
cases:
  - id: hello
    input: Hello there
  - id: target
    input: Where is order 123?
    judge: false
    assert: [{contains: "order"}]
"""


def test_offline_every_call_goes_to_the_simulator_whatever_model_is_named(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding 12: a suite, a variant and the judge setting pin real models; no credentials.
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    write_suite(pytester, "pinned", PINNED)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--promptopt-judge-model=claude-haiku-4-5", "-rA"
    )
    result.stdout.no_fnmatch_line("*no credentials*")
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0 and sum(outcomes.values()) == 4, outcomes
    rows = query(
        default_db(pytester),
        "SELECT model, requested_model, role, json_extract(request, '$.model') FROM llm_calls",
    )
    assert rows and {(m, sent) for m, _, _, sent in rows} == {("simulated", "simulated")}
    # The records keep the model the suite, the variant and the judge setting asked for.
    assert {(role, asked) for _, asked, role, _ in rows} == {
        ("target", "claude-sonnet-4-5"),
        ("target", "claude-opus-4-1"),
        ("judge", "claude-haiku-4-5"),
    }


CALL_CHECKS = """
name: figures
prompt: "You are a polite support assistant for an online shop."
cases:
  - id: cheap
    input: Hello there
    judge: false
    assert: [{max_cost_usd: 0.0000001}]
  - id: quick
    input: Hello again
    judge: false
    assert: [{max_latency_ms: 0.000001}]
"""


def test_cost_and_latency_checks_judge_a_cached_answer_by_the_call_that_made_it(
    pytester: pytest.Pytester,
) -> None:
    # Finding 14: on a cache hit both checks passed ($0, 0 ms) whatever the call had taken.
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    write_suite(pytester, "figures", CALL_CHECKS)
    first = pytester.runpytest("-p", "no:cacheprovider")
    first.assert_outcomes(failed=2)
    cached = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-cache=replay")
    cached.assert_outcomes(failed=2)
    cached.stdout.fnmatch_lines(["*the call cost $0.0* (recorded with the cached answer)*"])
    cached.stdout.fnmatch_lines(["*the call took * ms (recorded with the cached answer)*"])
    line = summary_lines(cached)["figures"]
    assert (line["calls"], line["hits"], line["cost"]) == ("0", "2", "0.0000")  # spent nothing
    db = default_db(pytester)
    rows = query(
        db,
        "SELECT r.id, e.cached, e.latency_ms FROM evaluations e "
        "JOIN optimization_runs r ON r.id = e.run_id ORDER BY r.id, e.id",
    )
    recorded = dict(query(db, "SELECT request_hash, latency_ms FROM llm_calls"))
    fresh, again = [r for r in rows if r[0] == 1], [r for r in rows if r[0] == 2]
    assert [c for _, c, _ in fresh] == [0, 0] and [c for _, c, _ in again] == [1, 1]
    # The report keeps the latency of the call that made the answer, marked cached.
    assert sorted(latency for *_, latency in again) == sorted(recorded.values())
    assert all(latency > 0 for latency in recorded.values())


ONE = """
name: one
prompt: "You are a polite support assistant for an online shop."
cases:
  - id: hello
    input: Hello there
"""


def _runs(pytester: pytest.Pytester) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["--db", str(default_db(pytester)), "runs", "--json"])
    assert result.exit_code == 0, result.output
    return sorted(json.loads(result.output), key=lambda r: int(str(r["id"])))


def test_promptopt_runs_counts_what_each_run_used_as_its_summary_does(
    pytester: pytest.Pytester,
) -> None:
    # Finding 17: `runs` counted llm_calls.run_id: 0 calls for a cache=off run.
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    write_suite(pytester, "one", ONE)
    off = summary_lines(pytester.runpytest("-p", "no:cacheprovider", "--promptopt-cache=off"))
    used = summary_lines(pytester.runpytest("-p", "no:cacheprovider"))
    hits = summary_lines(pytester.runpytest("-p", "no:cacheprovider"))
    runs = _runs(pytester)
    assert (
        [r["calls"] for r in runs]
        == [int(line["one"]["calls"]) for line in (off, used, hits)]
        == [2, 2, 0]
    )
    assert [f"{r['cost_usd']:.4f}" for r in runs] == [
        line["one"]["cost"] for line in (off, used, hits)
    ]
    shown = CliRunner().invoke(main, ["--db", str(default_db(pytester)), "show", "3", "--json"])
    assert json.loads(shown.output)["calls"]["cache_hits"] == 2


BETA_APP = """
def answer(prompt, case, client):
    message = client.beta.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        system=prompt,
        messages=case.messages,
        betas=BETAS,
    )
    return message.content[0].text
"""


@pytest.fixture
def server() -> Iterator[LoopbackMessagesServer]:
    with LoopbackMessagesServer() as srv:
        yield srv


def test_a_beta_call_reaches_the_server_with_its_header_and_keys_the_cache(
    pytester: pytest.Pytester, server: LoopbackMessagesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding 18: `client.beta.messages.create(..., betas=[...])` lost its `anthropic-beta`.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-BETA")
    pytester.makeini("[pytest]\npromptopt_model = claude-haiku-4-5\npythonpath = .\n")
    write_suite(
        pytester,
        "beta",
        """
        name: beta
        prompt: "You are a polite support assistant."
        target: beta_app:answer
        cases:
          - id: hello
            input: Hello there
            judge: false
            assert: [{contains: "a"}]
        """,
    )
    for betas in (["context-1m-2025-08-07"], ["context-1m-2025-08-07", "files-api-2025-04-14"]):
        pytester.makepyfile(beta_app=f"BETAS = {betas!r}\n" + BETA_APP)
        pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    sent = [h.get("anthropic-beta") for h in server.headers_seen]
    # The second betas list is a new request: not served from the first one's cache entry.
    assert sent == ["context-1m-2025-08-07", "context-1m-2025-08-07,files-api-2025-04-14"]
    requests = query(default_db(pytester), "SELECT request FROM llm_calls ORDER BY id")
    assert [json.loads(r)["betas"] for (r,) in requests] == [
        ["context-1m-2025-08-07"],
        ["context-1m-2025-08-07", "files-api-2025-04-14"],
    ]
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--promptopt-cache=replay")
    again.assert_outcomes(passed=1)
    assert server.request_count == 2


HELPER = """
def {name}(answer, case):
    return "{word}" in answer.text.lower() or True, "{where}"
"""
TARGET = """
def answer(prompt, case, client):
    return "answered from {where}"
"""


def _suite(name: str, check: str, target: str | None = None) -> str:
    lines = [f"name: {name}", 'prompt: "Be brief."']
    if target:
        lines.append(f"target: {target}")
    lines += [
        "cases:",
        "  - id: c",
        "    input: Hello",
        "    judge: false",
        f"    assert: [{{python: '{check}'}}]",
    ]
    return "\n".join(lines) + "\n"


def test_a_suite_s_helpers_import_from_its_own_folder_like_a_test_module_s(
    pytester: pytest.Pytester,
) -> None:
    # Finding 15: collecting several folders needed each of them in `pythonpath`.
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    alpha, beta = pytester.mkdir("alpha"), pytester.mkdir("beta")
    (alpha / "alpha_checks.py").write_text(HELPER.format(name="ok", word="a", where="alpha"))
    (alpha / "a.promptopt.yaml").write_text(_suite("a", "alpha_checks:ok"))
    (beta / "beta_app.py").write_text(TARGET.format(where="beta"))
    (beta / "beta_checks.py").write_text(HELPER.format(name="ok", word="b", where="beta"))
    (beta / "b.promptopt.yaml").write_text(_suite("b", "beta_checks:ok", "beta_app:answer"))
    # A package folder: its helper is named by the dotted path from the first folder up
    # without an __init__.py, as pytest's `prepend` mode names a test module's neighbours.
    pkg = pytester.mkdir("pkg")
    (pkg / "__init__.py").write_text("")
    sub = pkg / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    (sub / "helpers.py").write_text(HELPER.format(name="ok", word="c", where="pkg"))
    (sub / "c.promptopt.yaml").write_text(_suite("c", "pkg.sub.helpers:ok"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "alpha", "beta", "pkg")
    result.assert_outcomes(passed=3)
    answers = query(default_db(pytester), "SELECT model_response FROM evaluations")
    assert ("answered from beta",) in answers


def test_two_folders_with_a_helper_of_one_name_are_an_import_mismatch(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    for name in ("one", "two"):
        folder = pytester.mkdir(name)
        (folder / "helpers.py").write_text(HELPER.format(name="ok", word="x", where=name))
        (folder / f"{name}.promptopt.yaml").write_text(_suite(name, "helpers:ok"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "one", "two")
    result.assert_outcomes(errors=1)  # the second folder's suite: a collection error
    result.stdout.fnmatch_lines(["*module 'helpers' was already imported from *one*helpers.py*"])
    result.stdout.fnmatch_lines(["*import file mismatch*"])
