"""The judge against people's labels, per suite: pairs built from the database, then measured.

A label is compared with the newest judged evaluation of its answer (the same hash) in the
database, or in one run (`run_id`). Each label is one pair, so an answer two people labelled
gives two pairs; the bootstrap resamples answers, so those two go in or out together. The
judge's level of a criterion is its score's level (level L scores (L - 1) / 4), of `overall`
the level nearest the overall score (`stats.agreement.judge_level`). A pass/fail label of
`overall` is compared with the evaluation's pass; of a criterion, with the criterion at level
4 or more (a score of 0.75 or more: the default threshold 0.7 passes level 4, not level 3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.stats.agreement import (
    MIN_AGREEMENT_LABELS,
    Agreement,
    LevelPair,
    PassPair,
    agreement,
    judge_level,
)
from pytest_promptopt.storage import transaction
from pytest_promptopt.storage.repositories import OVERALL, LabelMatch

if TYPE_CHECKING:
    from pytest_promptopt.storage import Repositories
    from pytest_promptopt.storage.database import Database

CRITERION_PASS_LEVEL = 4
"""The judge's level from which a criterion counts as passed, against a pass/fail label."""


@dataclass(frozen=True)
class SuiteAgreement:
    """One suite's agreement: `overall` first, then each labelled criterion by name."""

    suite: str
    criteria: list[Agreement]
    labels: int
    answers: int
    judge_versions: list[str] = field(default_factory=list)
    judge_models: list[str] = field(default_factory=list)

    def get(self, criterion: str) -> Agreement | None:
        """The agreement of one criterion (None: no label of it)."""
        return next((a for a in self.criteria if a.criterion == criterion), None)

    @property
    def headline(self) -> Agreement | None:
        """What the summary leads with: `overall`, else the criterion with the most labels."""
        found = self.get(OVERALL)
        if found is not None and found.n:
            return found
        levelled = [a for a in self.criteria if a.n]
        return max(levelled, key=lambda a: a.n) if levelled else None

    def gated(self, min_labels: int = MIN_AGREEMENT_LABELS) -> list[Agreement]:
        """The criteria with enough labelled answers and a kappa interval to gate on."""
        return [
            a
            for a in self.criteria
            if a.answers >= min_labels and a.kappa.low is not None and a.kappa.value is not None
        ]

    def worst(self, min_labels: int = MIN_AGREEMENT_LABELS) -> Agreement | None:
        """The criterion that disagrees most: the lowest kappa lower bound among the gated
        criteria, else the lowest kappa among any with one."""
        gated = self.gated(min_labels)
        if gated:
            return min(gated, key=lambda a: (a.kappa.low or 0.0, a.criterion))
        rated = [a for a in self.criteria if a.kappa.value is not None]
        return min(rated, key=lambda a: (a.kappa.value or 0.0, a.criterion)) if rated else None

    def other_judge(self, judge_model: str | None, judge_version: str | None) -> str | None:
        """Says so when the labels were compared with another judge than `judge_model` and
        `judge_version` (this run's); None when every compared evaluation used them."""
        others = []
        models = [m for m in self.judge_models if m != judge_model]
        if judge_model is not None and models:
            others.append(f"judge model {', '.join(models)} (this run: {judge_model})")
        versions = [v for v in self.judge_versions if v != judge_version]
        if judge_version is not None and versions:
            others.append(f"judge version {', '.join(versions)} (this run: {judge_version})")
        if not others:
            return None
        return "agreement measured with another judge: " + "; ".join(others)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the suite, its counts and its criteria by name."""
        return {
            "suite": self.suite,
            "labels": self.labels,
            "answers": self.answers,
            "judge_versions": self.judge_versions,
            "judge_models": self.judge_models,
            "criteria": {a.criterion: a.as_dict() for a in self.criteria},
        }


def pairs_of(
    matches: Iterable[LabelMatch],
) -> tuple[dict[str, list[LevelPair]], dict[str, list[PassPair]]]:
    """Level and pass/fail pairs per criterion (one per label whose answer the judge scored)."""
    levels: dict[str, list[LevelPair]] = defaultdict(list)
    passes: dict[str, list[PassPair]] = defaultdict(list)
    for m in matches:
        judged = m.judged
        if m.criterion == OVERALL:
            level = judge_level(judged.overall_score)
            passed: bool | None = judged.passed
        else:
            level = judge_level(judged.scores.get(m.criterion))
            passed = None if level is None else level >= CRITERION_PASS_LEVEL
        if m.level is not None and level is not None:
            levels[m.criterion].append(LevelPair(level, m.level, judged.answer_hash))
        if m.passed is not None and passed is not None:
            passes[m.criterion].append(PassPair(passed, m.passed, judged.answer_hash))
    return levels, passes


def suite_agreement(suite: str, matches: Sequence[LabelMatch]) -> SuiteAgreement:
    """One suite's agreement from its label matches."""
    levels, passes = pairs_of(matches)
    names = sorted(set(levels) | set(passes), key=lambda c: (c != OVERALL, c))
    return SuiteAgreement(
        suite=suite,
        criteria=[agreement(c, levels.get(c, ()), passes.get(c, ())) for c in names],
        labels=len(matches),
        answers=len({m.judged.answer_hash for m in matches}),
        judge_versions=sorted({v for m in matches if (v := m.judged.judge_version)}),
        judge_models=sorted({v for m in matches if (v := m.judged.judge_model)}),
    )


def agreement_by_suite(
    db: Database,
    suite: str | None = None,
    run_id: int | None = None,
    suites: Iterable[str] | None = None,
) -> dict[str, SuiteAgreement]:
    """Every suite with matched labels (`suite` only, or those of `suites`), by name."""
    with transaction(db) as repos:
        return measured_suites(repos, suite, run_id, suites)


def measured_suites(
    repos: Repositories,
    suite: str | None = None,
    run_id: int | None = None,
    suites: Iterable[str] | None = None,
) -> dict[str, SuiteAgreement]:
    """`agreement_by_suite` in an open transaction."""
    matches = repos.label_matches.matches(suite, run_id)
    wanted = None if suites is None else set(suites)
    grouped: dict[str, list[LabelMatch]] = defaultdict(list)
    for m in matches:
        if wanted is None or m.judged.suite in wanted:
            grouped[m.judged.suite].append(m)
    return {name: suite_agreement(name, rows) for name, rows in sorted(grouped.items())}
