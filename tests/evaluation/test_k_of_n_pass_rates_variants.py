"""k-of-n verdicts, suite pass-rate requirements and variants side by side, from records."""

from __future__ import annotations

import pytest

from pytest_promptopt.evaluation.pass_rate import pass_rate_requirements
from pytest_promptopt.evaluation.results import AssertionResult, CaseResult, SampleResult
from pytest_promptopt.evaluation.variants import variant_comparisons
from pytest_promptopt.protocol import Verdict
from pytest_promptopt.records.case import CaseRecord


def _sample(k: int, score: float, *, check: bool = True, safety: float = 1.0) -> SampleResult:
    return SampleResult(
        sample=k,
        response=f"answer {k}",
        verdict=Verdict(scores={"functionality": score, "safety": safety}, reasoning=f"r{k}"),
        overall_score=score,
        assertions=[AssertionResult(kind="contains", expected="x", passed=check)],
    )


def _result(scores: list[float], min_passes: int | None, **kw: object) -> CaseResult:
    samples = [_sample(k, s) for k, s in enumerate(scores)]
    return CaseResult(
        suite="s", case_id="c", threshold=0.7, samples=samples, min_passes=min_passes, **kw
    )  # type: ignore[arg-type]


def test_k_of_n_passes_when_enough_samples_pass_alone() -> None:
    # Mean 0.62 is under the threshold, but 3 of 5 samples pass on their own.
    result = _result([0.9, 0.9, 0.8, 0.3, 0.2], min_passes=3)
    assert result.score < 0.7
    assert result.passing_samples == 3
    assert result.passed
    assert result.k_of_n() == "3 of 5 samples passed, 3 needed"


def test_k_of_n_fails_with_the_count_in_the_failure_text() -> None:
    result = _result([0.9, 0.9, 0.8, 0.3, 0.2], min_passes=4)
    assert not result.passed
    text = result.explain()
    assert text.splitlines()[0].startswith("s[c] FAILED")
    assert "  3 of 5 samples passed, 4 needed" in text.splitlines()


def test_k_of_n_judges_each_sample_on_its_own_checks_and_minimums() -> None:
    samples = [
        _sample(0, 0.9),
        _sample(1, 0.9, check=False),  # its own check failed
        _sample(2, 0.9, safety=0.2),  # its own criterion under the minimum
    ]
    result = CaseResult(
        suite="s",
        case_id="c",
        threshold=0.7,
        samples=samples,
        minimums={"safety": 0.5},
        min_passes=2,
    )
    assert [result.sample_passed(s) for s in samples] == [True, False, False]
    assert not result.passed
    assert result.k_of_n() == "1 of 3 samples passed, 2 needed"


def test_without_min_passes_the_mean_decides_and_every_check_must_pass() -> None:
    assert _result([0.9, 0.6], min_passes=None).passed  # mean 0.75
    assert not _result([0.9, 0.4], min_passes=None).passed  # mean 0.65, one sample passes alone
    one_failed_check = CaseResult(
        suite="s",
        case_id="c",
        threshold=0.7,
        samples=[_sample(0, 0.9), _sample(1, 0.9, check=False)],
    )
    assert not one_failed_check.passed
    assert one_failed_check.k_of_n() == ""
    assert "samples passed" not in one_failed_check.explain()


def test_an_error_fails_a_k_of_n_case() -> None:
    assert not _result([0.9, 0.9], min_passes=1, error="judge failed").passed


def _rec(suite: str, case: str, score: float, passed: bool, **kw: object) -> CaseRecord:
    return CaseRecord(suite=suite, case_id=case, score=score, threshold=0.7, passed=passed, **kw)  # type: ignore[arg-type]


def test_record_properties_carry_the_minimum_pass_rate_and_the_variant_only_when_set() -> None:
    plain = _rec("s", "a", 0.8, True)
    assert not any(k.endswith(("min_pass_rate", "variant")) for k, _ in plain.to_properties())
    tagged = _rec("s@v2", "a", 0.8, True, min_pass_rate=0.9, variant="v2", variant_rank=1)
    back = CaseRecord.from_properties(tagged.to_properties())
    assert back == [tagged]
    assert back[0].criteria == {}  # the new fields are no criteria


