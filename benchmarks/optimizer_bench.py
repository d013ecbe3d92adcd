"""Does `--optimize` mistake noise for progress? Three worlds on the simulator with a noisy judge.

    python benchmarks/optimizer_bench.py               # 40 seeds per world, some minutes
    python benchmarks/optimizer_bench.py --seeds 5     # a smoke run

Every run is the whole pipeline, in this process, on a 10-case suite (4 feedback, 3
selection, 3 confirmation cases) or a 20-case one (8, 6, 6) with small knobs, the simulator
as the model under test, judge and writers, and PROMPTOPT_SIMULATED_JUDGE_NOISE=0.15
(Gaussian noise of that std-dev on every criterion). The seed changes the suite's name,
description and inputs, so the split, the answers and the judge's noise all change with it.

- null world (fresh): every candidate's answers come from the original prompt (the text sent
  is the original plus one neutral line naming the candidate, so answers and the judge's noise
  differ per candidate but no candidate is truly better); the simulator draws fresh noise for
  every sample of a request.
- null world (deterministic): the same, but the same request always gets the same answer and
  verdict, whatever its sample index, as a model at temperature 0, a caching gateway or a
  replayed cache file would give: repeated samples are no new evidence.
  Measured in both: how often `--promptopt-apply` would write a prompt (the confirmation's
  paired gain is significant) and how often the items judge a prompt other than the original
  (noise-chosen). Goal: at most 5% each.
- better world: fresh noise, and every prompt of the `persona` strategy (its refined children
  too) truly scores DELTA higher on every sample. Measured: how often the search's best is a
  persona prompt (found) and how often the confirmation proves it (applied).
- winner's curse: the search's best's mean on the selection cases (where it won) minus its
  mean on the confirmation cases, over runs whose search chose a prompt other than the
  original. The decision uses the confirmation cases.
- calls: model calls per run (all stages), and those of `select_best` (the selection
  evaluation of the finalists, the confirmation of two prompts and the repeat probe).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PROMPTOPT_SIMULATED_JUDGE_NOISE", "0.15")

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.pipeline import Pipeline
from pytest_promptopt.optimize.progress import Progress
from pytest_promptopt.settings import OptimizeSettings, Settings
from pytest_promptopt.simulator.core import Simulator
from pytest_promptopt.suites.spec import Case, Suite

BETTER = "persona"
DELTA = 0.1
KNOBS = OptimizeSettings(
    candidates=4, quick_tests=3, rigorous_tests=3, top_k=2, top_m=1, iterations=2, samples=1
)
#: name -> (given cases, --promptopt-samples): 3 and 6 cases each for selection and confirmation.
SETTINGS = {"10 cases, samples 1": (10, 1), "20 cases, samples 2": (20, 2)}
WORLDS = ("null", "null-deterministic", "better")
_RESPOND = Simulator.respond


def _same_for_every_sample(
    self: Simulator, method: str, path: str, raw: bytes, *, sample: int = 0
) -> Any:
    """The simulator as a deterministic backend: the sample index changes nothing."""
    return _RESPOND(self, method, path, raw, sample=0)


PROMPT = (
    "You are the support assistant of a kitchenware shop. When a customer asks for a refund, "
    "apologise and state the 30-day refund policy."
)
REFUND = "Apologises and states the 30-day refund policy"
DELIVERY = "Says delivery takes 3-5 business days"
TOPICS = [
    ("refund", "I want a refund for my {item}, it arrived {damage}", REFUND),
    ("refund", "Can I return the {item}? It is {damage}", REFUND),
    ("refund", "My {item} is {damage}, money back please", REFUND),
    ("refund", "The {item} came {damage}. What now?", REFUND),
    ("delivery", "How long does delivery of a {item} to {city} take?", DELIVERY),
    ("delivery", "When will my {item} reach {city}?", DELIVERY),
    ("delivery", "Shipping time for a {item} to {city}?", DELIVERY),
    ("product", "Is the {item} dishwasher safe?", "Answers whether the product is dishwasher safe"),
    ("product", "What is the {item} made of?", "Names the material of the product"),
    ("product", "Does the {item} work on induction?", "Says whether it works on induction hobs"),
]
ITEMS = ["pan", "wok", "kettle", "knife", "pot", "grater", "whisk", "skillet", "ladle", "sieve"]
DAMAGES = ["scratched", "dented", "broken", "cracked", "bent"]
CITIES = ["Lyon", "Graz", "Porto", "Ghent", "Turin", "Bergen", "Krakow", "Aarhus"]


def make_suite(seed: int, size: int) -> Suite:
    """The seed's suite of `size` cases: the ten topics in turn, other products and cities."""
    cases = []
    for n in range(size):
        category, text, expected = TOPICS[n % len(TOPICS)]
        values = {
            "item": ITEMS[(seed + 3 * n) % len(ITEMS)],
            "damage": DAMAGES[(seed + n) % len(DAMAGES)],
            "city": CITIES[(seed * 7 + n) % len(CITIES)],
        }
        cases.append(
            Case(
                id=f"{category}-{n}",
                category=category,
                input=text.format(**values) + (f" (order {seed}{n})" if n >= len(TOPICS) else ""),
                expected=expected,
            )
        )
    return Suite(
        name=f"bench_{seed}",
        description=f"Support assistant of kitchenware shop number {seed}.",
        prompt=PROMPT,
        threshold=0.7,
        cases=cases,
    )


