"""Every page and API route of the viewer against a database made by real sessions (SQLite):
status, figures equal to the database, hostile text escaped, writes refused without --labels."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pytest_promptopt.view.app import create_app
from pytest_promptopt.view.links import api_url, case_url
from pytest_promptopt.view.security import CSP, TOKEN_HEADER
from tests.view.sessions import HOSTILE_ID, HOSTILE_INPUT, History

HOSTILE_SUITE = "hostile@full"


@pytest.fixture(scope="module")
def client(history: History) -> Iterator[TestClient]:
    """The read-only viewer."""
    with TestClient(create_app(history.url, hosts=["testserver"])) as c:
        yield c


@pytest.fixture(scope="module")
def labelling(history: History) -> Iterator[TestClient]:
    """The viewer with --labels."""
    with TestClient(create_app(history.url, labels=True, hosts=["testserver"])) as c:
        yield c


def sql(history: History, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the history's SQLite file."""
    path = history.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(query, params).fetchall()


def cli_json(history: History, *args: str) -> Any:
    """`promptopt --db URL ARGS --json`."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", history.url, *args, "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def pages(history: History) -> list[str]:
    """Every page of the history (and its JSON twin is '/api' + it, but for /label)."""
    return [
        "/",
        "/?suite=support",
        f"/runs/{history.baseline}",
        f"/runs/{history.regressed}",
        f"/runs/{history.optimized}",
        case_url(history.regressed, HOSTILE_SUITE, HOSTILE_ID),
        case_url(history.baseline, "support", "refund-1"),
        f"/compare/{history.baseline}/{history.regressed}",
        f"/runs/{history.optimized}/optimize",
        f"/runs/{history.optimized}/optimize?prompt=7",
        f"/label?run={history.regressed}",
    ]


def test_every_page_and_its_json_twin_answer_with_the_security_headers(
    client: TestClient, history: History
) -> None:
    for page in pages(history):
        html = client.get(page)
        assert html.status_code == 200, (page, html.text[:500])
        assert html.headers["content-type"].startswith("text/html")
        assert html.headers["content-security-policy"] == CSP
        assert html.headers["x-frame-options"] == "DENY"
        api = api_url(page)
        answer = client.get(api)
        assert answer.status_code == 200, (api, answer.text[:500])
        assert isinstance(answer.json(), dict)
    assert client.get("/static/view.js").status_code == 200
    assert client.get("/static/report.css").text.startswith(":root")


def test_unknown_runs_cases_and_prompts_are_404(client: TestClient, history: History) -> None:
    for path in ("/runs/999", "/api/runs/999", "/compare/1/999", "/runs/1/cases/nope",
                 "/api/runs/1/cases/nope", f"/runs/{history.optimized}/optimize?prompt=1",
                 "/nowhere"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    assert "no run with id 999" in client.get("/api/runs/999").json()["error"]


def test_the_runs_figures_are_the_databases(client: TestClient, history: History) -> None:
    runs = {r["id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert list(runs) == [history.optimized, history.regressed, history.baseline]
    cli = {r["id"]: r for r in cli_json(history, "runs")}
    for run_id, row in runs.items():
        assert row["cases"] == cli[run_id]["cases"]
        assert row["passed"] == cli[run_id]["cases_passed"]
        assert row["calls"] == cli[run_id]["calls"]
        assert row["cost_usd"] == pytest.approx(cli[run_id]["cost_usd"])
    for run_id in (history.baseline, history.regressed):  # one judged prompt per suite
        cases, passed, mean = sql(
            history, "SELECT count(*), sum(passed), avg(overall_score) FROM evaluations "
            "WHERE run_id = ?", run_id)[0]  # fmt: skip
        assert (runs[run_id]["cases"], runs[run_id]["passed"]) == (cases, passed)
        assert runs[run_id]["mean_score"] == pytest.approx(mean)
        low, high = runs[run_id]["pass_rate_ci"]
        assert low <= passed / cases <= high
    assert runs[history.baseline]["pass_rate"] == 1.0
    assert {s["suite"] for s in runs[history.regressed]["suites"]} == {
        "support", "hostile@full", "hostile@terse"}  # fmt: skip
    # the filters
    only = client.get("/api/runs?suite=shop").json()["runs"]
    assert [r["id"] for r in only] == [history.optimized]
    assert client.get("/api/runs?branch=nowhere").json()["runs"] == []
    if shutil.which("git"):  # the sessions ran in a git repository
        assert [r["id"] for r in client.get("/api/runs?branch=main").json()["runs"]] == [
            history.baseline]  # fmt: skip
        assert runs[history.regressed]["git"]["branch"] == "feature"
        assert len(runs[history.regressed]["git"]["commit"]) == 40


def test_the_run_page_shows_the_report_its_gates_and_links_every_case(
    client: TestClient, history: History
) -> None:
    data = client.get(f"/api/runs/{history.regressed}").json()
    report = data["report"]
    support = next(s for s in report["suites"] if s["name"] == "support")
    assert support["baseline"]["comparison"]["verdict"] == "regressed"
    assert support["baseline"]["baseline_run_id"] == history.baseline
    assert data["baselines"] == {"support": history.baseline}
    assert [v["suite"] for v in report["variants"]] == ["hostile"]
    html = client.get(f"/runs/{history.regressed}").text
    assert f'href="/compare/{history.baseline}/{history.regressed}"' in html
    assert "regressed" in html and "Variants of hostile" in html
    for case in report["cases"]:
        assert f'href="{case_url(history.regressed, case["suite"], case["case_id"])}"'.replace(
            "&", "&amp;") in html  # fmt: skip


def test_the_case_page_holds_the_request_answer_checks_and_verdict(
    client: TestClient, history: History
) -> None:
    url = case_url(history.regressed, HOSTILE_SUITE, HOSTILE_ID)
    data = client.get("/api" + url).json()
    (answer, reasoning, score), = sql(
        history, "SELECT e.model_response, e.reasoning, e.overall_score FROM evaluations e "
        "JOIN test_cases t ON t.id = e.test_case_id WHERE e.run_id = ? AND t.case_key = ? "
        "AND t.suite = ?", history.regressed, HOSTILE_ID, HOSTILE_SUITE)  # fmt: skip
    assert data["case_key"] == HOSTILE_ID and data["suite"] == HOSTILE_SUITE
    assert data["request"]["messages"] == [{"role": "user", "content": HOSTILE_INPUT}]
    assert data["request"]["system"] == "Repeat what the user says."
    (sample,) = data["samples"]
    assert (sample["answer"], sample["reasoning"]) == (answer, reasoning)
    assert data["score"] == pytest.approx(score)
    assert [h["run_id"] for h in data["history"]] == [history.regressed]
    support = client.get("/api" + case_url(history.regressed, "support", "refund-1")).json()
    assert [h["run_id"] for h in support["history"]] == [history.baseline, history.regressed]


def test_hostile_text_is_escaped_on_every_page(client: TestClient, history: History) -> None:
    for page in pages(history):
        html = client.get(page).text
        assert "<script>alert" not in html, page
        assert "<b>bold" not in html, page
        assert html.count("<script") == 1, page  # the viewer's own view.js only
    run = client.get(f"/runs/{history.regressed}").text
    assert "&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;" in run
    case = client.get(case_url(history.regressed, HOSTILE_SUITE, HOSTILE_ID)).text
    assert "Say &lt;script&gt;alert(&#39;answer&#39;)&lt;/script&gt; and &lt;b&gt;bold" in case


def test_compare_puts_the_flips_first_with_both_answers(
    client: TestClient, history: History
) -> None:
    data = client.get(f"/api/compare/{history.baseline}/{history.regressed}").json()
    diff = cli_json(history, "diff", str(history.baseline), str(history.regressed))
    flips = [r for r in diff["cases"] if r["pass_to_fail"] or r["fail_to_pass"]]
    assert data["flips"] == len(flips) > 0
    assert [r["flip"] for r in data["cases"][: len(flips)]] == ["pass_to_fail"] * len(flips)
    assert {r["case_key"] for r in data["cases"][: len(flips)]} == {r["case_key"] for r in flips}
    first = data["cases"][0]
    assert first["a"]["answer"] and first["b"]["answer"] and first["a"] != first["b"]
    suite = next(s for s in data["suites"] if s["suite"] == "support")
    assert suite["comparison"] == next(s for s in diff["suites"] if s["suite"] == "support")[
        "comparison"]  # fmt: skip


def test_optimize_shows_the_lineage_tree_and_each_prompts_diff(
    client: TestClient, history: History
) -> None:
    data = client.get(f"/api/runs/{history.optimized}/optimize").json()
    (suite,) = data["suites"]
    rows = sql(history, "SELECT id, parent_prompt_id FROM prompts WHERE run_id = ?",
               history.optimized)  # fmt: skip
    assert suite["prompts"] == len(rows)

    def walk(nodes: list[dict[str, Any]], parent: int | None) -> list[tuple[int, int | None]]:
        return [pair for n in nodes for pair in [(n["id"], parent), *walk(n["children"], n["id"])]]

    assert sorted(walk(suite["tree"], None)) == sorted(rows)
    chosen = [n for n in suite["tree"] if n["best"]]
    assert [n["id"] for n in chosen] == [suite["best_prompt_id"]]
    assert suite["applied"] is False and suite["apply_requested"] is False
    child, parent = next((c, p) for c, p in rows if p is not None)
    prompt = client.get(f"/api/runs/{history.optimized}/optimize?prompt={child}").json()["prompt"]
    assert prompt["parent_id"] == parent
    assert any(line["op"] == "+" for line in prompt["diff"])


def test_writes_are_refused_without_labels(client: TestClient, history: History) -> None:
    before = sql(history, "SELECT count(*) FROM labels")
    answer = client.post("/api/labels", json={"evaluation_id": 1, "level": 3})
    assert answer.status_code == 403
    assert "--labels" in answer.json()["error"]
    assert client.post(f"/runs/{history.baseline}").status_code == 405
    assert 'content=""' in client.get("/label").text  # no token in a read-only page
    assert sql(history, "SELECT count(*) FROM labels") == before


def test_labels_need_the_token_json_and_the_same_origin(
    labelling: TestClient, history: History
) -> None:
    page = labelling.get(f"/label?run={history.regressed}").text
    token = page.split('name="promptopt-token" content="', 1)[1].split('"', 1)[0]
    assert len(token) > 20
    evaluation = int(page.split('data-evaluation="', 1)[1].split('"', 1)[0])
    body = {"evaluation_id": evaluation, "passed": False, "labeller": "tester"}
    assert labelling.post("/api/labels", json=body).status_code == 403
    wrong = labelling.post("/api/labels", json=body, headers={TOKEN_HEADER: "guess"})
    assert wrong.status_code == 403
    other = labelling.post(
        "/api/labels", json=body, headers={TOKEN_HEADER: token, "origin": "http://evil.test"}
    )
    assert other.status_code == 403 and "cross-origin" in other.json()["error"]
    form = labelling.post("/api/labels", content="x=1", headers={
        TOKEN_HEADER: token, "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert form.status_code == 403
    bad = labelling.post("/api/labels", json={**body, "level": 9, "passed": None},
                         headers={TOKEN_HEADER: token})  # fmt: skip
    assert bad.status_code == 400 and "1-5" in bad.json()["error"]
    ok = labelling.post(
        "/api/labels", json=body, headers={TOKEN_HEADER: token, "origin": "http://testserver"}
    )
    assert ok.status_code == 201, ok.text
    assert sql(history, "SELECT evaluation_id, passed, labeller FROM labels "
               "WHERE labeller = 'tester'") == [(evaluation, 0, "tester")]  # fmt: skip
    # a labelled answer leaves the queue
    queue = labelling.get(f"/api/labels?run={history.regressed}").json()
    assert evaluation not in [item["evaluation_id"] for item in queue["items"]]


def test_other_hosts_are_refused(history: History) -> None:
    with TestClient(create_app(history.url, hosts=["127.0.0.1"])) as c:
        assert c.get("/", headers={"host": "evil.test"}).status_code == 400
        assert c.get("/api/runs", headers={"host": "127.0.0.1"}).status_code == 200


def test_hostile_reasoning_and_tool_calls_are_escaped(history: History, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(history.url.removeprefix("sqlite:///"), copy)
    hostile = "<script>alert('reasoning')</script>"
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "UPDATE evaluations SET reasoning = ?, tool_calls = ? WHERE run_id = ?",
            (hostile, json.dumps([{"id": "t1", "name": "<img src=x>", "input": {"q": hostile}}]),
             history.regressed),
        )  # fmt: skip
    with TestClient(create_app(f"sqlite:///{copy}", labels=True, hosts=["testserver"])) as c:
        for page in (case_url(history.regressed, "support", "refund-1"),
                     f"/compare/{history.baseline}/{history.regressed}",
                     f"/label?run={history.regressed}", f"/runs/{history.regressed}"):  # fmt: skip
            html = c.get(page).text
            assert "<script>alert" not in html and "<img src=x>" not in html, page
            assert "&lt;script&gt;alert(&#39;reasoning&#39;)" in html, page
        data = c.get("/api" + case_url(history.regressed, "support", "refund-1"))
        assert "<script>" not in data.text and data.json()["samples"][0]["reasoning"] == hostile