def test_a_pass_rate_requirement_fails_under_its_minimum_naming_suite_rate_and_minimum() -> None:
    records = {
        "graded": [
            _rec("graded", "a", 0.9, True, min_pass_rate=0.9),
            _rec("graded", "b", 0.2, False, min_pass_rate=0.9),
        ],
        "ungraded": [_rec("ungraded", "a", 0.1, False)],
        "fine": [_rec("fine", c, 0.9, True, min_pass_rate=0.5) for c in "ab"],
    }
    found = pass_rate_requirements(records)
    assert [(g.suite, g.failed) for g in found] == [("graded", True), ("fine", False)]
    assert found[0].describe() == (
        "suite 'graded': pass rate 50% (1 of 2 cases) is under its minimum 90% (min_pass_rate)"
    )
    assert found[1].describe().startswith("suite 'fine': pass rate 100% (2 of 2 cases) meets")


def test_a_pass_rate_requirement_counts_an_error_as_failed_and_meets_an_exact_minimum() -> None:
    rows = [_rec("s", str(n), 0.9, True, min_pass_rate=0.9) for n in range(9)]
    assert not pass_rate_requirements({"s": rows})[0].failed  # 9 of 9
    rows.append(_rec("s", "err", 0.0, False, error="boom", min_pass_rate=0.9))
    met = pass_rate_requirements({"s": rows})[0]
    assert (met.passed, met.cases, met.failed) == (9, 10, False)  # exactly 90%
    rows.append(_rec("s", "bad", 0.1, False, min_pass_rate=0.9))
    assert pass_rate_requirements({"s": rows})[0].failed  # 9 of 11


def test_variants_side_by_side_with_the_first_in_file_order() -> None:
    def variant(name: str, rank: int, scores: dict[str, tuple[float, bool]]) -> list[CaseRecord]:
        return [
            _rec(f"bot@{name}", case, s, p, variant=name, variant_rank=rank)
            for case, (s, p) in scores.items()
        ]

    records = {  # the second variant's records arrive first (as under xdist)
        "bot@b": variant("b", 1, {"x": (0.5, False), "y": (0.9, True)}),
        "bot@a": variant("a", 0, {"x": (0.9, True), "y": (0.8, True)}),
        "other": [_rec("other", "x", 0.9, True)],
    }
    (suite,) = variant_comparisons(records)
    assert suite.suite == "bot"
    assert [v.variant for v in suite.variants] == ["a", "b"]
    first, second = suite.variants
    assert (first.pass_rate, first.mean_score_change) == (1.0, None)
    assert first.mean_score == pytest.approx(0.85)
    assert second.pass_rate == 0.5
    assert second.shared_cases == 2
    assert second.mean_score_change == pytest.approx((0.5 - 0.9 + 0.9 - 0.8) / 2)
    assert second.pass_rate_change == -0.5
    assert first.paired is None  # the first variant is the reference
    assert second.paired is not None
    # Two shared cases are too few for the paired test to decide anything.
    assert (second.paired["verdict"], second.paired["shared cases"]) == ("inconclusive", 2)
    assert second.paired["flips"] == "1 pass->fail, 0 fail->pass"
    assert [(c.case_id, c.scores, c.passed) for c in suite.cases] == [
        ("x", [0.9, 0.5], [True, False]),
        ("y", [0.8, 0.9], [True, True]),
    ]
    lines = suite.lines()
    assert lines[0] == "variants of bot (each compared with a):"
    assert lines[2].startswith("    b: mean score 0.70, pass rate 50% (1 of 2 passed) (-0.15;")
    assert lines[-2].split() == ["x", "0.90", "pass", "0.50", "fail"]


def test_a_suite_without_variants_has_no_comparison() -> None:
    assert variant_comparisons({"s": [_rec("s", "a", 0.9, True)]}) == []


def test_a_variant_much_worse_on_many_cases_is_regressed_in_the_paired_test() -> None:
    ids = [f"c{n}" for n in range(12)]
    records = {
        "bot@a": [_rec("bot@a", c, 0.9, True, variant="a", variant_rank=0) for c in ids],
        "bot@b": [_rec("bot@b", c, 0.4, False, variant="b", variant_rank=1) for c in ids],
    }
    (suite,) = variant_comparisons(records)
    paired = suite.variants[1].paired
    assert paired is not None
    assert paired["verdict"] == "regressed"
    assert paired["change"] == "-0.500"
    assert paired["flips"] == "12 pass->fail, 0 fail->pass"
