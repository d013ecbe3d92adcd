"""The offline model simulator: every role of the Messages API, deterministic and fast."""

from __future__ import annotations

from pytest_promptopt.simulator.core import SimulationError, Simulator

__all__ = ["SimulationError", "Simulator"]
