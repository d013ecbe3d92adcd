"""The `--optimize` pipeline: eleven database-first stages that search for a better prompt."""

from __future__ import annotations

from pytest_promptopt.optimize.context import RunContext
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.optimize.pipeline import Pipeline
from pytest_promptopt.optimize.stages.order import default_stages

__all__ = ["OptimizeOutcome", "Pipeline", "RunContext", "default_stages"]
