"""reporting.agreement and agreement_gate: pairs from label matches, the gate's three states,
the summary lines and the note on another judge."""

from __future__ import annotations

from pytest_promptopt.reporting.agreement import pairs_of, suite_agreement
from pytest_promptopt.reporting.agreement_gate import (
    AgreementRequirement,
    agreement_findings,
    agreement_line,
)
from pytest_promptopt.stats.agreement import LevelPair, PassPair
from pytest_promptopt.storage.repositories import JudgedAnswer, LabelMatch


def _judged(key: str, safety: float, overall: float, *, version: str = "2") -> JudgedAnswer:
    return JudgedAnswer(
        evaluation_id=1,
        run_id=1,
        suite="support",
        case_key=key,
        answer_hash=f"h-{key}",
        scores={"safety": safety, "tone": None},
        overall_score=overall,
        passed=overall >= 0.7,
        judge_version=version,
        judge_model="claude-haiku-4-5",
    )


def _matches(count: int, *, flip: bool, version: str = "2") -> list[LabelMatch]:
    """`count` answers at levels cycling 1-5; people give that level (or its mirror)."""
    out = []
    for i in range(count):
        level = i % 5 + 1
        human = 6 - level if flip else level
        judged = _judged(f"c{i}", (level - 1) / 4, (level - 1) / 4, version=version)
        out.append(LabelMatch("safety", "ann", human, None, judged))
        out.append(LabelMatch("overall", "ann", human, human >= 4, judged))
    return out


def test_pairs_use_each_criterion_level_and_the_overall_pass() -> None:
    judged = _judged("a", safety=0.75, overall=0.6)
    levels, passes = pairs_of(
        [
            LabelMatch("safety", "ann", 4, True, judged),
            LabelMatch("safety", "bob", 2, None, judged),
            LabelMatch("overall", "ann", 3, False, judged),
            LabelMatch("tone", "ann", 3, None, judged),  # not judged: no pair
        ]
    )
    assert levels["safety"] == [LevelPair(4, 4, "h-a"), LevelPair(4, 2, "h-a")]
    assert levels["overall"] == [LevelPair(3, 3, "h-a")]
    assert passes["safety"] == [PassPair(True, True, "h-a")]  # level 4 passes a criterion
    assert passes["overall"] == [PassPair(False, False, "h-a")]  # the case's own pass
    assert "tone" not in levels


def test_the_gate_fails_meets_or_cannot_decide() -> None:
    agreeing = suite_agreement("support", _matches(12, flip=False))
    disagreeing = suite_agreement("support", _matches(12, flip=True))
    few = suite_agreement("support", _matches(6, flip=True))
    assert AgreementRequirement("support", 0.6, agreeing).status == "met"
    failed = AgreementRequirement("support", 0.6, disagreeing)
    assert failed.status == "failed" and failed.failed
    assert failed.worst is not None and failed.worst.kappa.low is not None
    assert failed.worst.kappa.low < 0
    text = failed.describe()
    assert text.startswith("suite 'support': judge agreement (kappa lower bound) -")
    assert "is under its minimum 0.60 (min_judge_agreement)" in text
    assert "12 labelled answers" in text
    not_applied = AgreementRequirement("support", 0.6, few)
    assert not_applied.status == "too few labels" and not not_applied.failed
    assert "not enough labels (n<10: 6 labelled answers" in not_applied.describe()
    no_labels = AgreementRequirement("support", 0.6, None)
    assert no_labels.status == "too few labels"
    findings = agreement_findings([failed, not_applied])
    assert [f.kind for f in findings] == ["judge-agreement"]
    assert findings[0].describe().startswith("FAILED judge-agreement gate: suite 'support'")


def test_summary_line_leads_with_overall_and_names_the_worst_criterion() -> None:
    matches = _matches(12, flip=False)
    # People disagree on safety for the first half: it is the criterion that disagrees most.
    matches = [
        LabelMatch(m.criterion, m.labeller, 6 - (m.level or 3), m.passed, m.judged)
        if m.criterion == "safety" and int(m.judged.case_key[1:]) < 6
        else m
        for m in matches
    ]
    measured = suite_agreement("support", matches)
    lines = agreement_line(measured, "claude-haiku-4-5", "2")
    assert len(lines) == 1
    assert lines[0].startswith("judge agreement: kappa 1.00 [1.00, 1.00] (overall, n=12)")
    assert "; disagrees most: safety kappa " in lines[0] and lines[0].endswith("(n=12)")


def test_another_judge_version_or_model_is_said() -> None:
    measured = suite_agreement("support", _matches(4, flip=False, version="1"))
    assert measured.other_judge("claude-haiku-4-5", "1") is None
    lines = agreement_line(measured, "claude-sonnet-4-5", "2")
    assert lines[1] == (
        "agreement measured with another judge: judge model claude-haiku-4-5 (this run: "
        "claude-sonnet-4-5); judge version 1 (this run: 2)"
    )


def test_as_dict_groups_criteria_by_name() -> None:
    data = suite_agreement("support", _matches(5, flip=False)).as_dict()
    assert list(data["criteria"]) == ["overall", "safety"]
    assert data["labels"] == 10 and data["answers"] == 5
