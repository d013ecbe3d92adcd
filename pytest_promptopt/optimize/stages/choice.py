"""Stage 9: choose the best prompt on held-out evidence, confirm it on fresh samples, gate it.

The finalists (the original, the top M and the children refinement kept) are scored on the
held-out cases, which no prompt writer saw. The noise-aware tiering of `selection.py` picks
the best; a tie keeps the original. Choosing the best of several on the same cases inflates
its score (the winner's curse), so the chosen prompt and the original are then sampled again
on the held-out cases with new sample indexes (new cache keys): the apply gate is the paired
gain on those fresh samples, significant when its lower bound is above zero.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from pytest_promptopt.optimize.selection import (
    Scored,
    Selection,
    paired_gain,
    select_top,
    stable_seed,
)
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluation import (
    errors_of,
    evaluate_case,
    evaluate_prompts,
    prompt_texts,
    raise_if_exhausted,
)
from pytest_promptopt.optimize.stages.selection import scored_on_common_cases
from pytest_promptopt.storage.stage_summaries import (
    EvaluationError,
    RefinementSummary,
    SelectBestSummary,
    SelectionRecord,
    SelectTopMSummary,
    SplitRecord,
)

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext, StoredCase

#: Fresh samples start at this index: far from the ordinary ones and from retries (+1000).
FRESH_SAMPLE_OFFSET = 500
#: Fresh samples per held-out case for the chosen prompt and the original.
FRESH_SAMPLES = 2
#: The gate's two-sided interval: a lower bound above zero is significant at one-sided 5%.
GATE_LEVEL = 0.9


def finalist_ids(ctx: RunContext, original_id: int) -> list[int] | None:
    """The original, the top M and the kept children; None when selection never finished."""
    chosen = ctx.stage_summary(SelectTopMSummary).selected
    if chosen is None:
        return None
    kept = ctx.stage_summary(RefinementSummary).kept_prompt_ids
    return list(dict.fromkeys([original_id, *chosen, *kept]))


async def fresh_means(
    ctx: RunContext, prompt_ids: list[int], cases: list[StoredCase], samples: int
) -> tuple[dict[int, dict[int, float]], list[EvaluationError]]:
    """Each prompt's mean score per case on `samples` fresh samples (errored cases absent).

    The fresh samples are not stored as evaluations: they would mix into the scores the
    candidates were chosen on. Their calls are cached and recorded like any other.
    """
    import asyncio

    texts = prompt_texts(ctx, prompt_ids)
    jobs = [
        evaluate_case(ctx, pid, texts[pid], case, samples, FRESH_SAMPLE_OFFSET)
        for pid in prompt_ids
        for case in cases
    ]
    results = await asyncio.gather(*jobs)
    raise_if_exhausted(ctx)
    means: dict[int, dict[int, float]] = {pid: {} for pid in prompt_ids}
    for res in results:
        if res.error is None and res.samples and res.prompt_id is not None:
            scores = [s.overall_score for s in res.samples]
            means[res.prompt_id][int(res.test_case_id or 0)] = statistics.fmean(scores)
    return means, errors_of(results, cases)


class SelectBest(Stage):
    """Stage 9: the best finalist on the held-out cases, confirmed on fresh samples and gated."""

    name = "select_best"

    async def run(self, ctx: RunContext) -> SelectBestSummary:
        """Score the finalists on held-out cases, choose, confirm and decide the apply gate."""
        original_id = ctx.original_prompt_id()
        split = ctx.split()
        record = SplitRecord(
            feedback=list(split.feedback), holdout=list(split.holdout), note=split.note
        )
        finalists = finalist_ids(ctx, original_id) or [original_id]
        held = ctx.holdout_cases()
        basis = "held-out"
        if not held:
            # Nothing held out: choose on the given cases the writers saw, and never apply.
            held, basis = ctx.cases(["given"]), "given"
        counts = await evaluate_prompts(ctx, finalists, held)
        shared, scored = scored_on_common_cases(ctx, finalists, [c.id for c in held])
        seed = stable_seed(ctx.suite.name, self.name)
        selection = select_top(scored, 1, seed=seed) if shared else None
        chosen = selection.selected[0] if selection and selection.selected else original_id
        if selection is not None and chosen == original_id and basis == "held-out":
            chosen = self._tie_break(ctx, selection.tiers[0], original_id, scored, selection)
        means = {s.prompt_id: s.mean for s in scored}
        summary = SelectBestSummary(
            split=record,
            finalist_ids=finalists,
            case_ids=shared,
            chosen_prompt_id=chosen,
            holdout_scores={str(pid): round(m, 6) for pid, m in means.items()},
            errored=counts.errors,
        )
        if selection is not None:
            summary.selection = SelectionRecord.model_validate(selection.as_dict())
        if chosen == original_id:
            summary.verdict = (
                "the original is the best prompt: no finalist beats it beyond noise on the "
                f"{len(shared)} {basis} cases"
            )
            summary.headline = f"kept the original #{original_id} ({len(finalists)} finalists)"
            return summary
        if basis == "given":
            summary.verdict = (
                f"not significant: {split.note}; the best prompt #{chosen} was chosen on the "
                "cases the prompt writers saw, so its gain is optimistic"
            )
            summary.headline = f"best #{chosen} on the given cases; {split.note}"
            return summary
        won, kept = scored_of(scored, chosen), scored_of(scored, original_id)
        summary.selection_gain = paired_gain(
            [a - b for a, b in zip(won, kept, strict=True)], seed=seed, level=GATE_LEVEL
        ).as_list()
        cases = [c for c in held if c.id in shared]
        samples = max(FRESH_SAMPLES, ctx.knobs.samples)
        fresh, errors = await fresh_means(ctx, [chosen, original_id], cases, samples)
        both = [i for i in shared if i in fresh[chosen] and i in fresh[original_id]]
        gain = paired_gain(
            [fresh[chosen][i] - fresh[original_id][i] for i in both],
            seed=stable_seed(ctx.suite.name, "gate", chosen),
            level=GATE_LEVEL,
        )
        summary.fresh_samples = samples
        summary.fresh_scores = {
            str(pid): round(statistics.fmean(fresh[pid][i] for i in both), 6) if both else None
            for pid in (chosen, original_id)
        }
        chosen_fresh = summary.fresh_scores[str(chosen)]
        if chosen_fresh is not None and both:
            on_both = statistics.fmean(
                m for i, m in zip(shared, scored_of(scored, chosen), strict=True) if i in both
            )
            summary.winners_curse = round(on_both - chosen_fresh, 6)
        summary.errored += errors
        summary.gain = gain.as_list()
        summary.gate_cases = gain.cases
        summary.significant = gain.significant
        word = "significant" if gain.significant else "not significant"
        summary.verdict = (
            f"{word}: paired gain of #{chosen} over the original on fresh samples of the "
            f"held-out cases {gain.describe()}"
        )
        summary.headline = f"best #{chosen}; gain {word} ({gain.describe()})"
        return summary

    def _tie_break(
        self,
        ctx: RunContext,
        tier: list[int],
        original_id: int,
        scored: list[Scored],
        selection: Selection,
    ) -> int:
        """In a held-out tie with the original, the finalist with the highest held-out mean
        among those whose paired gain over it on the feedback and generated cases is
        significant (and whose held-out mean is no lower) is this session's best prompt; the
        apply gate still needs the held-out gain."""
        held = {s.prompt_id: s.mean for s in scored}
        writer_ids = [c.id for c in ctx.writer_cases()]
        best: tuple[float, float, int] | None = None
        for pid in tier:
            if pid == original_id or held[pid] < held[original_id]:
                continue
            _, means = ctx.common_means([pid, original_id], writer_ids)
            gain = paired_gain(
                [a - b for a, b in zip(means[pid], means[original_id], strict=True)],
                seed=stable_seed(ctx.suite.name, "tie", pid),
                level=GATE_LEVEL,
            )
            # Among the qualified, the held-out evidence decides; the feedback gain breaks ties.
            if gain.significant and (best is None or (held[pid], gain.low) > best[:2]):
                best = (held[pid], gain.low, pid)
                note = f"#{pid} gains {gain.describe()} over the original on the feedback cases"
        if best is None:
            return original_id
        selection.reasoning.append(
            f"tied with the original on the held-out cases; {note}, so it is this session's "
            "best prompt (the apply gate still asks the held-out cases)"
        )
        return best[2]


def scored_of(scored: list[Scored], prompt_id: int) -> tuple[float, ...]:
    """One candidate's per-case means from a list of Scored."""
    return next(s.scores for s in scored if s.prompt_id == prompt_id)
