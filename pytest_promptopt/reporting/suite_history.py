"""A suite's history for `promptopt plan`: the spread of its per-case changes between its runs.

The newest HISTORY_RUNS runs that judged the suite (up to a given run) are read back as
`judged_results` (the prompt each run's items judged, one row per given case). Consecutive runs
make pairs; each pair's per-case score changes, centred on the pair's mean change, are pooled
into one standard deviation (`stats.plan.Spread.sd`), and the clustered design effect of the
pairs is averaged. The spread of the samples within a case (cases that took several samples,
`repeats`) is pooled over the runs. `stats.plan` says what that spread means.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.reporting.baseline import judged_results
from pytest_promptopt.stats import RULES
from pytest_promptopt.stats.clusters import OWN, design_effect, is_clustered
from pytest_promptopt.stats.plan import Spread

if TYPE_CHECKING:
    from pytest_promptopt.storage import Repositories

HISTORY_RUNS = 6
"""The newest runs of a suite its plan reads."""
SCANNED_RUNS = 500
"""The newest runs looked through for those that judged the suite."""


@dataclass
class SuiteHistory:
    """What a suite's newest runs say about its noise (spread None: too thin to say)."""

    suite: str
    runs: list[int] = field(default_factory=list)
    cases: int = 0
    pairs: int = 0
    paired_cases: int = 0
    within_sd: float | None = None
    spread: Spread | None = None
    source: str = ""
    thin: str | None = None


def _within_sd(repos: Repositories, run_id: int, suite: str, prompt_id: int) -> list[list[float]]:
    """The sample scores of each given case of `suite` the run's chosen prompt judged."""
    cases = {c.id for c in repos.test_cases.for_run(run_id, stage="given") if c.suite == suite}
    grouped: dict[int, list[float]] = {}
    for ev in repos.evaluations.for_run(run_id):
        if ev.prompt_id == prompt_id and ev.test_case_id in cases:
            grouped.setdefault(ev.test_case_id, []).append(float(ev.overall_score))
    return list(grouped.values())


def _pooled_sd(groups: list[list[float]]) -> float | None:
    """The pooled within-group standard deviation (None without a group of 2)."""
    squares = sum(sum((v - statistics.fmean(g)) ** 2 for v in g) for g in groups if len(g) > 1)
    df = sum(len(g) - 1 for g in groups if len(g) > 1)
    return math.sqrt(squares / df) if df else None


def suite_history(repos: Repositories, suite: str, up_to: int | None = None) -> SuiteHistory:
    """The history of `suite` in its newest runs up to run `up_to` (None: the newest)."""
    found = SuiteHistory(suite)
    judged: list[tuple[int, dict[str, Any]]] = []
    for run in repos.runs.list_recent(SCANNED_RUNS):
        if (up_to is not None and run.id > up_to) or suite not in repos.runs.suites(run.id):
            continue
        result = judged_results(repos, run.id).get(suite)
        if result and result["cases"]:
            judged.append((run.id, result))
        if len(judged) == HISTORY_RUNS:
            break
    found.runs = [run_id for run_id, _ in judged]
    if not judged:
        found.thin = f"no run judged suite {suite!r}" + (f" up to run {up_to}" if up_to else "")
        return found
    newest = judged[0][1]["cases"]
    found.cases = len(newest)
    samples = max(1, round(statistics.median(r["samples"] for r in newest)))
    groups = [g for run_id, r in judged for g in _within_sd(repos, run_id, suite, r["prompt_id"])]
    found.within_sd = _pooled_sd(groups)
    squares, df, effects = 0.0, 0, []
    for (_, newer), (_, older) in itertools.pairwise(judged):
        before = {r["case_key"]: r for r in older["cases"]}
        shared = [r for r in newer["cases"] if r["case_key"] in before]
        if len(shared) < 2:
            continue
        deltas = [r["score"] - before[r["case_key"]]["score"] for r in shared]
        labels = [r.get("cluster") or f"{OWN}{r['case_key']}" for r in shared]
        mean = statistics.fmean(deltas)
        squares += sum((d - mean) ** 2 for d in deltas)
        df += len(deltas) - 1
        found.pairs += 1
        found.paired_cases += len(deltas)
        effect = design_effect(deltas, labels) if is_clustered(labels) else None
        effects += [(effect, len(deltas))] if effect is not None else []
    deff = sum(e * n for e, n in effects) / sum(n for _, n in effects) if effects else 1.0
    if found.paired_cases >= RULES["baseline"].min_cases and df:
        found.spread = Spread(math.sqrt(squares / df), samples, found.within_sd, deff)
        found.source = f"the per-case changes between {found.pairs + 1} runs"
        if found.within_sd is not None:
            found.source += " and the spread of samples within a case"
    elif found.within_sd is not None:
        sd = math.sqrt(2 * found.within_sd**2 / samples)
        found.spread = Spread(sd, samples, found.within_sd, 1.0)
        found.source = "the spread of samples within a case (one run: no run-to-run changes yet)"
    else:
        found.thin = (
            f"suite {suite!r} has {len(judged)} run{'s' * (len(judged) != 1)} with "
            f"{found.paired_cases} paired cases and no case took 2 samples: run it again "
            "(or with `repeats: 2`) so its noise can be measured"
        )
    return found
