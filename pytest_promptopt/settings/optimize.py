"""The optimization pipeline's settings: each field one `--promptopt-<name>` knob."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.settings.table import knob


@dataclass(frozen=True)
class OptimizeSettings:
    """The knobs of the optimization pipeline."""

    candidates: Annotated[int, knob("candidates", "candidate prompts", 100)] = 6
    quick_tests: Annotated[int, knob("quick_tests", "generated quick cases", 1000)] = 6
    rigorous_tests: Annotated[int, knob("rigorous_tests", "generated rigorous cases", 1000)] = 6
    top_k: Annotated[int, knob("top_k", "candidates kept after quick tests", 100)] = 3
    top_m: Annotated[int, knob("top_m", "candidates refined after rigorous tests", 100)] = 2
    iterations: Annotated[int, knob("iterations", "refinement iterations per track", 100)] = 3
    samples: Annotated[int, knob("samples", "samples per case when scores are close", 50)] = 1

    def __post_init__(self) -> None:
        """Refuse more refined candidates than kept ones."""
        if self.top_m > self.top_k:
            raise ConfigError(
                f"promptopt_top_m ({self.top_m}) cannot exceed promptopt_top_k ({self.top_k})"
            )
