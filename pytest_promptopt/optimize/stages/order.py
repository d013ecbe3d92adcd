"""The eleven pipeline stages in the order they run, and the summary model of each stage name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluate_quick import EvaluateQuick
from pytest_promptopt.optimize.stages.evaluate_rigorous import EvaluateRigorous
from pytest_promptopt.optimize.stages.generation import (
    GeneratePrompts,
    GenerateTestsQuick,
    GenerateTestsRigorous,
)
from pytest_promptopt.optimize.stages.refinement import Refinement
from pytest_promptopt.optimize.stages.report import Reporting, SaveReports
from pytest_promptopt.optimize.stages.select_best import SelectBest
from pytest_promptopt.optimize.stages.select_top_k import SelectTopK
from pytest_promptopt.optimize.stages.select_top_m import SelectTopM
from pytest_promptopt.records.summary import StageSummaryBase, StoredSummary

STAGES: tuple[type[Stage[Any]], ...] = (
    GeneratePrompts,
    GenerateTestsQuick,
    EvaluateQuick,
    SelectTopK,
    GenerateTestsRigorous,
    EvaluateRigorous,
    SelectTopM,
    Refinement,
    SelectBest,
    Reporting,
    SaveReports,
)
"""Every stage class, in pipeline order."""

SUMMARY_MODELS: dict[str, type[StageSummaryBase]] = {s.name: s.summary_model for s in STAGES}
"""Stage name -> the model of its summary, in pipeline order."""


def default_stages() -> list[Stage[Any]]:
    """A fresh instance of every stage, in order."""
    return [stage() for stage in STAGES]


def summary_model(stage: str) -> type[StageSummaryBase]:
    """The model of a stage's summary (`StoredSummary` for a stage not in the pipeline)."""
    return SUMMARY_MODELS.get(stage, StoredSummary)


def parse_summary(stage: str, data: Mapping[str, Any] | None) -> StageSummaryBase:
    """Validate the stored summary of `stage` into its model."""
    return summary_model(stage).parse(data)
