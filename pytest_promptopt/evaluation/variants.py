"""Variants of a suite side by side: each variant's figures and each case's, next to the first.

A suite with `variants:` runs as one suite per variant, named `suite@variant` (the name its
`prompts`, `test_cases` rows and case records carry). Here they are put back together from the
case records: `variant_comparisons` gives, per suite, every variant's mean score and pass rate
with its change from the first variant, and each case's score and verdict in every variant.

Each variant after the first is compared with it by `paired_comparison`: the baseline
comparison's paired test (`stats.compare_runs` by the `variant` rule: a paired t interval on the
score change, McNemar's exact test on pass/fail flips).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from pytest_promptopt.evaluation.record import case_outcomes
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.records.totals import Totals
from pytest_promptopt.stats import RULES, compare_runs
from pytest_promptopt.stats.pairwise import PairwiseComparison

MAX_CASE_LINES = 20


class VariantFigures(Totals):
    """One variant's totals, with its change from the first variant on the cases both ran.

    `paired` holds the paired test against the first variant (None for the first variant).
    """

    variant: str
    suite: str  # the judged suite's name, `suite@variant`
    shared_cases: int = 0
    mean_score_change: float | None = None
    pass_rate_change: float | None = None
    paired: dict[str, Any] | None = None


class VariantCase(BaseModel):
    """One case in every variant: score and verdict per variant (None where it did not run)."""

    case_id: str
    scores: list[float | None]
    passed: list[bool | None]


class SuiteVariants(BaseModel):
    """One suite's variants side by side; the first variant is the reference."""

    suite: str
    variants: list[VariantFigures]
    cases: list[VariantCase] = Field(default_factory=list)

    @property
    def first(self) -> VariantFigures:
        """The reference variant (the first in the suite file)."""
        return self.variants[0]

    def lines(self, max_cases: int = MAX_CASE_LINES) -> list[str]:
        """The terminal summary's block: one line per variant, then a per-case table."""
        out = [f"variants of {self.suite} (each compared with {self.first.variant}):"]
        for v in self.variants:
            change = ""
            if v.mean_score_change is not None and v.pass_rate_change is not None:
                change = (
                    f" ({v.mean_score_change:+.2f}; pass rate {v.pass_rate_change * 100:+.0f} "
                    f"points on {v.shared_cases} shared case{'' if v.shared_cases == 1 else 's'})"
                )
            errors = f", {v.errors} errors" if v.errors else ""
            out.append(
                f"    {v.variant}: mean score {cell(v.mean_score, None)}, "
                f"pass rate {v.pass_rate:.0%} "
                f"({v.passed} of {v.cases} passed{errors}){change}"
            )
            if v.paired:
                out.append("        paired: " + ", ".join(f"{k} {x}" for k, x in v.paired.items()))
        width = max([4, *(len(c.case_id) for c in self.cases)])
        out.append(
            "    " + "case".ljust(width) + "".join(f"  {v.variant:>12}" for v in self.variants)
        )
        for case in self.cases[:max_cases]:
            cells = "".join(
                f"  {cell(s, p):>12}" for s, p in zip(case.scores, case.passed, strict=True)
            )
            out.append("    " + case.case_id.ljust(width) + cells)
        if len(self.cases) > max_cases:
            out.append(f"    (and {len(self.cases) - max_cases} more cases in the reports)")
        return out


def cell(score: float | None, passed: bool | None) -> str:
    """`0.82 pass`, `0.41 fail`, or `-` for a case the variant did not judge."""
    if score is None:
        return "-"
    if passed is None:
        return f"{score:.2f}"
    return f"{score:.2f} {'pass' if passed else 'fail'}"


def paired_comparison(
    first: Sequence[CaseRecord], other: Sequence[CaseRecord]
) -> dict[str, Any] | None:
    """The paired test of a variant against the first on the cases both judged.

    The baseline comparison's test by the `variant` rule (`stats.compare_runs`: a paired t
    interval on the mean score change and McNemar's exact test on pass/fail flips, with the
    smallest change it could detect and why an `inconclusive` is one); JSON-safe figures shown
    beside the variant (`VariantFigures.paired`).
    """
    c = compare_runs(case_outcomes(first), case_outcomes(other), decision="variant")
    figures: dict[str, Any] = {"verdict": c.verdict, "shared cases": c.n_shared}
    figures["change"] = f"{c.mean_delta:+.3f}"
    if c.delta_ci is not None:
        level = RULES["variant"].level
        figures[f"{level:.0%} CI"] = f"{c.delta_ci[0]:+.3f}..{c.delta_ci[1]:+.3f}"
    figures["flips"] = f"{c.pass_to_fail} pass->fail, {c.fail_to_pass} fail->pass"
    figures["McNemar p" if c.clusters is None else "cluster flip test p"] = f"{c.mcnemar_p:.3g}"
    if c.clusters is not None:
        figures["clusters"] = c.clusters.describe()
    if c.min_detectable_change is not None:
        figures["detectable change"] = f"{c.min_detectable_change:.3f}"
    if c.reason:
        figures["why"] = c.reason
    return figures


