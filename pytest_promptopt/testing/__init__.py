"""Offline test helpers: a simulated SDK client, a loopback Messages API server, a scripted fake.

Importing this package stays cheap: the SDK and httpx2 are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.testing.loopback import LoopbackMessagesServer
from pytest_promptopt.testing.scripted import ScriptedCall, ScriptedModel

if TYPE_CHECKING:
    import anthropic

    from pytest_promptopt.simulator.transport import SimulatorTransport

__all__ = [
    "LoopbackMessagesServer",
    "ScriptedCall",
    "ScriptedModel",
    "SimulatorTransport",
    "simulated_client",
]

SIM_API_KEY = "sim-key-not-secret"
SIM_BASE_URL = "http://simulator.invalid"


def __getattr__(name: str) -> Any:
    """Lazy re-export of SimulatorTransport, so importing this module does not import httpx2."""
    if name == "SimulatorTransport":
        from pytest_promptopt.simulator.transport import SimulatorTransport

        return SimulatorTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def simulated_client(**transport_kwargs: Any) -> anthropic.AsyncAnthropic:
    """An AsyncAnthropic client whose requests are answered in-process by the simulator."""
    import anthropic
    import httpx2

    from pytest_promptopt.simulator.transport import SimulatorTransport

    transport = SimulatorTransport(**transport_kwargs)
    return anthropic.AsyncAnthropic(
        api_key=SIM_API_KEY,
        base_url=SIM_BASE_URL,
        http_client=httpx2.AsyncClient(transport=transport),
    )
