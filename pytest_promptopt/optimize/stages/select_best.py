"""Stage 9, `select_best`: choose the best prompt on the selection cases, then confirm it on
untouched cases.

The finalists (the original, the top M and the children refinement kept) are scored on the
selection (held-out) cases, which no prompt writer saw. The noise-aware tiering of
`selection.py` picks the search's best; a tie keeps the original. Choosing the best of several
on the same cases inflates its score (the winner's curse), and on a deterministic backend a
"fresh sample" of the same case is the same answer again, so the decision rests on other
cases: the confirmation split, which the search never saw, is scored once, for the original
and the winner. The winner replaces the original (for the items, and for `--promptopt-apply`)
only when its paired gain there is significant by the `apply` rule of `stats`;
otherwise the original stays and the decision says why, with the interval.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from pydantic import Field

from pytest_promptopt.optimize.repeats import RepeatCheck, check_repeats
from pytest_promptopt.optimize.selection import (
    Scored,
    Selection,
    select_top,
    stable_seed,
)
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.generation import SplitRecord
from pytest_promptopt.optimize.stages.refinement import RefinementSummary
from pytest_promptopt.optimize.stages.scoring import (
    EvaluationFailure,
    evaluate_case,
    evaluate_prompts,
    prompt_texts,
    raise_if_exhausted,
)
from pytest_promptopt.optimize.stages.select_top_k import SelectionRecord, scored_on_common_cases
from pytest_promptopt.optimize.stages.select_top_m import SelectTopMSummary
from pytest_promptopt.records.summary import StageProgress, StageSummaryBase
from pytest_promptopt.stats import paired_gain

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext

#: Feedback cases the deterministic-backend probe samples twice when nothing was repeated.
PROBE_CASES = 2


class SelectBestSummary(StageSummaryBase):
    """Stage 9: the search's best on the selection cases, its confirmation and the decision."""

    split: SplitRecord = Field(default_factory=SplitRecord)
    finalist_ids: list[int] = Field(default_factory=list, description="Original, top M, kept.")
    case_ids: list[int] = Field(default_factory=list, description="Selection cases compared on.")
    winner_prompt_id: int | None = Field(None, description="The search's best; ties: original.")
    chosen_prompt_id: int | None = Field(
        None, description="The prompt the items judge: the winner only when it is proven."
    )
    selection: SelectionRecord | None = Field(None, description="The tiering on selection cases.")
    holdout_scores: dict[str, float] = Field(
        default_factory=dict, description="Prompt id -> mean on the selection cases."
    )
    selection_gain: list[float] = Field(
        default_factory=list, description="Winner minus original there: [low, mean, high]."
    )
    confirm_case_ids: list[int] = Field(default_factory=list, description="Confirmation cases.")
    confirm_scores: dict[str, float | None] = Field(
        default_factory=dict, description="Winner and original: mean on the confirmation cases."
    )
    winners_curse: float | None = Field(
        None, description="The winner's selection mean minus its confirmation mean."
    )
    gain: list[float] = Field(
        default_factory=list, description="The decision: confirmation gain [low, mean, high]."
    )
    gate_cases: int = Field(0, description="Confirmation cases the decision compared on.")
    significant: bool = Field(False, description="The winner is proven: the apply rule holds.")
    verdict: str = Field("", description="The apply rule's result in words, with the interval.")
    decision: str = Field(
        "", description="`replaced the original: ...` or `kept the original: <reason>`."
    )
    deterministic: bool | None = Field(
        None, description="Repeated samples were byte-identical (None: no repeat to tell by)."
    )
    repeat_note: str = Field("", description="What the repeated samples showed.")
    errored: list[EvaluationFailure] = Field(
        default_factory=list, description="Evaluations left out of the comparison."
    )
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


def finalist_ids(ctx: RunContext, original_id: int) -> list[int] | None:
    """The original, the top M and the kept children; None when selection never finished."""
    chosen = ctx.stage_summary(SelectTopMSummary).selected
    if chosen is None:
        return None
    kept = ctx.stage_summary(RefinementSummary).kept_prompt_ids
    return list(dict.fromkeys([original_id, *chosen, *kept]))


async def probe_repeats(ctx: RunContext, original_id: int, finalists: list[int]) -> RepeatCheck:
    """What the stored repeats show; without any, the original sampled again on a few
    feedback cases (not stored: one more sample would change its scores)."""
    found = check_repeats(ctx, finalists)
    if found.groups:
        return found
    cases = [c for c in ctx.writer_cases(()) if c.stage == "given"][:PROBE_CASES]
    if not cases:
        return found
    text = prompt_texts(ctx, [original_id])[original_id]
    with ctx.repos() as r:
        first = {
            int(e.test_case_id): (e.model_response, round(float(e.overall_score), 9))
            for e in r.evaluations.for_prompt(original_id, [c.id for c in cases])
            if e.sample == 0
        }
    groups = identical = 0
    for case in cases:
        if case.id not in first:
            continue
        again = await evaluate_case(ctx, original_id, text, case, 1, first_sample=1)
        if again.error is not None or not again.samples:
            continue
        sample = again.samples[0]
        groups += 1
        identical += (sample.response, round(sample.overall_score, 9)) == first[case.id]
    raise_if_exhausted(ctx)
    return RepeatCheck(groups, identical)


