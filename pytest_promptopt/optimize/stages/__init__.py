"""The eleven pipeline stages."""

from __future__ import annotations

from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.choice import SelectBest
from pytest_promptopt.optimize.stages.evaluation import EvaluateQuick, EvaluateRigorous
from pytest_promptopt.optimize.stages.generation import GeneratePrompts, GenerateTests
from pytest_promptopt.optimize.stages.refinement import Refinement
from pytest_promptopt.optimize.stages.reporting import Reporting, SaveReports
from pytest_promptopt.optimize.stages.selection import SelectTopK, SelectTopM

__all__ = [
    "EvaluateQuick",
    "EvaluateRigorous",
    "GeneratePrompts",
    "GenerateTests",
    "Refinement",
    "Reporting",
    "SaveReports",
    "SelectBest",
    "SelectTopK",
    "SelectTopM",
    "Stage",
]