class WorldEvaluator:
    """The runtime's evaluator, answering every candidate as the original would (the worlds)."""

    def __init__(self, inner: Any, ctx: RunContext, world: str) -> None:
        self.inner, self.ctx, self.world = inner, ctx, world
        self.strategies: dict[str, str | None] = {}

    def strategy(self, text: str) -> str | None:
        """The strategy of the stored prompt with this text (refined children inherit it)."""
        if text not in self.strategies:
            with self.ctx.repos() as r:
                for p in r.prompts.for_suite(self.ctx.run_id, self.ctx.suite.name):
                    self.strategies[p.prompt_text] = p.strategy
        return self.strategies.get(text)

    async def evaluate(self, suite: Suite, prompt_text: str, case: Case, **kwargs: Any) -> Any:
        """The original's answer distribution, with a line naming the candidate; +DELTA for
        the truly better strategy in the better world."""
        tag = hashlib.sha256(prompt_text.encode()).hexdigest()[:8]
        sent = f"{PROMPT}\nAlways mention reference {tag}."
        result = await self.inner.evaluate(suite, sent, case, **kwargs)
        if self.world == "better" and self.strategy(prompt_text) == BETTER:
            for sample in result.samples:
                sample.overall_score = min(1.0, sample.overall_score + DELTA)
        return result


def one_run(seed: int, world: str, setting: str, root: Path) -> dict[str, Any]:
    """One pipeline run; what its select_best stage decided and what it cost."""
    size, samples = SETTINGS[setting]
    folder = root / f"{world}-{size}-{samples}-{seed}"
    folder.mkdir()
    settings = Settings(
        rootdir=folder,
        db_url=f"sqlite:///{folder}/db.sqlite",
        model="simulated",
        optimize=True,
        report_dir=folder / "reports",
        concurrency=16,
        knobs=dataclasses.replace(KNOBS, samples=samples),
    )
    runtime = Runtime(settings)
    Simulator.respond = _same_for_every_sample if world == "null-deterministic" else _RESPOND  # type: ignore[method-assign]
    try:
        ctx = RunContext.from_runtime(runtime, make_suite(seed, size))
        ctx.evaluator = WorldEvaluator(runtime.evaluator, ctx, world)  # type: ignore[assignment]
        outcome = runtime.loop.run(Pipeline(ctx, progress=Progress(None)).run())
        with ctx.repos() as r:
            rows = {row.stage: row for row in r.stage_results.for_run(ctx.run_id, ctx.suite.name)}
            choice = dict(rows["select_best"].summary)
            winner = choice.get("winner_prompt_id") or outcome.original_prompt_id
            best = r.prompts.get(winner)
        return {
            "seed": seed,
            "world": world,
            "original": winner == outcome.original_prompt_id,
            "judged_other": outcome.best_prompt_id != outcome.original_prompt_id,
            "strategy": best.strategy if best is not None else None,
            "deterministic": choice.get("deterministic"),
            "applied": bool(choice.get("significant")),
            "gain": choice.get("gain"),
            "winners_curse": choice.get("winners_curse"),
            "calls": runtime.budget.calls,
            "select_best_calls": choice.get("calls", 0),
            "error": outcome.error,
        }
    finally:
        Simulator.respond = _RESPOND  # type: ignore[method-assign]
        runtime.close("passed")