class SelectBest(Stage[SelectBestSummary]):
    """Stage 9: the search's best on the selection cases, confirmed on untouched cases."""

    name = "select_best"
    summary_model = SelectBestSummary

    async def run(self, ctx: RunContext) -> SelectBestSummary:
        """Score the finalists on selection cases, choose, confirm once and decide."""
        original_id = ctx.original_prompt_id()
        split = ctx.split()
        finalists = finalist_ids(ctx, original_id) or [original_id]
        held = ctx.holdout_cases()
        basis = "selection"
        if not held:
            # Nothing held out for selection: choose on the cases the writers saw.
            held, basis = ctx.writer_cases(), "feedback and generated"
        counts = await evaluate_prompts(ctx, finalists, held)
        shared, scored = scored_on_common_cases(ctx, finalists, [c.id for c in held])
        seed = stable_seed(ctx.suite.name, self.name)
        selection = select_top(scored, 1, seed=seed) if shared else None
        winner = selection.selected[0] if selection and selection.selected else original_id
        if selection is not None and winner == original_id and basis == "selection":
            winner = self._tie_break(ctx, selection.tiers[0], original_id, scored, selection)
        means = {s.prompt_id: s.mean for s in scored}
        repeats = await probe_repeats(ctx, original_id, finalists)
        summary = SelectBestSummary(
            split=SplitRecord.of(split),
            finalist_ids=finalists,
            case_ids=shared,
            winner_prompt_id=winner,
            chosen_prompt_id=original_id,
            holdout_scores={str(pid): round(m, 6) for pid, m in means.items()},
            errored=counts.errors,
            deterministic=repeats.deterministic,
            repeat_note=repeats.note(),
        )
        if selection is not None:
            summary.selection = SelectionRecord.model_validate(selection.as_dict())
        if winner == original_id:
            summary.verdict = (
                "the original is the best prompt: no finalist beats it beyond noise on the "
                f"{len(shared)} {basis} cases"
            )
            summary.decision = f"kept the original: {summary.verdict.split(': ', 1)[1]}"
            summary.headline = f"kept the original #{original_id} ({len(finalists)} finalists)"
            return summary
        if shared:
            won, kept = scored_of(scored, winner), scored_of(scored, original_id)
            summary.selection_gain = paired_gain(
                [a - b for a, b in zip(won, kept, strict=True)], "apply"
            ).as_list()
        confirm = ctx.confirm_cases()
        if not confirm:
            summary.verdict = f"not significant: {split.confirm_note}"
            summary.decision = (
                f"kept the original: {split.confirm_note.removesuffix(', so the original stays')}"
                f"; #{winner} won the search but nothing untouched could confirm it"
            )
            summary.headline = f"search best #{winner}, unconfirmed: kept the original"
            return summary
        more = await evaluate_prompts(ctx, [winner, original_id], confirm)
        summary.errored += more.errors
        both, on = ctx.common_means([winner, original_id], [c.id for c in confirm])
        gain = paired_gain(
            [a - b for a, b in zip(on[winner], on[original_id], strict=True)], "apply"
        )
        summary.confirm_case_ids = both
        summary.confirm_scores = {
            str(pid): round(statistics.fmean(on[pid]), 6) if both else None
            for pid in (winner, original_id)
        }
        if both and shared:
            summary.winners_curse = round(means[winner] - statistics.fmean(on[winner]), 6)
        summary.gain = gain.as_list()
        summary.gate_cases = gain.cases
        summary.significant = gain.significant
        word = "significant" if gain.significant else "not significant"
        summary.verdict = (
            f"{word}: paired gain of #{winner} over the original on the {gain.cases} "
            f"confirmation cases {gain.describe()}"
        )
        if gain.significant:
            summary.chosen_prompt_id = winner
            summary.decision = (
                f"replaced the original with #{winner}: its paired gain on the confirmation "
                f"cases is {gain.describe()}"
            )
        else:
            summary.decision = (
                f"kept the original: #{winner} won the search but its paired gain on the "
                f"confirmation cases is {gain.describe()}, not significant"
            )
        summary.headline = f"search best #{winner}; confirmation {word} ({gain.describe()})"
        return summary

    def _tie_break(
        self,
        ctx: RunContext,
        tier: list[int],
        original_id: int,
        scored: list[Scored],
        selection: Selection,
    ) -> int:
        """In a selection tie with the original, the finalist with the highest selection mean
        among those whose paired gain over it on the feedback and generated cases is
        significant (and whose selection mean is no lower) is the search's best; only the
        confirmation cases can make it replace the original."""
        held = {s.prompt_id: s.mean for s in scored}
        writer_ids = [c.id for c in ctx.writer_cases()]
        best: tuple[float, float, int] | None = None
        for pid in tier:
            if pid == original_id or held[pid] < held[original_id]:
                continue
            _, means = ctx.common_means([pid, original_id], writer_ids)
            gain = paired_gain(
                [a - b for a, b in zip(means[pid], means[original_id], strict=True)], "tie"
            )
            # Among the qualified, the selection evidence decides; the feedback gain breaks ties.
            if gain.significant and (best is None or (held[pid], gain.low) > best[:2]):
                best = (held[pid], gain.low, pid)
                note = f"#{pid} gains {gain.describe()} over the original on the feedback cases"
        if best is None:
            return original_id
        selection.reasoning.append(
            f"tied with the original on the selection cases; {note}, so it is the search's "
            "best (only the confirmation cases can make it replace the original)"
        )
        return best[2]


def scored_of(scored: list[Scored], prompt_id: int) -> tuple[float, ...]:
    """One candidate's per-case means from a list of Scored."""
    return next(s.scores for s in scored if s.prompt_id == prompt_id)
