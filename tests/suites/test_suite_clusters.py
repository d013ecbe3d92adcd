"""A case's cluster: its own `cluster`, else the suite's `cluster_by` (category, template, file)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_promptopt.engine.recorder import case_row
from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.clusters import cluster_of
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.spec import Case, Suite


def write(root: Path, name: str, text: str) -> Path:
    """A dedented text file under root."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def clusters(suite: Suite) -> dict[str, str | None]:
    """Case id -> cluster."""
    return {c.id: cluster_of(suite, c) for c in suite.cases}


def test_without_cluster_by_every_case_is_its_own_but_its_own_key_wins() -> None:
    suite = Suite(
        name="s",
        prompt="p",
        cases=[Case(id="a", input="x"), Case(id="b", input="y", cluster="doc-1")],
    )
    assert clusters(suite) == {"a": None, "b": "doc-1"}
    by_category = suite.model_copy(update={"cluster_by": "category"})
    assert clusters(by_category) == {"a": "general", "b": "doc-1"}


def test_cluster_by_category() -> None:
    suite = Suite(
        name="s",
        prompt="p",
        cluster_by="category",
        cases=[
            Case(id="a", input="x", category="refund"),
            Case(id="b", input="y", category="refund"),
            Case(id="c", input="z", category="parcel"),
        ],
    )
    assert clusters(suite) == {"a": "refund", "b": "refund", "c": "parcel"}


def test_cluster_by_template_groups_the_cases_one_template_makes() -> None:
    suite = Suite(
        name="s",
        prompt="p",
        input="Can I return {{ item }}?",
        cluster_by="template",
        cases=[
            Case(id="vars-1", vars={"item": "shoes"}),
            Case(id="vars-2", vars={"item": "a lamp"}),
            Case(id="own-1", input="Where is {{ order }}?", vars={"order": "A1"}),
            Case(id="own-2", input="Where is {{ order }}?", vars={"order": "B2"}),
            Case(id="plain", input="Hello there"),
        ],
    )
    found = clusters(suite)
    assert found["vars-1"] == found["vars-2"] and str(found["vars-1"]).startswith("template ")
    assert found["own-1"] == found["own-2"] != found["vars-1"]
    assert found["plain"] is None  # plain text: made from no template, its own cluster


def test_cluster_by_case_file_and_a_csv_cluster_column(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "id,input,expected\na1,hi,greets\na2,hello,greets\n")
    write(tmp_path, "more/b.jsonl", '{"id": "b1", "input": "yo"}\n{"input": "hm", "cluster": 17}\n')
    write(tmp_path, "c.csv", "id,input,cluster\nc1,hi,doc-7\nc2,hey,doc-7\n")
    path = write(
        tmp_path,
        "s.promptopt.yaml",
        """
        prompt: Be brief.
        cluster_by: case_file
        cases:
          - {file: a.csv}
          - {file: more/b.jsonl}
          - {file: c.csv}
          - {id: inline, input: hi}
        """,
    )
    suite = load_suite(path)
    assert clusters(suite) == {
        "a1": "a.csv",
        "a2": "a.csv",
        "b1": "more/b.jsonl",
        "b-2": "17",  # a numbered document: its number as the cluster
        "c1": "doc-7",  # the row's own cluster wins
        "c2": "doc-7",
        "inline": None,
    }
    assert suite.case("a1").literal  # the row is still sent as written


def test_the_stored_case_spec_carries_the_resolved_cluster() -> None:
    suite = Suite(
        name="s",
        prompt="p",
        cluster_by="category",
        cases=[Case(id="a", input="x", category="refund")],
    )
    assert case_row(suite, suite.cases[0], "given")["spec"]["cluster"] == "refund"
    plain = suite.model_copy(update={"cluster_by": None})
    assert case_row(plain, plain.cases[0], "given")["spec"]["cluster"] is None


def test_an_unknown_cluster_by_names_the_choices(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.promptopt.yaml",
        "prompt: p\ncluster_by: topic\ncases:\n  - {id: a, input: x}\n",
    )
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "cluster_by" in message and "category" in message and "case_file" in message
