"""The Optimize page's data: each suite's lineage tree, the finalists, the winner, the apply."""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pytest_promptopt.records.choice import CHOICE_STAGE, BestChoice

if TYPE_CHECKING:
    from pytest_promptopt.storage import OptimizationRun, Prompt, Repositories


def prompt_diff(parent: str, child: str) -> list[dict[str, str]]:
    """The child's text against its parent's, line by line (`op` is ' ', '+', '-' or '@')."""
    lines = difflib.unified_diff(
        parent.splitlines(), child.splitlines(), "parent", "child", lineterm="", n=2
    )
    out = []
    for line in list(lines)[2:]:  # the two file-name lines say nothing here
        op = line[:1] if line[:1] in "+-@" else " "
        out.append({"op": op, "text": line})
    return out


def _verdicts(summary: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per refined child: kept or rejected, and why (the refinement stage's iterations)."""
    found: dict[int, dict[str, Any]] = {}
    for track in summary.get("tracks") or []:
        for it in track.get("iterations") or []:
            child = it.get("child_prompt_id")
            if isinstance(child, int):
                found[child] = {"kept": bool(it.get("kept")), "reason": it.get("reason") or ""}
    return found


def _node(p: Prompt, weak: dict[int, list[dict[str, Any]]], verdicts: dict[int, Any],
          finalists: dict[int, Any], choice: BestChoice | None) -> dict[str, Any]:  # fmt: skip
    """One candidate of the tree with its scores, the feedback it was written from, its fate."""
    fin = finalists.get(p.id)
    return {
        "id": p.id,
        "parent_id": p.parent_prompt_id,
        "stage": p.stage,
        "strategy": p.strategy,
        "track_id": p.track_id,
        "iteration": p.iteration,
        "original": p.is_original_system_prompt,
        "quick_score": p.quick_score,
        "rigorous_score": p.rigorous_score,
        "average_score": p.average_score,
        "feedback_score": fin.feedback if fin else None,
        "holdout_score": fin.holdout if fin else None,
        "feedback": weak.get(p.parent_prompt_id, []) if p.parent_prompt_id else [],
        "verdict": verdicts.get(p.id),
        "best": choice is not None and choice.best_prompt_id == p.id,
        "winner": choice is not None and choice.winner_prompt_id == p.id,
        "children": [],
    }


def suite_tree(repos: Repositories, run: OptimizationRun, suite: str) -> dict[str, Any]:
    """One suite's candidates as a tree (roots: the original and the generated prompts)."""
    stages = {s.stage: s for s in repos.stage_results.for_run(run.id, suite)}
    choice = BestChoice.parse(stages[CHOICE_STAGE].summary) if CHOICE_STAGE in stages else None
    weak: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for w in repos.weaknesses.for_run(run.id, suite):
        weak[w.prompt_id] += [
            {"title": x.get("title", ""), "detail": x.get("description") or x.get("detail", "")}
            for x in (w.weaknesses or [])
        ]
    refinement = stages.get("refinement")
    verdicts = _verdicts(refinement.summary if refinement else {})
    finalists = {f.prompt_id: f for f in (choice.finalists if choice else [])}
    prompts = repos.prompts.for_suite(run.id, suite)
    nodes = {p.id: _node(p, weak, verdicts, finalists, choice) for p in prompts}
    roots: list[dict[str, Any]] = []
    for p in prompts:
        parent = nodes.get(p.parent_prompt_id) if p.parent_prompt_id else None
        (parent["children"] if parent else roots).append(nodes[p.id])
    apply_on = bool((run.settings or {}).get("apply"))
    changed = choice is not None and choice.best_prompt_id != choice.original_prompt_id
    return {
        "suite": suite,
        "tree": roots,
        "prompts": len(prompts),
        "best_prompt_id": choice.best_prompt_id if choice else None,
        "winner_prompt_id": choice.winner_prompt_id if choice else None,
        "original_prompt_id": choice.original_prompt_id if choice else None,
        "feedback_cases": choice.feedback_cases if choice else 0,
        "holdout_cases": choice.holdout_cases if choice else 0,
        "split_note": choice.split_note if choice else "",
        "gate_verdict": choice.gate_verdict if choice else "",
        "decision": choice.decision if choice else "",
        "apply_requested": apply_on,
        "applied": apply_on and changed and bool(choice and choice.gate_significant),
        "stages": [{"stage": s.stage, "status": s.status,
                    "headline": (s.summary or {}).get("headline", "")} for s in stages.values()],
    }  # fmt: skip


def optimize_data(repos: Repositories, run: OptimizationRun) -> dict[str, Any]:
    """Every optimized suite of the run."""
    suites = [suite_tree(repos, run, name) for name in repos.runs.suites(run.id)]
    return {"run_id": run.id, "mode": run.mode,
            "suites": [s for s in suites if s["prompts"]]}  # fmt: skip


def prompt_data(repos: Repositories, run: OptimizationRun, prompt_id: int) -> dict[str, Any] | None:
    """One candidate's text and its diff against its parent (None: not a prompt of this run)."""
    p = repos.prompts.get(prompt_id)
    if p is None or p.run_id != run.id:
        return None
    parent = repos.prompts.get(p.parent_prompt_id) if p.parent_prompt_id else None
    return {
        "id": p.id,
        "suite": p.suite,
        "parent_id": parent.id if parent else None,
        "text": p.prompt_text,
        "diff": prompt_diff(parent.prompt_text, p.prompt_text) if parent else [],
    }
