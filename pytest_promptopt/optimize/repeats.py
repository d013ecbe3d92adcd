"""Is the backend deterministic? Repeated samples of one request that come back byte-identical.

Repeated samples of a case (`--promptopt-samples`, a suite's `repeats`, a tie's re-sample)
differ only in their sample index, which reaches the cache key but not the request; at
temperature 0, through a caching gateway or from a replayed cache file they are the same
answer again. The pipeline never counts repeats as independent evidence (a case is the unit
of every interval and decision), and this check tells the user when repeats bought nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


@dataclass(frozen=True)
class RepeatCheck:
    """How many (prompt, case) pairs had repeated samples, and how many repeated identically."""

    groups: int
    identical: int

    @property
    def deterministic(self) -> bool | None:
        """True when every repeat was byte-identical (None: no repeat to tell by)."""
        if self.groups == 0:
            return None
        return self.identical == self.groups

    def note(self) -> str:
        """One sentence for the summaries."""
        if self.groups == 0:
            return "no repeated sample to tell whether the backend is deterministic"
        if self.deterministic:
            return (
                f"deterministic backend: all {self.groups} repeated samples were byte-identical "
                "to the first (temperature 0, a caching gateway or a replayed cache), so "
                "repeats count as one sample and only distinct cases are evidence"
            )
        return (
            f"repeated samples differ ({self.groups - self.identical} of {self.groups} "
            "repeats changed the answer or its score)"
        )


def check_repeats(ctx: RunContext, prompt_ids: list[int]) -> RepeatCheck:
    """Compare the stored samples of each (prompt, case): answer text and overall score."""
    groups = identical = 0
    with ctx.repos() as r:
        for pid in prompt_ids:
            by_case: dict[int, list[tuple[str, float]]] = {}
            for e in r.evaluations.for_prompt(pid):
                by_case.setdefault(int(e.test_case_id), []).append(
                    (e.model_response, round(float(e.overall_score), 9))
                )
            for samples in by_case.values():
                if len(samples) < 2:
                    continue
                groups += 1
                identical += all(s == samples[0] for s in samples[1:])
    return RepeatCheck(groups, identical)