Found = list[tuple[int, str, str, Sequence[CaseRecord]]]
"""A suite's variants as (rank, variant, judged suite name, records), first variant first."""


def variant_groups(records: Mapping[str, Sequence[CaseRecord]]) -> dict[str, Found]:
    """Each suite with variants (by its own name), its variants in rank order."""
    grouped: dict[str, Found] = {}
    for name, rows in records.items():
        tagged = next((r for r in rows if r.variant is not None), None)
        if tagged is None or tagged.variant is None:
            continue
        base = name.removesuffix(f"@{tagged.variant}")
        rank = tagged.variant_rank if tagged.variant_rank is not None else 0
        grouped.setdefault(base, []).append((rank, tagged.variant, name, rows))
    for found in grouped.values():
        found.sort(key=lambda item: item[0])
    return grouped


def pairwise_figures(c: PairwiseComparison) -> dict[str, Any]:
    """The pairwise judge's figures shown beside a variant (`VariantFigures.paired`)."""
    figures: dict[str, Any] = {"verdict": c.verdict, "shared cases": c.n_shared}
    figures["wins/losses/ties"] = f"{c.wins}/{c.losses}/{c.ties}"
    figures["sign test p"] = f"{c.p_value:.3g} (ties excluded)"
    if c.win_share is not None and c.share_ci is not None:
        figures["win share"] = f"{c.win_share:.2f} ({c.share_ci[0]:.2f}..{c.share_ci[1]:.2f})"
    low, high = c.preference_ci
    figures["preference"] = f"{c.preference_share:.2f} ({low:.2f}..{high:.2f})"
    figures["detects"] = c.power_note().removeprefix("detects ")
    if c.reason:
        figures["why"] = c.reason
    figures["comparison"] = "pairwise"
    return figures


def variant_comparisons(
    records: Mapping[str, Sequence[CaseRecord]],
    pairwise: Mapping[str, PairwiseComparison] | None = None,
) -> list[SuiteVariants]:
    """Every suite with variants, its variants side by side, from case records by suite.

    `pairwise` holds the pairwise judge's comparison of a variant (by its judged suite name,
    `suite@variant`) with the first, for suites compared pairwise: it replaces the paired test.
    """
    out = []
    for base, found in variant_groups(records).items():
        first_rows = found[0][3]
        first_by_case = {r.case_id: r for r in first_rows}
        figures = []
        for n, (_, variant, name, rows) in enumerate(found):
            totals = Totals.of_cases(rows).model_dump()
            figure = VariantFigures(variant=variant, suite=name, **totals)
            if n:
                pairs = [
                    (first_by_case[r.case_id], r)
                    for r in rows
                    if r.case_id in first_by_case
                    and r.error is None
                    and first_by_case[r.case_id].error is None
                ]
                if pairs:
                    figure.shared_cases = len(pairs)
                    figure.mean_score_change = sum(b.score - a.score for a, b in pairs) / len(pairs)
                    figure.pass_rate_change = sum(
                        int(b.passed) - int(a.passed) for a, b in pairs
                    ) / len(pairs)
                figure.paired = paired_comparison([a for a, _ in pairs], [b for _, b in pairs])
                if pairwise and name in pairwise:
                    figure.paired = pairwise_figures(pairwise[name])
            figures.append(figure)
        out.append(SuiteVariants(suite=base, variants=figures, cases=_side_by_side(found)))
    return out


def _side_by_side(found: Found) -> list[VariantCase]:
    """Each case (in the order first seen) with its score and verdict in every variant."""
    by_variant = [{r.case_id: r for r in rows} for *_, rows in found]
    case_ids = list(dict.fromkeys(cid for one in by_variant for cid in one))
    cases = []
    for case_id in case_ids:
        got = [one.get(case_id) for one in by_variant]
        cases.append(
            VariantCase(
                case_id=case_id,
                scores=[r.score if r is not None and r.error is None else None for r in got],
                passed=[r.passed if r is not None and r.error is None else None for r in got],
            )
        )
    return cases
