"""TestCaseRepository: upserts keep the first row; lookups by suite, stage, key and run."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.storage import Database, RunRepository, TestCaseRepository, transaction


def test_test_case_repository(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-tc", "optimize", {})
        cases = TestCaseRepository(s)
        given: list[dict[str, Any]] = [
            {
                "case_key": "refund",
                "input_message": "I want a refund",
                "expected_behavior": "explains policy",
                "category": "billing",
                "stage": "given",
                "spec": {"assertions": [{"kind": "contains", "value": "refund"}], "repeats": 2},
            },
            {"case_key": "hello", "input_message": "hi", "stage": "given"},
        ]
        ids = cases.upsert_many(run.id, "s", given)
        assert set(ids) == {"refund", "hello"}
        again = cases.upsert_many(
            run.id, "s", [*given, {"case_key": "gen1", "input_message": "q", "stage": "quick"}]
        )
        assert {k: again[k] for k in ids} == ids and "gen1" in again
        assert cases.upsert_many(run.id, "s", [{"case_key": "hello", "input_message": "x"}]) == {
            "hello": ids["hello"]
        }
        cases.upsert_many(run.id, "other", [{"case_key": "refund", "input_message": "z"}])
        assert cases.upsert_many(run.id, "s", []) == {}
    with db.session_scope() as s:
        cases = TestCaseRepository(s)
        all_s = cases.for_suite(run.id, "s")
        assert [c.case_key for c in all_s] == ["refund", "hello", "gen1"]
        refund = all_s[0]
        assert refund.spec["repeats"] == 2 and refund.category == "billing"
        assert refund.expected_behavior == "explains policy"
        assert all_s[1].expected_behavior is None and all_s[1].spec == {}
        assert all_s[1].input_message == "hi"  # the later upsert did not overwrite
        assert [c.case_key for c in cases.for_suite(run.id, "s", stages=["quick"])] == ["gen1"]
        assert [c.case_key for c in cases.for_suite(run.id, "s", stages=["given", "quick"])] == [
            "refund",
            "hello",
            "gen1",
        ]
        assert cases.ids_and_categories(run.id, "s", ["given"]) == {
            "refund": (ids["refund"], "billing"),
            "hello": (ids["hello"], "general"),
        }
        found = cases.by_keys(run.id, "s", ["hello", "gen1", "missing"])
        assert set(found) == {"hello", "gen1"}
        assert found["hello"].id == ids["hello"]
        assert cases.by_keys(run.id, "other", ["refund"])["refund"].input_message == "z"


def test_for_run_lists_every_suite_of_a_run_optionally_of_one_stage(db: Database) -> None:
    with transaction(db) as repos:
        run = repos.runs.create("uid-fr", "optimize", {})
        other = repos.runs.create("uid-other", "optimize", {})
        repos.test_cases.upsert_many(
            run.id, "b", [{"case_key": "b1", "input_message": "x", "stage": "given"}]
        )
        repos.test_cases.upsert_many(
            run.id,
            "a",
            [
                {"case_key": "a1", "input_message": "x", "stage": "given"},
                {"case_key": "gen", "input_message": "y", "stage": "quick"},
            ],
        )
        repos.test_cases.upsert_many(other.id, "a", [{"case_key": "x", "input_message": "z"}])
    with transaction(db) as repos:
        every = repos.test_cases.for_run(run.id)
        assert [(c.suite, c.case_key) for c in every] == [("b", "b1"), ("a", "a1"), ("a", "gen")]
        given = repos.test_cases.for_run(run.id, stage="given")
        assert [c.case_key for c in given] == ["b1", "a1"]
        assert repos.test_cases.for_run(run.id, stage="rigorous") == []
        assert [c.case_key for c in repos.test_cases.for_run(other.id)] == ["x"]