def rate(runs: list[dict[str, Any]], key: str) -> float:
    """The share of runs where `key` is true."""
    return sum(bool(r[key]) for r in runs) / len(runs) if runs else 0.0


def summarise(world: str, setting: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rates, winner's curse and calls of one world under one setting."""
    chosen = [r for r in runs if not r["original"]]
    curse = [r["winners_curse"] for r in chosen if r["winners_curse"] is not None]
    found = [r for r in runs if r["strategy"] == BETTER]
    return {
        "world": world,
        "setting": setting,
        "runs": len(runs),
        "errors": sum(r["error"] is not None for r in runs),
        "chose_other_than_original": 1 - rate(runs, "original") if runs else 0.0,
        "judged_other_rate": rate(runs, "judged_other"),
        "detected_deterministic_rate": rate(runs, "deterministic"),
        "apply_rate": rate(runs, "applied"),
        "found_rate": len(found) / len(runs) if runs else 0.0,
        "found_and_applied_rate": (
            sum(r["applied"] and r["strategy"] == BETTER for r in runs) / len(runs) if runs else 0.0
        ),
        "winners_curse_mean": statistics.fmean(curse) if curse else None,
        "winners_curse_runs": len(curse),
        "calls_mean": statistics.fmean(r["calls"] for r in runs) if runs else 0,
        "select_best_calls_mean": (
            statistics.fmean(r["select_best_calls"] or 0 for r in runs) if runs else 0
        ),
    }


def main() -> int:
    """Run both worlds under each setting over the seeds; print (and write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--setting", choices=[*SETTINGS, "all"], default="all")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = list(SETTINGS) if args.setting == "all" else [args.setting]
    results: dict[str, Any] = {
        "noise": float(os.environ["PROMPTOPT_SIMULATED_JUDGE_NOISE"]),
        "delta": DELTA,
        "knobs": dataclasses.asdict(KNOBS),
        "seeds": args.seeds,
        "worlds": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            for world in WORLDS:
                runs = [one_run(seed, world, setting, Path(tmp)) for seed in range(args.seeds)]
                results["worlds"].append({**summarise(world, setting, runs), "per_run": runs})
    results["seconds"] = round(time.perf_counter() - started, 1)
    for w in results["worlds"]:
        curse = w["winners_curse_mean"]
        print(
            f"{w['setting']}, {w['world']} world, {w['runs']} seeds: "
            f"apply rate {w['apply_rate']:.1%}"
            + (
                f", persona chosen {w['found_rate']:.1%}, chosen and applied "
                f"{w['found_and_applied_rate']:.1%}"
                if w["world"] == "better"
                else f", items judge a noise-chosen prompt {w['judged_other_rate']:.1%} "
                "(goals <= 5%)"
            )
            + f", the search chose a non-original {w['chose_other_than_original']:.1%}"
            + f", deterministic backend detected {w['detected_deterministic_rate']:.0%}"
            + f"; winner's curse {'-' if curse is None else f'{curse:+.3f}'}"
            + f" over {w['winners_curse_runs']} runs"
            + f"; calls/run {w['calls_mean']:.0f} (select_best {w['select_best_calls_mean']:.0f})"
            + (f"; {w['errors']} runs errored" if w["errors"] else "")
        )
    print(f"judge noise {results['noise']}, delta {DELTA}, {results['seconds']}s")
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2, default=str))
    nulls = [w for w in results["worlds"] if w["world"].startswith("null")]
    ok = all(w["apply_rate"] <= 0.05 and w["judged_other_rate"] <= 0.05 for w in nulls)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
