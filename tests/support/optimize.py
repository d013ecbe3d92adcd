"""Helpers of the optimize tests: a small suite whose plain prompt misses, a simulator runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.optimize.pipeline import Pipeline
from pytest_promptopt.optimize.stages.order import default_stages
from pytest_promptopt.settings import OptimizeSettings, Settings
from pytest_promptopt.suites.spec import Case, Suite

STAGES = [s.name for s in default_stages()]


def make_suite() -> Suite:
    """A small support-bot suite whose plain prompt misses most expectations."""
    return Suite(
        name="shop_bot",
        description="Customer-support assistant for an online kitchenware shop: refunds, "
        "deliveries and product questions; states the 30-day refund policy.",
        prompt="You are the support assistant of a kitchenware shop.\nBe friendly.",
        threshold=0.7,
        cases=[
            Case(
                id="refund",
                input="I want a refund for order #123, the pan arrived scratched",
                expected="Apologises, states the 30-day refund policy, asks for the order e-mail",
                assertions=({"regex": "30[- ]day"},),  # type: ignore[arg-type]
            ),
            Case(
                id="status",
                input="Where is my order? I ordered a frying pan last week.",
                expected="Asks for the order number to look up the order",
            ),
            Case(
                id="delivery",
                input="How long does delivery take to Germany?",
                expected="Says standard delivery takes 3-5 business days",
            ),
        ],
    )


def make_runtime(tmp: Path, **overrides: Any) -> Runtime:
    """A runtime on a tmp SQLite database and the simulator."""
    settings = Settings(
        rootdir=tmp,
        db_url=f"sqlite:///{tmp}/db.sqlite",
        model="simulated",
        optimize=True,
        report_dir=tmp / "reports",
        knobs=OptimizeSettings(),
        **overrides,
    )
    return Runtime(settings)


def run_pipeline(runtime: Runtime, suite: Suite, run_id: int | None = None) -> OptimizeOutcome:
    """The whole pipeline for one suite on the runtime's loop."""
    ctx = RunContext.from_runtime(runtime, suite, run_id)
    return runtime.loop.run(Pipeline(ctx).run())
